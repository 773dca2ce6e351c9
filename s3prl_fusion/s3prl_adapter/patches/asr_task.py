"""s3prl's ``asr`` expert with its KenLM decoding usable, applied when ``s3prl.downstream.asr.expert``
is first imported (``hooks.py``), after ``ASR_EXPERT_TARGETS`` are checked.

With ``datarc.decoder_args.decoder_type: kenlm`` the expert builds flashlight-text's lexicon
decoder over a KenLM model (``w2l_decoder.W2lKenLMDecoder``) and its evaluation writes
``<split>-LM-hyp.ark`` / ``<split>-LM-ref.ark`` instead of the ``-noLM-`` pair. ``get_decoder`` is
wrapped so that:

- ``unk_weight: -math.inf``, as s3prl's own config writes it, decodes: s3prl evaluates the string
  in its expert module, which has no ``math``, so a config-file setting stopped with a NameError
  (only an ``-o`` override, which s3prl's override evaluates itself, got through); a string is
  now read as a float (``-math.inf`` / ``-inf`` / ``-1.5``);
- flashlight-text missing is one message naming the pip install (s3prl's ``w2l_decoder`` only
  warns and then fails on a missing name);
- a missing ``kenlm_model`` or ``lexicon`` is one message naming the setting and the file, before
  KenLM or flashlight reads it.
The decoder itself (``W2lKenLMDecoder``) is s3prl's, unchanged: it works with flashlight-text
0.0.7, whose ``flashlight.lib.text.decoder`` still offers ``KenLM`` and takes ``decode`` by pointer.
"""
from __future__ import annotations

import importlib.util
from pathlib import Path

from s3prl_fusion.errors import MissingPathError, SettingError
from s3prl_fusion.experiments.task_dependencies import MissingTaskDependencyError
from s3prl_fusion.s3prl_adapter.internals.targets import PatchTarget, check_targets

ASR_EXPERT = "s3prl.downstream.asr.expert"
DECODER_KEY = "config.downstream_expert.datarc.decoder_args"
ASR_EXPERT_TARGETS = (
    PatchTarget("KenLM decoding settings read without s3prl's eval of unk_weight", ASR_EXPERT, "get_decoder", ("decoder_args_dict", "dictionary"),
                source_contains=('decoder_args.decoder_type == "kenlm"', "eval(decoder_args.unk_weight)")),
)


def weight(value, key: str) -> float:
    """A decoder weight given as a number or as a string such as ``-math.inf``."""
    if not isinstance(value, str):
        return value
    try:
        return float(value.strip().replace("math.", ""))
    except ValueError:
        raise SettingError(f"{DECODER_KEY}.{key} = {value!r}: give a number, -inf or -math.inf") from None


def checked_decoder_args(decoder_args: dict) -> dict:
    """A copy of ``decoder_args`` ready for s3prl's ``get_decoder``: the KenLM settings checked and ``unk_weight`` a float."""
    decoder_args = dict(decoder_args)
    if decoder_args.get("decoder_type") != "kenlm":
        return decoder_args
    if importlib.util.find_spec("flashlight.lib.text") is None:
        raise MissingTaskDependencyError(
            "KenLM decoding (decoder_type kenlm) needs flashlight-text: pip install flashlight-text (or the plugin's superb extra: pip install -e '.[superb]')"
        )
    missing = [f"{DECODER_KEY}.{key} = {decoder_args.get(key)} (file not found)" for key in ("kenlm_model", "lexicon")
               if not decoder_args.get(key) or not Path(str(decoder_args[key])).is_file()]
    if missing:
        raise MissingPathError("KenLM decoding: missing file(s):\n  " + "\n  ".join(missing)
                               + "\nSet them with -o, or give recipes/asr.sh an LM_DIR (s3prl-fusion prepare asr-lm --help says what it holds)")
    decoder_args["unk_weight"] = weight(decoder_args.get("unk_weight", float("-inf")), "unk_weight")
    return decoder_args


def patch_asr_expert(expert_module) -> None:
    if getattr(expert_module, "_s3prl_fusion_patched", False):
        return
    check_targets(expert_module, ASR_EXPERT_TARGETS)
    stock_get_decoder = expert_module.get_decoder

    def get_decoder(decoder_args_dict, dictionary):
        return stock_get_decoder(checked_decoder_args(decoder_args_dict or {"decoder_type": "None"}), dictionary)

    expert_module.get_decoder = get_decoder
    expert_module._s3prl_fusion_patched = True
