"""Which task config a run uses when -c is not given, and the interface settings the shipped
task configs give their runs."""
from __future__ import annotations

from argparse import Namespace

import pytest
import torch
import yaml
from s3prl.downstream.runner import ModelEntry, Runner
from s3prl.utility.helper import override

from s3prl_fusion.errors import UnknownNameError
from s3prl_fusion.featurizer import FusionSetupMismatch, compared_setup_value
from s3prl_fusion.interfaces import INTERFACES, RunLength, build_interface, interface_defaults
from s3prl_fusion.run_downstream import with_task_config
from s3prl_fusion.experiments.task_configs import available_tasks, config_root, resolve_task_config

SHIPPED_TASK_CONFIGS = (
    "asr/config.yaml",
    "asr/demo.yaml",
    "diarization/config.yaml",
    "ctc/libriphone.yaml",
    "ctc/snips.yaml",
    "emotion/config.yaml",
    "fluent_commands/config.yaml",
    "ml_superb/config.yaml",
    "speech_commands/config.yaml",
    "sv_voxceleb1/config.yaml",
    "sv_voxceleb1/config_simplified.yaml",
    "voxceleb1/config.yaml",
)
# Task configs that train nothing (-m evaluate only: SUPERB's query-by-example with DTW).
EVALUATE_ONLY_TASK_CONFIGS = ("quesst14_dtw/config.yaml",)
# The `interface:` block each of the shipped task configs once wrote out in full: the settings
# every run of theirs has used, whatever each config now writes.
WRITTEN_OUT_INTERFACE_SETTINGS = {
    "ws": {"normalize": False},
    "gumd": {"tau_start": 2.0, "tau_end": 0.1, "schedule": "exponential", "straight_through": False},
    "hconv": {"kernel_size": 5, "stride": 3, "normalize": False, "match_dims": "interpolate"},
    "chconv": {"kernel_size": 5, "stride": 3, "normalize": False, "projection": "linear"},
}
LAYER_COUNTS, DIMS = [5, 4], [64, 48]


def test_shipped_config_is_used_outside_an_s3prl_checkout(tmp_path):
    assert resolve_task_config("asr", tmp_path) == config_root() / "asr" / "config.yaml"


def test_checkout_config_wins_when_present(tmp_path):
    local = tmp_path / "downstream" / "asr" / "config.yaml"
    local.parent.mkdir(parents=True)
    local.write_text("runner: {}\n")
    assert resolve_task_config("asr", tmp_path) == local


def test_unknown_task_names_the_shipped_ones(tmp_path):
    with pytest.raises(UnknownNameError, match="Shipped tasks: .*asr"):
        resolve_task_config("no_such_task", tmp_path)


