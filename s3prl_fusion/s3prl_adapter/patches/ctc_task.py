"""Fixes of s3prl's ``ctc`` task (SUPERB phone recognition and slot filling), applied when
``s3prl.downstream.ctc.data`` is first imported (``hooks.py``), after ``CTC_DATA_TARGETS`` are checked.

- The s3prl wheel lacks the ``ctc/corpus/`` folder ``create_dataset`` imports its readers from:
  when it is missing, the plugin's ``libriphone`` and ``snips`` readers
  (``s3prl_fusion.downstreams.ctc_corpora``) are registered as ``s3prl.downstream.ctc.corpus.<name>``.
- ``load_dataset`` pops ``num_workers`` from the task config on its first call, so every later
  loader (dev, test, and every loader of ``-m evaluate``) ran with its default of 12 workers whatever
  the config said: it is given a copy of the config instead.
"""
from __future__ import annotations

import importlib.util
import sys
import types

from s3prl_fusion.downstreams.ctc_corpora import libriphone, snips
from s3prl_fusion.s3prl_adapter.internals.targets import PatchTarget, check_targets

CTC_DATA = "s3prl.downstream.ctc.data"
CORPUS_PACKAGE = "s3prl.downstream.ctc.corpus"
READERS = {"libriphone": libriphone, "snips": snips}
CTC_DATA_TARGETS = (
    PatchTarget("the config's num_workers kept for every loader", CTC_DATA, "load_dataset", ("split", "tokenizer", "corpus"),
                source_contains=("corpus.pop('num_workers', 12)",)),
    PatchTarget("the plugin's libriphone / snips readers where the wheel lacks ctc/corpus/", CTC_DATA, "create_dataset",
                ("split", "tokenizer", "name", "bucketing", "batch_size", "kwargs"),
                source_contains=("from .corpus.libriphone import LibriPhoneDataset", "from .corpus.snips import SnipsDataset")),
)


def register_corpus_readers() -> None:
    """``s3prl.downstream.ctc.corpus.{libriphone,snips}`` as the plugin's readers, unless s3prl has the folder."""
    if CORPUS_PACKAGE in sys.modules or importlib.util.find_spec(CORPUS_PACKAGE) is not None:
        return
    package = types.ModuleType(CORPUS_PACKAGE, "s3prl's ctc corpus readers, from s3prl_fusion.downstreams.ctc_corpora")
    package.__path__ = []
    for name, reader in READERS.items():
        setattr(package, name, reader)
        sys.modules[f"{CORPUS_PACKAGE}.{name}"] = reader
    sys.modules[CORPUS_PACKAGE] = package


def patch_ctc_data(data_module) -> None:
    if getattr(data_module, "_s3prl_fusion_patched", False):
        return
    check_targets(data_module, CTC_DATA_TARGETS)
    register_corpus_readers()
    stock_load_dataset = data_module.load_dataset

    def load_dataset(split, tokenizer, corpus):
        return stock_load_dataset(split, tokenizer, dict(corpus))

    data_module.load_dataset = load_dataset
    data_module._s3prl_fusion_patched = True
