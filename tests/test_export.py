"""`s3prl-fusion export`: the folder loads the way s3prl's runner loads a --hub huggingface upstream."""
from __future__ import annotations

import pytest
import torch
import yaml

from conftest import run_python
from s3prl_fusion.commands.random_config import random_upstream_options
from s3prl_fusion.export import MODEL_FILE, export_upstream, load_exported_upstream
from s3prl_fusion.s3prl_adapter.patches.registration import hub_entries

PRESET = "fused_hubert_wavlm_whisper"
# the runner's from_hf_hub branch: folder on sys.path, import expert, UpstreamExpert(ckpt=<folder>/model.pt)
RUNNER_STYLE_LOAD = """
import sys
import torch
folder, wav_file, out_file = sys.argv[1:]
sys.path.append(folder)
from expert import UpstreamExpert
upstream = UpstreamExpert(ckpt=folder + "/{model_file}", model_config=None, refresh=False).eval()
wavs = torch.load(wav_file)
with torch.no_grad():
    features = upstream(wavs)
torch.save({{"hidden_states": [layer for layer in features["hidden_states"]], "rate": upstream.get_downsample_rates("hidden_states")}}, out_file)
""".format(model_file=MODEL_FILE)


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    folder = tmp_path_factory.mktemp("export")
    options = folder / "random_members.yaml"
    options.write_text(yaml.safe_dump(random_upstream_options(PRESET)))
    torch.manual_seed(0)
    original = hub_entries()[PRESET](model_config=str(options)).eval()
    torch.manual_seed(0)
    export_upstream(PRESET, folder / "upstream", model_config=str(options))
    return original, folder


def test_export_folder_has_the_hub_layout(exported):
    _, folder = exported
    upstream_folder = folder / "upstream"
    assert sorted(path.name for path in upstream_folder.iterdir()) == ["expert.py", MODEL_FILE, "requirements.txt", "upstream_config.yaml"]
    assert (upstream_folder / "requirements.txt").read_text().startswith("s3prl-fusion")
    saved = torch.load(upstream_folder / MODEL_FILE, weights_only=True)
    assert saved["upstream"] == PRESET and sorted(saved["member_weights"]) == [0, 1, 2]


def test_runner_style_load_in_a_fresh_process_matches_the_original(exported, tmp_path):
    original, folder = exported
    generator = torch.Generator().manual_seed(1)
    wavs = [torch.randn(16000, generator=generator), torch.randn(11000, generator=generator)]
    torch.save(wavs, tmp_path / "wavs.pt")
    script = tmp_path / "load_like_the_runner.py"
    script.write_text(RUNNER_STYLE_LOAD)
    run_python([str(script), str(folder / "upstream"), str(tmp_path / "wavs.pt"), str(tmp_path / "out.pt")], cwd=tmp_path)
    loaded = torch.load(tmp_path / "out.pt")
    with torch.no_grad():
        expected = original(wavs)["hidden_states"]
    assert loaded["rate"] == original.get_downsample_rates("hidden_states")
    assert len(loaded["hidden_states"]) == len(expected)
    for got, want in zip(loaded["hidden_states"], expected):
        assert got.shape == want.shape
        torch.testing.assert_close(got, want, atol=1e-5, rtol=0)


def test_exported_weights_are_the_originals_not_a_fresh_init(exported):
    original, folder = exported
    torch.manual_seed(123)
    reloaded = load_exported_upstream(str(folder / "upstream" / MODEL_FILE))
    for (name, want), got in zip(original.state_dict().items(), reloaded.state_dict().values()):
        assert torch.equal(got, want), name


def test_exported_upstream_refuses_a_second_model_config(exported, tmp_path):
    _, folder = exported
    with pytest.raises(ValueError, match="upstream_config.yaml"):
        load_exported_upstream(str(folder / "upstream" / MODEL_FILE), model_config=str(tmp_path / "other.yaml"))


def test_single_whisper_upstream_exports_its_random_weights(tmp_path):
    options = tmp_path / "whisper.yaml"
    options.write_text(yaml.safe_dump(random_upstream_options("whisper_small")))
    export_upstream("whisper_small", tmp_path / "upstream", model_config=str(options))
    original_weights = torch.load(tmp_path / "upstream" / MODEL_FILE, weights_only=True)["member_weights"][0]
    reloaded = load_exported_upstream(str(tmp_path / "upstream" / MODEL_FILE))
    assert all(torch.equal(reloaded.state_dict()[key], value) for key, value in original_weights.items())
