"""ML-SUPERB ASR as an s3prl downstream expert (Mono-1h pairs or Multi-1h).

Config (``downstream_expert`` in the task YAML):

``datarc``
    ``root`` ML-SUPERB folder holding ``{dataset}/{lang}/``; ``mode`` ``mono`` | ``multi``;
    ``language`` Mono-1h name (``eng1`` ... ``xty``, mono only); ``train_set`` ``1h`` |
    ``10min``; ``batch_size``; ``eval_batch_size``; ``num_workers``.
``modelrc``
    keyword arguments of :class:`MlSuperbCtcModel` (``project_dim``, ``utterance_mvn``,
    ``specaug``, ``encoder``).

Splits: ``train``, ``dev``, ``test``. The vocabulary is built from the training
transcripts once and saved as ``{expdir}/ml_superb_vocabulary.json``; a later run in the
same expdir (resume, evaluate) loads that file. Dev / test evaluation writes
``{expdir}/{split}-hyp.txt``, ``{split}-ref.txt`` and ``{split}-results.json``.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import torch
from torch import nn

from s3prl_fusion.downstreams.ml_superb.benchmark import RESERVED_LANGUAGES
from s3prl_fusion.downstreams.ml_superb.corpus import MlSuperbCorpus, MlSuperbDataError
from s3prl_fusion.downstreams.ml_superb.dataset import MlSuperbDataset, make_dataloader
from s3prl_fusion.downstreams.ml_superb.model import MlSuperbCtcModel
from s3prl_fusion.downstreams.ml_superb.scoring import ScoredUtterance, score
from s3prl_fusion.downstreams.ml_superb.text import Tokenizer, Vocabulary

TASK_NAME = "ml_superb"


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
        return make_dataloader(
            self._datasets[split],
            batch_size=int(self.datarc.get("batch_size", 8) if training else self.datarc.get("eval_batch_size", 1)),
            num_workers=int(self.datarc.get("num_workers", 0)),
            shuffle_seed=self.seed + epoch if training else None,
        )

    def forward(self, split: str, features, labels, utterances, records, **kwargs) -> torch.Tensor:
        """features: list of (T_i, upstream_dim) tensors; returns the batch's CTC loss."""
        log_probs, lengths = self.model(features)
        loss = self.model.ctc_loss(log_probs, lengths, labels)
        records["loss"].append(loss.item())
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
        """Logs loss (and error rate off train); returns ``['dev-best.ckpt']`` when dev improves."""
        loss = sum(records["loss"]) / max(len(records["loss"]), 1)
        logger.add_scalar(f"{TASK_NAME}/{split}-loss", loss, global_step=global_step)
        if split == "train":
            return []

        metric = self.corpus.metric
        results = score(records["scored"], few_shot_group if self.corpus.mode == "multi" else None)
        error_rate = results["overall"]["error_rate"]
        logger.add_scalar(f"{TASK_NAME}/{split}-{metric}", error_rate, global_step=global_step)
        print(f"[{TASK_NAME}] {split} loss {loss:.4f} {metric.upper()} {error_rate:.2f}")
        self._write_transcripts(split, records)
        self._write_results(split, results, loss, global_step)

        if split == "dev" and error_rate < self.best_score.item():
            self.best_score.fill_(error_rate)
            return ["dev-best.ckpt"]
        return []

    def _write_transcripts(self, split: str, records) -> None:
        self.expdir.mkdir(parents=True, exist_ok=True)
        with open(self.expdir / f"{split}-hyp.txt", "w", encoding="utf-8") as hyp_file, open(
            self.expdir / f"{split}-ref.txt", "w", encoding="utf-8"
        ) as ref_file:
            for utt_id, scored in zip(records["utterance_ids"], records["scored"]):
                hyp_file.write(f"{utt_id} {self.tokenizer.text(scored.hypothesis)}\n")
                ref_file.write(f"{utt_id} {self.tokenizer.text(scored.reference)}\n")

    def _write_results(self, split: str, results: dict, loss: float, global_step: int) -> None:
        summary = {
            "task": TASK_NAME,
            "split": split,
            "mode": self.corpus.mode,
            "language": self.corpus.language,
            "train_set": self.corpus.train_set,
            "metric": self.corpus.metric,
            "global_step": global_step,
            "loss": loss,
            **results,
        }
        path = self.expdir / f"{split}-results.json"
        path.write_text(json.dumps(summary, ensure_ascii=False, indent=2), encoding="utf-8")
