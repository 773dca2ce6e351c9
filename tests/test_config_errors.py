"""Configuration mistakes stop before training starts, naming the flag or file to fix."""
from __future__ import annotations

import pytest
import yaml

from conftest import LIBRISPEECH_MINI, REPO_ROOT, runner_failure
from s3prl_fusion.experiments.data_paths import MissingDataError, check_data_paths
from s3prl_fusion.errors import SettingError
from s3prl_fusion.s3prl_adapter.patches.registration import hub_entries
from s3prl_fusion.interfaces import build_interface
from s3prl_fusion.upstreams.fused import FusedUpstream
from s3prl_fusion.upstreams.members import build_member, normalize_member


def test_unknown_upstream_name_suggests_the_nearest(tmp_path):
    stderr = runner_failure(tmp_path, "-u", "fused_wavlm_whispr", "-d", "asr")
    assert "-u fused_wavlm_whispr is not an upstream" in stderr and "Did you mean fused_wavlm_whisper" in stderr


def test_interface_typo_is_named_before_missing_data_paths(tmp_path):
    """A preset's -s keys are known without building it: the typo is reported first, with its fix."""
    stderr = runner_failure(tmp_path, "-u", "fused_wavlm_whisper", "-s", "hcovn", "-d", "asr")
    assert "-s hcovn is neither a fusion interface" in stderr and "Did you mean hconv" in stderr
    assert "fusion_stacks" not in stderr and "datarc" not in stderr


def test_layer_selection_with_an_interface_is_a_clean_message(tmp_path):
    stderr = runner_failure(tmp_path, "-u", "fused", "-g", str(REPO_ROOT / "downstream_configs/asr/demo_upstream.yaml"), "-s", "hconv", "-l", "3", "-d", "asr")
    assert "-s hconv fuses every layer of every member and takes no -l" in stderr


def test_missing_data_paths_are_listed_with_their_keys(tmp_path):
    stderr = runner_failure(tmp_path, "-u", "fused", "-g", str(REPO_ROOT / "downstream_configs/asr/demo_upstream.yaml"), "-s", "hconv", "-d", "asr")
    assert "config.downstream_expert.datarc.libri_root = /path/to/LibriSpeech (dir not found)" in stderr
    assert "s3prl-fusion prepare librispeech" in stderr


def test_sv_dev_trial_list_is_checked_with_the_other_data_paths(tmp_path):
    """s3prl's sv_voxceleb1 expert opens dev_meta_data at start-up even when dev is never scored."""
    config = yaml.safe_load((REPO_ROOT / "downstream_configs/sv_voxceleb1/config.yaml").read_text())
    voxceleb1 = REPO_ROOT / "corpora" / "VoxCeleb1"
    config["downstream_expert"]["datarc"].update(
        file_path=str(voxceleb1), test_meta_data=str(voxceleb1 / "veri_test_mini.txt"), dev_meta_data=str(tmp_path / "dev_trials.txt")
    )
    with pytest.raises(MissingDataError, match=rf"config.downstream_expert.datarc.dev_meta_data = {tmp_path}/dev_trials.txt \(file not found\)"):
        check_data_paths("sv_voxceleb1", config)
    config["downstream_expert"]["datarc"]["dev_meta_data"] = str(voxceleb1 / "veri_dev_mini.txt")
    check_data_paths("sv_voxceleb1", config)


def test_unknown_task_lists_shipped_ones(tmp_path):
    stderr = runner_failure(tmp_path, "-u", "fused", "-d", "asrr")
    assert "no config for task -d asrr" in stderr and "asr" in stderr


def test_unknown_member_name_suggests_the_nearest():
    with pytest.raises(ValueError, match="unknown upstream name 'wavlm_base_plux'. Did you mean wavlm_base_plus"):
        build_member(normalize_member("wavlm_base_plux"))
    with pytest.raises(ValueError, match="whisper_smal'.*Did you mean whisper_small"):
        build_member(normalize_member("whisper_smal"))


def test_fused_without_members_says_how_to_give_them():
    with pytest.raises(ValueError, match="-u fused needs its members"):
        hub_entries()["fused"]()


def test_missing_member_yaml_names_the_flag(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"upstream config \(-g\) .*nope.yaml does not exist"):
        hub_entries()["fused"](model_config=str(tmp_path / "nope.yaml"))


def test_members_whose_frame_rates_cannot_be_aligned():
    slow = {"name": "slow", "kind": "hf", "config": {"model_type": "hubert", "hidden_size": 32, "num_hidden_layers": 1,
            "num_attention_heads": 2, "intermediate_size": 32, "conv_dim": [32] * 3, "conv_kernel": [10, 4, 4],
            "conv_stride": [5, 32, 32], "num_conv_pos_embeddings": 4, "num_conv_pos_embedding_groups": 2}}
    fast = {"name": "fast", "kind": "whisper", "config": {"d_model": 32, "encoder_layers": 1, "encoder_attention_heads": 2,
            "encoder_ffn_dim": 32, "decoder_layers": 1, "decoder_attention_heads": 2, "decoder_ffn_dim": 32}}
    with pytest.raises(ValueError, match="member slow has 3.1 frames/s, over 8x fewer than the fastest member"):
        FusedUpstream([slow, fast])


def test_add_merge_with_unequal_dims_when_interpolation_is_off():
    with pytest.raises(ValueError, match="match_dims"):
        build_interface("hconv", [13, 13], [768, 1024], match_dims="error")


