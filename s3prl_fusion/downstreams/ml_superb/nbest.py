"""The dev evaluations whose checkpoints ESPnet's recipe would keep: the n best by dev loss.

ESPnet's ML-SUPERB recipe (``conf/tuning/train_asr_s3prl_1h.yaml``: ``best_model_criterion``
valid / loss / min, ``keep_nbest_models: 5``) validates once per epoch and keeps the five
epochs of lowest validation loss; ``run_mono.sh`` / ``run_multi.sh`` decode
``valid.loss.ave.pth``, the average of those five models. Here each dev evaluation of s3prl's
runner is ranked by its dev loss, and one that ranks among the n best is saved as
``dev-loss-step-<step>.ckpt`` through the runner's ``save_names``; ``average.py`` averages them.
"""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from pathlib import Path

from s3prl_fusion.experiments.checkpoints import checkpoint_step
from s3prl_fusion.errors import SettingError

DEFAULT_NBEST = 5
CHECKPOINT_PATTERN = re.compile(r"dev-loss-step-(\d+)\.ckpt")


def checkpoint_name(step: int) -> str:
    """The file name of the checkpoint of the dev evaluation at ``step``."""
    return f"dev-loss-step-{step}.ckpt"


def dev_loss_checkpoint_step(path: str | Path) -> int | None:
    """The step in a ``dev-loss-step-<step>.ckpt`` file name, None for any other file."""
    return checkpoint_step(path, CHECKPOINT_PATTERN)


def ranked_checkpoint_files(folder: str | Path) -> list[Path]:
    """Every ``dev-loss-step-<step>.ckpt`` in ``folder``, oldest step first."""
    files = [path for path in Path(folder).iterdir() if dev_loss_checkpoint_step(path) is not None]
    return sorted(files, key=dev_loss_checkpoint_step)


@dataclass(frozen=True)
class DevEvaluation:
    """One dev evaluation: the optimizer step it followed and its loss (mean per utterance)."""

    step: int
    loss: float


class DevLossRanking:
    """The ``nbest`` dev evaluations of lowest loss so far (ties: the earlier step first)."""

    def __init__(self, nbest: int = DEFAULT_NBEST, evaluations: list[DevEvaluation] | None = None):
        if nbest < 1:
            raise SettingError(f"downstream_expert.keep_nbest_models must be at least 1, got {nbest}")
        self.nbest = nbest
        self.evaluations = sorted(evaluations or [], key=lambda evaluation: (evaluation.loss, evaluation.step))[:nbest]

    def add(self, evaluation: DevEvaluation) -> bool:
        """Rank ``evaluation``; True when it is among the n best (its checkpoint is to be kept)."""
        others = [kept for kept in self.evaluations if kept.step != evaluation.step]
        self.evaluations = sorted([*others, evaluation], key=lambda kept: (kept.loss, kept.step))[: self.nbest]
        return evaluation in self.evaluations

    @property
    def steps(self) -> set[int]:
        return {evaluation.step for evaluation in self.evaluations}

    def state(self) -> list[dict]:
        return [asdict(evaluation) for evaluation in self.evaluations]

    @classmethod
    def from_state(cls, nbest: int, state: list[dict]) -> "DevLossRanking":
        return cls(nbest, [DevEvaluation(int(entry["step"]), float(entry["loss"])) for entry in state])
