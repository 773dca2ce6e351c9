"""ML-SUPERB ASR as an s3prl downstream expert (Mono-1h pairs or Multi-1h).

Config (``downstream_expert`` in the task YAML):

``datarc``
    ``root`` ML-SUPERB folder holding ``{dataset}/{lang}/``; ``mode`` ``mono`` | ``multi``;
    ``language`` Mono-1h name (``eng1`` ... ``xty``, mono only); ``train_set`` ``1h`` |
    ``10min``; ``batch_size``; ``eval_batch_size``; ``num_workers``.
``modelrc``
    keyword arguments of :class:`MlSuperbCtcModel` (``project_dim``, ``utterance_mvn``,
    ``specaug``, ``encoder``).
``keep_nbest_models``
    how many dev evaluations of lowest dev loss keep a checkpoint (default 5, ESPnet's).

Model selection during training (``-m train``), at every dev evaluation: the dev loss (CTC
loss per utterance, ESPnet's ``valid loss``) is ranked, and an evaluation among the
``keep_nbest_models`` best is saved as ``dev-loss-step-<step>.ckpt`` (checkpoints that fell
out of the ranking are deleted at the next dev evaluation, once the newer one is on disk);
``average.py`` averages them into the checkpoint ESPnet's recipe decodes. The dev-best
checkpoint by error rate is saved as ``dev-best.ckpt`` as well.

Splits: ``train``, ``dev``, ``test``; under DDP the ``train`` batches are sharded across
the ranks. The vocabulary is built from the training
transcripts once and saved as ``{expdir}/ml_superb_vocabulary.json``; a later run in the
same expdir (resume, evaluate) loads that file. Dev / test evaluation writes
``{expdir}/{split}-hyp.txt``, ``{split}-ref.txt`` (``<utterance id> <text>``), the scored tokens
as ``{split}-hyp.trn``, ``{split}-ref.trn`` (``trn.py``: ESPnet's sclite form, with each
utterance's language) and ``{split}-results.json``.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import torch
import torch.distributed as dist
from torch import nn

from s3prl_fusion.downstreams.ml_superb.benchmark import RESERVED_LANGUAGES
from s3prl_fusion.downstreams.ml_superb.corpus import MlSuperbCorpus, MlSuperbDataError
from s3prl_fusion.downstreams.ml_superb.dataset import MlSuperbDataset, make_dataloader
from s3prl_fusion.downstreams.ml_superb.model import MlSuperbCtcModel
from s3prl_fusion.downstreams.ml_superb.nbest import (
    DEFAULT_NBEST,
    DevEvaluation,
    DevLossRanking,
    checkpoint_name,
    dev_loss_checkpoint_step,
    ranked_checkpoint_files,
)
from s3prl_fusion.downstreams.ml_superb.scoring import ScoredUtterance, score
from s3prl_fusion.downstreams.ml_superb.text import Tokenizer, Vocabulary
from s3prl_fusion.downstreams.ml_superb.trn import TrnEntry, write_trn

TASK_NAME = "ml_superb"
DEV_BEST_BY_ERROR_RATE = "dev-best.ckpt"


def few_shot_group(language: str) -> str:
    """``reserved`` for the 20 few-shot languages of Multi-1h, ``trained`` otherwise."""
    return "reserved" if language in RESERVED_LANGUAGES else "trained"


class DownstreamExpert(nn.Module):
    """s3prl expert: ``get_dataloader``, ``forward`` returning the CTC loss, ``log_records``."""

    def __init__(self, upstream_dim: int, upstream_rate: int, downstream_expert: dict, expdir: str, **kwargs):
        super().__init__()
        self.datarc = dict(downstream_expert.get("datarc") or {})
        if not self.datarc.get("root"):
            raise MlSuperbDataError(
                "downstream_expert.datarc.root is not set; point it at the ML-SUPERB folder holding {dataset}/{lang}/"
            )
        self.expdir = Path(expdir)
        self.seed = kwargs.get("seed", 1337)
        self.training_run = kwargs.get("mode", "train") == "train"
        self.checkpoint = kwargs.get("init_ckpt")
        self.dev_loss_ranking = DevLossRanking(int(downstream_expert.get("keep_nbest_models", DEFAULT_NBEST)))
        self.last_dev_evaluation: DevEvaluation | None = None
        self.corpus = MlSuperbCorpus(
            root=self.datarc["root"],
            mode=self.datarc.get("mode", "mono"),
            language=self.datarc.get("language"),
            train_set=str(self.datarc.get("train_set", "1h")),
        )
        self.tokenizer = Tokenizer(self.corpus.unit)
        self.vocabulary = self._load_or_build_vocabulary()
        self.model = MlSuperbCtcModel(upstream_dim, len(self.vocabulary), **(downstream_expert.get("modelrc") or {}))
        self.register_buffer("best_score", torch.full((1,), math.inf))
        self._datasets: dict[str, MlSuperbDataset] = {}

    def _load_or_build_vocabulary(self) -> Vocabulary:
        path = self.expdir / Vocabulary.FILE_NAME
        if path.is_file():
            vocabulary = Vocabulary.load(path)
            if vocabulary.unit != self.corpus.unit:
                raise MlSuperbDataError(
                    f"{path} holds {vocabulary.unit} tokens but this config trains on {self.corpus.unit} tokens; "
                    "use a fresh expdir (-n / -p) for a different downstream_expert.datarc.mode or language"
                )
            return vocabulary
        training_tokens = (self.tokenizer.tokens(utterance.text) for utterance in self.corpus.utterances("train"))
        vocabulary = Vocabulary.build(self.corpus.unit, training_tokens)
        vocabulary.save(self.expdir)
        return vocabulary

    def get_dataloader(self, split: str, epoch: int = 0):
        """Batches of ``([waveform, ...], [label ids, ...], [Utterance, ...])``."""
        if split not in self._datasets:
            self._datasets[split] = MlSuperbDataset(self.corpus.utterances(split), self.tokenizer, self.vocabulary)
        training = split == "train"
        sharded = training and dist.is_initialized()
        return make_dataloader(
            self._datasets[split],
            batch_size=int(self.datarc.get("batch_size", 8) if training else self.datarc.get("eval_batch_size", 1)),
            num_workers=int(self.datarc.get("num_workers", 0)),
            shuffle_seed=self.seed + epoch if training else None,
            rank=dist.get_rank() if sharded else 0,
            world_size=dist.get_world_size() if sharded else 1,
        )

    def get_extra_state(self) -> dict:
        """The dev-loss ranking, and the dev evaluation this state follows (read by ``average.py``)."""
        last = self.last_dev_evaluation
        return {
            "dev_loss_ranking": self.dev_loss_ranking.state(),
            "last_dev_evaluation": None if last is None else {"step": last.step, "loss": last.loss},
        }

    def set_extra_state(self, state: dict) -> None:
        self.dev_loss_ranking = DevLossRanking.from_state(self.dev_loss_ranking.nbest, state["dev_loss_ranking"])
        last = state.get("last_dev_evaluation")
        self.last_dev_evaluation = None if last is None else DevEvaluation(int(last["step"]), float(last["loss"]))

    def forward(self, split: str, features, labels, utterances, records, **kwargs) -> torch.Tensor:
        """features: list of (T_i, upstream_dim) tensors; returns the batch's CTC loss."""
        log_probs, lengths = self.model(features)
        loss = self.model.ctc_loss(log_probs, lengths, labels)
        records["loss"].append(loss.item())
        records["batch_size"].append(len(features))
        if split != "train":
            hypotheses = self.model.greedy_decode(log_probs.detach(), lengths)
            for hypothesis_ids, utterance in zip(hypotheses, utterances):
                records["scored"].append(
                    ScoredUtterance(
                        hypothesis=self.vocabulary.decode(hypothesis_ids),
                        reference=self.tokenizer.tokens(utterance.text),
                        language=utterance.language,
                        source=utterance.source,
                    )
                )
                records["utterance_ids"].append(utterance.utt_id)
        return loss

    def log_records(self, split, records, logger, global_step, batch_ids=None, total_batch_num=None, **kwargs):
        """Logs loss (and error rate off train). In training, a dev evaluation returns the
        checkpoints to save: ``dev-loss-step-<step>.ckpt`` when its loss ranks among the n
        best, ``dev-best.ckpt`` when its error rate is the best so far."""
        if split == "train":
            loss = sum(records["loss"]) / max(len(records["loss"]), 1)
            logger.add_scalar(f"{TASK_NAME}/{split}-loss", loss, global_step=global_step)
            return []
        # the mean over utterances, as ESPnet weights each validation batch by its size
        loss = sum(l * n for l, n in zip(records["loss"], records["batch_size"])) / max(sum(records["batch_size"]), 1)
        logger.add_scalar(f"{TASK_NAME}/{split}-loss", loss, global_step=global_step)

        metric = self.corpus.metric
        results = score(records["scored"], few_shot_group if self.corpus.mode == "multi" else None)
        error_rate = results["overall"]["error_rate"]
        logger.add_scalar(f"{TASK_NAME}/{split}-{metric}", error_rate, global_step=global_step)
        print(f"[{TASK_NAME}] {split} loss {loss:.4f} {metric.upper()} {error_rate:.2f}")
        self._write_transcripts(split, records)
        self._write_results(split, results, loss, global_step)

        if split != "dev" or not self.training_run:
            return []
        save_names = self._rank_by_dev_loss(DevEvaluation(int(global_step), float(loss)))
        if error_rate < self.best_score.item():
            self.best_score.fill_(error_rate)
            save_names.append(DEV_BEST_BY_ERROR_RATE)
        return save_names

    def _rank_by_dev_loss(self, evaluation: DevEvaluation) -> list[str]:
        """Rank a dev evaluation; the checkpoint names to save for it.

        Files of evaluations no longer ranked go first: the runner has finished writing every
        checkpoint returned before, so the n best stay on disk throughout."""
        for path in ranked_checkpoint_files(self.expdir):
            if dev_loss_checkpoint_step(path) not in self.dev_loss_ranking.steps:
                path.unlink(missing_ok=True)
        self.last_dev_evaluation = evaluation
        if not self.dev_loss_ranking.add(evaluation):
            return []
        print(f"[{TASK_NAME}] dev loss {evaluation.loss:.4f} at step {evaluation.step} ranks among the "
              f"{self.dev_loss_ranking.nbest} best: saving {checkpoint_name(evaluation.step)}")
        return [checkpoint_name(evaluation.step)]

    def _write_transcripts(self, split: str, records) -> None:
        self.expdir.mkdir(parents=True, exist_ok=True)
        with open(self.expdir / f"{split}-hyp.txt", "w", encoding="utf-8") as hyp_file, open(
            self.expdir / f"{split}-ref.txt", "w", encoding="utf-8"
        ) as ref_file:
            for utt_id, scored in zip(records["utterance_ids"], records["scored"]):
                hyp_file.write(f"{utt_id} {self.tokenizer.text(scored.hypothesis)}\n")
                ref_file.write(f"{utt_id} {self.tokenizer.text(scored.reference)}\n")
        for name, side in (("hyp", "hypothesis"), ("ref", "reference")):
            entries = (
                TrnEntry(utt_id, scored.language, tuple(getattr(scored, side)))
                for utt_id, scored in zip(records["utterance_ids"], records["scored"])
            )
            write_trn(self.expdir / f"{split}-{name}.trn", entries)

    def _write_results(self, split: str, results: dict, loss: float, global_step: int) -> None:
        summary = {
            "task": TASK_NAME,
            "split": split,
            "mode": self.corpus.mode,
            "language": self.corpus.language,
            "train_set": self.corpus.train_set,
            "metric": self.corpus.metric,
            "global_step": global_step,
            "checkpoint": self.checkpoint,
            "loss": loss,
            **results,
        }
        path = self.expdir / f"{split}-results.json"
        path.write_text(json.dumps(summary, ensure_ascii=False, indent=2), encoding="utf-8")