def test_entry_point_adds_config_only_when_needed(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    argv = ["-m", "train", "-u", "fused", "-d", "asr", "-n", "x"]
    assert with_task_config(argv)[-2:] == ["-c", str(config_root() / "asr" / "config.yaml")]
    assert with_task_config(argv + ["-c", "mine.yaml"]) == argv + ["-c", "mine.yaml"]
    assert with_task_config(["-m", "evaluate", "-e", "exp/x"]) == ["-m", "evaluate", "-e", "exp/x"]


def test_every_task_named_in_the_paper_has_a_config():
    assert {"asr"} <= set(available_tasks())


# Interface settings of the shipped task configs ---------------------------------------------


class MembersLayout(torch.nn.Module):
    """Stands in for a fused upstream of two members: the featurizer only asks for its layout."""

    def fusion_layout(self):
        return ["member_a", "member_b"], list(LAYER_COUNTS), list(DIMS)

    def get_downsample_rates(self, key: str = "hidden_states") -> int:
        return 320


def task_config(name: str) -> dict:
    return yaml.safe_load((config_root() / name).read_text())


def featurizer_of_run(config: dict, interface: str):
    """The featurizer s3prl's runner builds for ``-s interface`` with the task config ``config``."""
    runner = Runner.__new__(Runner)
    runner.args = Namespace(
        upstream_feature_selection=interface, upstream_layer_selection=None, device="cpu",
        upstream_feature_normalize=False, upstream="fused", local_rank=None,
    )
    runner.config, runner.init_ckpt = config, {}
    runner.upstream = ModelEntry(MembersLayout(), "Upstream", False, ["get_downsample_rates"])
    return runner._get_featurizer().model


def hyperparameters(module: torch.nn.Module) -> dict:
    """Every plain attribute (numbers, strings, flags, their lists) of ``module`` and its submodules."""
    plain = (bool, int, float, str, tuple, list, type(None))
    return {
        f"{prefix}.{key}": value
        for prefix, submodule in module.named_modules()
        for key, value in vars(submodule).items()
        if not key.startswith("_") and isinstance(value, plain)
    }


def test_every_shipped_task_config_is_checked():
    names = [str(path.relative_to(config_root())) for path in config_root().glob("*/*.yaml")]
    assert {name for name in names if "runner" in task_config(name)} == set(SHIPPED_TASK_CONFIGS) | set(EVALUATE_ONLY_TASK_CONFIGS)
    assert [name for name in EVALUATE_ONLY_TASK_CONFIGS if task_config(name)["runner"]] == []
    assert set(WRITTEN_OUT_INTERFACE_SETTINGS) == set(INTERFACES)


@pytest.mark.parametrize("config_name", SHIPPED_TASK_CONFIGS)
def test_a_task_config_sets_only_what_differs_from_the_interface_defaults(config_name):
    for interface, settings in (task_config(config_name).get("interface") or {}).items():
        defaults = interface_defaults(interface)
        assert not {key for key, value in settings.items() if defaults[key] == value}, f"{config_name}: interface.{interface} repeats defaults"


@pytest.mark.parametrize("interface", sorted(WRITTEN_OUT_INTERFACE_SETTINGS))
@pytest.mark.parametrize("config_name", SHIPPED_TASK_CONFIGS)
def test_each_task_runs_each_interface_with_the_settings_it_wrote_out(config_name, interface):
    config = task_config(config_name)
    runner = config["runner"]
    written_out = WRITTEN_OUT_INTERFACE_SETTINGS[interface]
    torch.manual_seed(0)
    featurizer = featurizer_of_run(config, interface)
    torch.manual_seed(0)
    run = RunLength(runner["total_steps"])
    expected = build_interface(interface, LAYER_COUNTS, DIMS, run=run, **written_out)
    assert compared_setup_value(featurizer.setup, "settings") == {**interface_defaults(interface), **written_out}
    assert hyperparameters(featurizer.interface) == hyperparameters(expected)
    built, wanted = featurizer.interface.state_dict(), expected.state_dict()
    assert built.keys() == wanted.keys() and all(torch.equal(built[key], wanted[key]) for key in wanted)


def test_a_checkpoint_with_the_settings_written_out_loads_into_a_run_of_the_shipped_config():
    featurizer = featurizer_of_run(task_config("asr/config.yaml"), "hconv")
    state = featurizer.state_dict()
    state["_extra_state"] = {**state["_extra_state"], "settings": WRITTEN_OUT_INTERFACE_SETTINGS["hconv"]}
    featurizer.load_state_dict(state)
    state["_extra_state"] = {**state["_extra_state"], "settings": {**WRITTEN_OUT_INTERFACE_SETTINGS["hconv"], "normalize": True}}
    with pytest.raises(FusionSetupMismatch, match="settings: checkpoint"):
        featurizer.load_state_dict(state)


def test_an_override_reaches_the_interface_when_the_config_has_no_interface_block():
    config = task_config("asr/config.yaml")
    assert "interface" not in config
    override("config.interface.hconv.normalize=True", Namespace(), config)
    featurizer = featurizer_of_run(config, "hconv")
    assert featurizer.setup["settings"] == {"normalize": True}
    assert featurizer.interface.normalize is True and featurizer.interface.conv.kernel_size == 5
