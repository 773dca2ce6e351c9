"""The runner's ``-o`` items that evaluate an ``asr`` checkpoint with SUPERB's KenLM decoding.

SUPERB's decoding settings are the ``datarc.decoder_args`` of the shipped
``downstream_configs/asr/config.yaml`` (s3prl's ``downstream/asr/config.yaml``: lexicon decoder,
nbest 1, beam 5, beam_threshold 25, lm_weight 2, word_score -1, unk_weight -inf, sil_weight 0).
The items set all of them, with ``decoder_type`` kenlm and an LM folder's model and lexicon
(``s3prl_fusion.prepare.asr_lm.lm_files``), so a checkpoint trained with any asr config decodes
the same way. s3prl's runner, evaluating such a checkpoint, writes ``<split>-LM-hyp.ark``.

``python -m s3prl_fusion.experiments.lm_decoding LM_DIR`` prints them joined with ``,,``
(``recipes/asr.sh`` with ``LM_DIR``).
"""
from __future__ import annotations

import argparse
from pathlib import Path

import yaml

from s3prl_fusion.errors import report_user_errors
from s3prl_fusion.experiments.task_configs import config_root
from s3prl_fusion.prepare.asr_lm import lm_files

DECODER_KEY = "config.downstream_expert.datarc.decoder_args"


def superb_decoder_args() -> dict:
    """The shipped asr config's ``decoder_args``."""
    config = yaml.safe_load((config_root() / "asr" / "config.yaml").read_text())
    return dict(config["downstream_expert"]["datarc"]["decoder_args"])


def lm_decoding_overrides(lm_dir: Path) -> list[str]:
    """``config.downstream_expert.datarc.decoder_args.<key>=<value>`` for every decoding setting, strings quoted."""
    model, lexicon = lm_files(lm_dir)
    settings = {**superb_decoder_args(), "decoder_type": "kenlm", "kenlm_model": str(model.resolve()), "lexicon": str(lexicon.resolve())}
    quoted = {key: f"'{value}'" if isinstance(value, str) and key != "unk_weight" else value for key, value in settings.items()}
    return [f"{DECODER_KEY}.{key}={value}" for key, value in quoted.items()]


@report_user_errors
def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m s3prl_fusion.experiments.lm_decoding", description=__doc__.split("\n\n")[0])
    parser.add_argument("lm_dir", type=Path, help="the LM folder: one KenLM model (*.arpa, *.arpa.gz, *.bin) and librispeech_lexicon.lst")
    print(",,".join(lm_decoding_overrides(parser.parse_args(argv).lm_dir)))


if __name__ == "__main__":
    main()
