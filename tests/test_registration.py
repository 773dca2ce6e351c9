"""The plugin is found by s3prl with no user import: checked in fresh interpreters."""
from __future__ import annotations

from conftest import run_python


def test_hub_lists_plugin_upstreams_without_importing_the_plugin():
    script = (
        "import sys\n"
        "from s3prl import hub\n"
        "names = set(dir(hub))\n"
        "assert {'fused', 'fused_wavlm_whisper', 'fused_wavlm_whisper_en', 'whisper_small', 'whisper_medium_en', 'hf_ssl'} <= names, names\n"
        "assert 'wavlm_base_plus' in names  # s3prl's own stay\n"
        "print('ok')\n"
    )
    assert run_python(["-c", script]).stdout.strip().endswith("ok")


def test_runner_is_patched_on_import():
    script = (
        "from s3prl.downstream import runner\n"
        "assert runner.Runner._s3prl_fusion_patched\n"
        "assert runner.torch.save.__module__ == 's3prl_fusion.experiments.checkpoints'\n"
        "from huggingface_hub import HfFolder, Repository\n"
        "import torchaudio\n"
        "torchaudio.set_audio_backend('sox_io')\n"
        "print('ok')\n"
    )
    assert run_python(["-c", script]).stdout.strip().endswith("ok")


def test_python_that_never_imports_s3prl_pays_nothing():
    script = "import sys\nheavy = {'torch', 's3prl', 'transformers', 'torchaudio'} & set(sys.modules)\nassert not heavy, heavy\nprint('ok')\n"
    assert run_python(["-c", script]).stdout.strip() == "ok"


def test_list_command_prints_every_preset_with_members():
    from s3prl_fusion.commands.listing import format_table, upstream_rows
    from s3prl_fusion.upstreams.presets import PRESETS

    table = format_table(upstream_rows())
    for name in PRESETS:
        assert name in table
    assert "microsoft/wavlm-base-plus + whisper_small_en" in table
    assert "25/25" in table  # fused_wavlmlarge_whispermedium: 25 hidden states each
