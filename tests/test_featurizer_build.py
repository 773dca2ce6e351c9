"""How the runner builds the featurizer: stock runs draw the random numbers unpatched s3prl
draws, -l is not silently dropped by a fusion interface, checkpoints are matched to what
each member is, and CHConv's start-up prints both projections' parameter counts."""
from __future__ import annotations

from argparse import Namespace
from pathlib import Path

import pytest
import s3prl
import torch
import yaml
from s3prl.downstream.runner import ModelEntry, Runner

from conftest import ASR_CONFIGS, DEMO_UPSTREAM, LIBRISPEECH_MINI, run_python
from s3prl_fusion.experiments.checkpoints import load_checkpoint
from s3prl_fusion.cli import main as cli_main
from s3prl_fusion.errors import UserError
from s3prl_fusion.featurizer import FeatureSelectionError, FusionSetupMismatch, probe_forward
from s3prl_fusion.s3prl_adapter.patches.registration import hub_entries
from s3prl_fusion.s3prl_adapter.patches.run_checks import check_feature_selection, check_feature_selection_name
from s3prl_fusion.upstreams.fused import FusedUpstream
from s3prl_fusion.upstreams.identity import member_identity
from s3prl_fusion.upstreams.members import normalize_member

# s3prl's own run_downstream.py, then whether the plugin had patched its runner
STOCK_RUN = """
import runpy, sys
script, *arguments = sys.argv[1:]
sys.argv = [script, *arguments]
runpy.run_path(script, run_name="__main__")
from s3prl.downstream.runner import Runner
print("runner patched by the plugin:", getattr(Runner, "_s3prl_fusion_patched", False))
"""
SMALL_WAVLM = {"model_type": "wavlm", "hidden_size": 64, "num_hidden_layers": 4, "num_attention_heads": 4,
               "intermediate_size": 128, "conv_dim": [64] * 7, "num_conv_pos_embeddings": 16, "num_conv_pos_embedding_groups": 4}
SMALL_WHISPER = {"d_model": 48, "encoder_layers": 3, "encoder_attention_heads": 4, "encoder_ffn_dim": 96,
                 "decoder_layers": 1, "decoder_attention_heads": 4, "decoder_ffn_dim": 96, "num_mel_bins": 80}


def runner_with(built_upstream, selection: str, layer: int | None = None, init_ckpt: dict | None = None, **args) -> Runner:
    """A Runner whose upstream is built; ``_get_featurizer`` runs as in s3prl's ``__init__``;
    ``args`` override s3prl's upstream flags (``upstream``, ``upstream_ckpt``, ...)."""
    runner = Runner.__new__(Runner)
    runner.args = Namespace(
        upstream_feature_selection=selection, upstream_layer_selection=layer, device="cpu",
        upstream_feature_normalize=False, local_rank=None,
        **{"upstream": "fused", "upstream_ckpt": None, "upstream_model_config": None, **args},
    )
    runner.config = {"runner": {"total_steps": 10, "gradient_accumulate_steps": 2}}
    runner.init_ckpt = init_ckpt or {}
    runner.upstream = ModelEntry(built_upstream, "Upstream", False, ["get_downsample_rates"])
    return runner


def write_yaml(path: Path, content: dict) -> str:
    path.write_text(yaml.safe_dump(content))
    return str(path)


def preset_with(tmp_path: Path, second_model_type: str, autocast: str | None = None):
    """``-u fused_data2vec_wavlm -g`` replacing both members by small random ones; the second,
    labelled ``wavlm`` by the preset, is built as ``second_model_type``."""
    options = {"members": [{"config": {**SMALL_WAVLM, "model_type": "data2vec-audio"}}, {"config": {**SMALL_WAVLM, "model_type": second_model_type}}]}
    if autocast:
        options["autocast"] = autocast
    path = write_yaml(tmp_path / f"members-{second_model_type}-{autocast}.yaml", options)
    torch.manual_seed(0)
    return hub_entries()["fused_data2vec_wavlm"](model_config=path)


@pytest.fixture(scope="module")
def fused_upstream():
    torch.manual_seed(0)
    return hub_entries()["fused"](model_config=str(DEMO_UPSTREAM)).eval()