def test_unknown_interface_setting_names_valid_keys():
    with pytest.raises(ValueError, match="kernel"):
        build_interface("hconv", [13], [768], kernel=5)


@pytest.mark.parametrize(
    "name, settings, message",
    [
        ("hconv", {"kernel_size": "abc"}, "interface.hconv.kernel_size='abc' must be an integer"),
        ("hconv", {"kernel_size": 2.5}, "interface.hconv.kernel_size=2.5 must be an integer"),
        ("hconv", {"normalize": "yes"}, "interface.hconv.normalize='yes' must be true or false"),
        ("gumd", {"tau_start": "hot"}, "interface.gumd.tau_start='hot' must be a number"),
        ("ws", {"output_dim": True}, "interface.ws.output_dim=True must be an integer or null"),
        ("chconv", {"projection": 3}, "interface.chconv.projection=3 must be a string"),
    ],
)
def test_interface_setting_of_the_wrong_type_names_the_type(name, settings, message):
    with pytest.raises(SettingError) as raised:
        build_interface(name, [13, 13], [768, 768], **settings)
    assert str(raised.value) == message


def test_interface_settings_of_their_own_types_build():
    """An integer where a float is wanted, and null where an optional integer is, are accepted."""
    assert build_interface("gumd", [13, 13], [768, 768], tau_start=1, anneal_steps=None, output_dim=64).output_dim == 64
    assert build_interface("chconv", [13, 13], [768, 768], projection_dim=None).output_dim > 0


DEMO_MEMBERS = REPO_ROOT / "downstream_configs/asr/demo_upstream.yaml"


def members_file(tmp_path, edit) -> str:
    """The demo's members file with ``edit`` applied to its parsed content."""
    options = yaml.safe_load(DEMO_MEMBERS.read_text())
    edit(options)
    path = tmp_path / "members with spaces-and-hyphens.yaml"
    path.write_text(yaml.safe_dump(options))
    return str(path)


def test_runner_mistakes_in_members_and_settings_are_one_message_each(tmp_path, librispeech_buckets):
    """Through s3prl's runner: each ends with exit status 2, the message, no traceback, no checkpoint."""

    def misspell_member(options):
        options["members"][0] = {"name": "wavlm", "upstream": "wavlm_base_plux"}

    data = f"config.downstream_expert.datarc.libri_root='{LIBRISPEECH_MINI}',,config.downstream_expert.datarc.bucket_file='{librispeech_buckets}'"
    cases = [
        (members_file(tmp_path, misspell_member), "", "unknown upstream name 'wavlm_base_plux'. Did you mean wavlm_base_plus"),
        (str(tmp_path / "no-such-members.yaml"), "", "no-such-members.yaml does not exist"),
        (str(DEMO_MEMBERS), ",,config.interface.hconv.kernel=5", "kernel"),
        (str(DEMO_MEMBERS), ",,config.interface.hconv.match_dims=error", "match_dims"),
        (str(DEMO_MEMBERS), ",,config.interface.hconv.kernel_size=abc", "interface.hconv.kernel_size='abc' must be an integer"),
        (str(DEMO_MEMBERS), ",,config.interface.hconv.normalize=yes", "interface.hconv.normalize='yes' must be true or false"),
    ]
    for members, overrides, expected in cases:
        stderr = runner_failure(tmp_path, "-u", "fused", "-g", members, "-s", "hconv", "-d", "asr",
                                "-c", str(REPO_ROOT / "downstream_configs/asr/demo.yaml"), "-o", data + overrides)
        errors = [line for line in stderr.splitlines() if line.startswith("error: ")]
        assert len(errors) == 1 and expected in errors[0], (members, overrides, stderr[-2000:])


def test_runner_interface_settings_that_cannot_work_with_these_members(tmp_path, librispeech_buckets):
    """Through s3prl's runner, an interface setting these members cannot take: exit 2, one message, no traceback."""

    def keep_first_member(options):
        options["members"] = options["members"][:1]

    data = f"config.downstream_expert.datarc.libri_root='{LIBRISPEECH_MINI}',,config.downstream_expert.datarc.bucket_file='{librispeech_buckets}'"
    cases = [
        (str(DEMO_MEMBERS), "hconv", "config.interface.hconv.stride=6", "HConv needs at least stride=6 layers for one convolution, but the stack has 5"),
        (members_file(tmp_path, keep_first_member), "gumd", "config.interface.gumd.output_dim=7", "output_dim=7 needs several fused upstreams"),
        (str(DEMO_MEMBERS), "chconv", "config.interface.chconv.projection=none,,config.interface.chconv.projection_dim=8",
         "projection_dim=8 needs `projection: linear`"),
        (str(DEMO_MEMBERS), "chconv", "config.interface.chconv.output_dim=8", "unknown setting 'output_dim' for interface 'chconv'"),
    ]
    for members, interface, overrides, expected in cases:
        stderr = runner_failure(tmp_path, "-u", "fused", "-g", members, "-s", interface, "-d", "asr",
                                "-c", str(REPO_ROOT / "downstream_configs/asr/demo.yaml"), "-o", f"{data},,{overrides}")
        errors = [line for line in stderr.splitlines() if line.startswith("error: ")]
        assert len(errors) == 1 and expected in errors[0], (interface, overrides, stderr[-2000:])
