"""Which task config a run uses when -c is not given."""
from __future__ import annotations

import pytest

from s3prl_fusion.errors import UnknownNameError
from s3prl_fusion.run_downstream import with_task_config
from s3prl_fusion.task_configs import available_tasks, config_root, resolve_task_config


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