def test_stock_run_trains_the_weights_of_unpatched_s3prl(tmp_path, librispeech_buckets):
    """``-u fbank -s hidden_states`` with the plugin installed trains bit for bit what s3prl
    trains with the compatibility patches alone (which this stack needs to run s3prl at all):
    nothing the plugin runs, such as its probe forward for the -s check, draws from torch's
    random generators."""
    config = yaml.safe_load((ASR_CONFIGS / "demo.yaml").read_text())
    config["downstream_expert"]["datarc"].update(
        libri_root=str(LIBRISPEECH_MINI), bucket_file=str(librispeech_buckets), dict_path=str(ASR_CONFIGS / "char.dict"),
        train_batch_size=2,
    )
    config["runner"].update(total_steps=2, save_step=2, log_step=2, max_keep=1)
    config_path = write_yaml(tmp_path / "config.yaml", config)
    script = str(Path(s3prl.__file__).parent / "run_downstream.py")
    states = {}
    for plugin, environment in (("plugin", {}), ("compat-only", {"S3PRL_FUSION_COMPAT_ONLY": "1"})):
        expdir = tmp_path / f"fbank-{plugin}"
        arguments = ["-c", STOCK_RUN, script, "-m", "train", "-u", "fbank", "-s", "hidden_states", "-d", "asr", "-c", config_path,
                     "-p", str(expdir), "--device", "cpu"]
        with pytest.MonkeyPatch.context() as patch:
            for name, value in environment.items():
                patch.setenv(name, value)
            result = run_python(arguments)
        assert f"runner patched by the plugin: {plugin == 'plugin'}" in result.stdout
        assert ("[Featurizer] - s3prl's featurizer of -s hidden_states: 0 trainable parameters" in result.stderr) == (plugin == "plugin")
        states[plugin] = load_checkpoint(expdir / "states-2.ckpt")
    tensors = [(module, key) for module in ("Featurizer", "Downstream") for key, value in states["plugin"][module].items() if torch.is_tensor(value)]
    assert len(tensors) > 10
    different = [name for name in tensors if not torch.equal(states["plugin"][name[0]][name[1]], states["compat-only"][name[0]][name[1]])]
    assert different == []


def test_probe_forward_and_the_selection_check_leave_the_random_state_as_it_was(fused_upstream):
    torch.manual_seed(5)
    expected = torch.rand(3)
    torch.manual_seed(5)
    check_feature_selection("hidden_states", fused_upstream, "cpu")
    probe_forward(fused_upstream, "cpu")
    assert torch.equal(torch.rand(3), expected)


@pytest.mark.parametrize("interface", ["ws", "gumd", "hconv", "chconv"])
def test_layer_selection_with_a_fusion_interface_stops_with_a_message(fused_upstream, interface):
    with pytest.raises(FeatureSelectionError, match=rf"-l 3 .*-s {interface} fuses every layer .*drop -l, or use -s hidden_states -l 3"):
        check_feature_selection_name(runner_with(fused_upstream, interface, layer=3).args)


def test_setup_and_selection_mistakes_are_user_errors():
    assert issubclass(FeatureSelectionError, UserError) and issubclass(FusionSetupMismatch, UserError)


def test_layer_selection_keeps_s3prl_behaviour_with_hidden_states(fused_upstream):
    featurizer = runner_with(fused_upstream, "hidden_states", layer=3)._get_featurizer().model
    assert featurizer.layer_selection == 3 and not hasattr(featurizer, "weights")  # one layer, no weighted sum
    wavs = [torch.randn(16000)]
    with torch.no_grad():
        features = fused_upstream(wavs)
        torch.testing.assert_close(featurizer(wavs, features)[0], features["hidden_states"][3][0, :50])


def test_checkpoint_of_another_member_under_the_same_label_is_refused(tmp_path):
    wavlm, data2vec = preset_with(tmp_path, "wavlm"), preset_with(tmp_path, "data2vec-audio")
    assert wavlm.member_names == data2vec.member_names == ["data2vec", "wavlm"]
    trained = runner_with(wavlm, "hconv", upstream="fused_data2vec_wavlm")._get_featurizer().model
    identities = trained.setup["member_identities"]
    assert [(member["label"], member["kind"], member["source"]["model_type"]) for member in identities] == [
        ("data2vec", "hf", "data2vec-audio"), ("wavlm", "hf", "wavlm")]
    assert trained.setup["autocast"] == "none"
    state = trained.state_dict()
    with pytest.raises(FusionSetupMismatch, match=r"member 1 \(wavlm\) source: checkpoint \{.*'model_type': 'wavlm'.*\} vs now \{.*'data2vec-audio'"):
        runner_with(data2vec, "hconv", init_ckpt={"Featurizer": state}, upstream="fused_data2vec_wavlm")._get_featurizer()
    with pytest.raises(FusionSetupMismatch, match=r"autocast: checkpoint 'none' vs now 'bf16'"):
        runner_with(preset_with(tmp_path, "wavlm", "bf16"), "hconv", init_ckpt={"Featurizer": state})._get_featurizer()
    same = runner_with(preset_with(tmp_path, "wavlm"), "hconv", init_ckpt={"Featurizer": state}, upstream="fused")._get_featurizer()
    assert same.model.setup["member_identities"] == identities  # the same members through another -u name


def test_member_identity_records_source_length_mode_and_local_paths(tmp_path):
    local = tmp_path / "my-models" / "wavlm"
    local.mkdir(parents=True)
    (local / "config.json").write_text('{"model_type": "wavlm"}')
    preset_member = {"name": "wavlm", "upstream": "microsoft/wavlm-base-plus"}
    assert member_identity(normalize_member(preset_member)) == {
        "label": "wavlm", "kind": "hf", "source": "microsoft/wavlm-base-plus", "ckpt": None, "length_mode": None, "model_config": None}
    assert member_identity(normalize_member({**preset_member, "upstream": "facebook/data2vec-audio-base"}))["source"] == "facebook/data2vec-audio-base"
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(tmp_path)
        assert member_identity(normalize_member({"upstream": "my-models/wavlm"}))["source"] == str(local)
    whisper = member_identity(normalize_member({"upstream": "whisper_small", "length_mode": "pad30"}))
    assert (whisper["kind"], whisper["length_mode"]) == ("whisper", "pad30")
    assert member_identity(normalize_member("whisper_small"))["length_mode"] == "exact"


def test_single_upstream_is_identified_by_its_flags(tmp_path):
    options = [write_yaml(tmp_path / f"{name}.yaml", {"config": {**SMALL_WHISPER, "encoder_layers": 3}}) for name in ("first", "second")]
    torch.manual_seed(0)
    upstream = hub_entries()["whisper"](model_config=options[0])
    trained = runner_with(upstream, "ws", upstream="whisper", upstream_model_config=options[0])._get_featurizer().model
    assert trained.setup["member_identities"] == [
        {"label": "upstream", "kind": "whisper", "source": "whisper", "ckpt": None, "model_config": options[0], "length_mode": "exact"}]
    with pytest.raises(FusionSetupMismatch, match=r"member 0 \(upstream\) model_config: checkpoint '.*first.yaml' vs now '.*second.yaml'"):
        runner_with(upstream, "ws", upstream="whisper", upstream_model_config=options[1], init_ckpt={"Featurizer": trained.state_dict()})._get_featurizer()


def test_checkpoint_without_member_identities_still_loads(fused_upstream):
    trained = runner_with(fused_upstream, "gumd")._get_featurizer().model
    state = trained.state_dict()
    state["_extra_state"] = {key: value for key, value in state["_extra_state"].items() if key not in ("member_identities", "autocast")}
    state["interface.step"] = torch.tensor(7)
    loaded = runner_with(fused_upstream, "gumd", init_ckpt={"Featurizer": state})._get_featurizer().model
    assert int(loaded.interface.step) == 7


def test_chconv_prints_both_parameter_counts_for_two_base_members(capsys):
    torch.manual_seed(0)
    members = [{"name": "wavlm", "kind": "hf", "config": {"model_type": "wavlm"}}, {"name": "hubert", "kind": "hf", "config": {"model_type": "hubert"}}]
    upstream = FusedUpstream(members).eval()
    featurizer = runner_with(upstream, "chconv")._get_featurizer().model
    assert featurizer.setup["layer_counts"] == [13, 13] and featurizer.setup["dims"] == [768, 768]
    printed = capsys.readouterr().err
    assert "5,605,248 trainable parameters" in printed
    assert "chconv parameters by projection: linear 5,605,248, none 17,697,024 (this run: linear)" in printed


def test_feature_cache_has_the_identities_of_the_members_it_was_built_from(tmp_path, fused_upstream):
    """A model trained from a feature cache (-u fused_cache) resumes or evaluates on the fly (-u fused)."""
    wav_list = tmp_path / "wavs.txt"
    wav_list.write_text("\n".join(map(str, sorted((LIBRISPEECH_MINI / "dev-clean").rglob("*.flac"))[:2])) + "\n")
    cache = tmp_path / "feature-cache"
    cli_main(["cache", "build", "-u", "fused", "-g", str(DEMO_UPSTREAM), "--wav-list", str(wav_list), "--out", str(cache), "--device", "cpu"])
    from_cache = runner_with(hub_entries()["fused_cache"](ckpt=str(cache)), "ws", upstream="fused_cache", upstream_ckpt=str(cache))._get_featurizer()
    on_the_fly = runner_with(fused_upstream, "ws", init_ckpt={"Featurizer": from_cache.model.state_dict()})._get_featurizer()
    assert on_the_fly.model.setup["member_identities"] == from_cache.model.setup["member_identities"]
    assert on_the_fly.model.setup["member_identities"][0]["source"]["model_type"] == "wavlm"


def test_hidden_states_runs_print_s3prl_s_weighted_sum_trainable_parameters(fused_upstream, capsys):
    """``-s hidden_states`` prints its trainable parameter count as the plugin's interfaces do (that
    the stock run still trains bit for bit what s3prl trains is the test above)."""
    featurizer = runner_with(fused_upstream, "hidden_states")._get_featurizer().model
    assert featurizer.weights.numel() == 5
    assert "[Featurizer] - s3prl's weighted sum of -s hidden_states over 5 layers: 5 trainable parameters, output dim 112\n" in capsys.readouterr().err
    runner_with(fused_upstream, "hidden_states", layer=3)._get_featurizer()
    assert "[Featurizer] - s3prl's featurizer of -s hidden_states -l 3: 0 trainable parameters, output dim 112\n" in capsys.readouterr().err
