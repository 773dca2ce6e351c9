"""``s3prl-fusion bench --quick``: one run prints every ratio with its target; memory is measured honestly."""
from __future__ import annotations

import math
import re

import pytest
import torch

from s3prl_fusion.bench import _layer_cosines, peak_memory
from s3prl_fusion.cli import main as cli_main

TARGET_ROWS = {
    "fusion overhead": "<= 3%",
    "hconv fwd+bwd": "<= 10%",
    "cached / on-the-fly steps/s (ws": ">= 10x",
    "cached / on-the-fly steps/s (hconv": ">= 10x",
    "fused peak": "<= 1.25x",
}


@pytest.mark.parametrize("autocast", ["none", "bf16"])
def test_quick_bench_prints_every_measurement_with_its_target(capsys, autocast):
    cli_main(["bench", "--quick", "--autocast", autocast])
    printed = capsys.readouterr().out
    assert f"autocast {autocast}," in printed.splitlines()[0]
    rows = [line for line in printed.splitlines() if line.startswith("| ") and "measurement" not in line]
    labels = [row.split("|")[1].strip() for row in rows]
    autocast_rows = [row for row in rows if "autocast" in row]
    if autocast == "none":
        assert not autocast_rows
    else:
        assert len(autocast_rows) == 1 and "fused fwd fp32 / bf16 autocast" in autocast_rows[0]
        assert float(autocast_rows[0].split("|")[2].strip().rstrip("x")) > 0
    for name in ("ws", "gumd", "hconv", "chconv"):
        assert f"{name} fwd+bwd / members' fwd" in labels
    assert "HConv fwd+bwd: nn.Conv1d / per-tap products" in labels
    for seconds in ("0.5", "1", "2"):
        assert f"Whisper pad30 / exact time, {seconds} s audio" in labels
        assert f"Whisper exact vs pad30 cosine, {seconds} s (min over layers)" in labels
    for prefix, target in TARGET_ROWS.items():
        row = next(row for row in rows if row.split("|")[1].strip().startswith(prefix))
        cells = [cell.strip() for cell in row.split("|")[1:-1]]
        assert cells[2] == target and cells[3] in ("pass", "FAIL")
        assert math.isfinite(float(re.sub(r"[%x]$", "", cells[1])))
    cosines = [float(value) for line in printed.splitlines() if line.startswith("cosine exact vs pad30") for value in line.split(":")[1].split()]
    assert len(cosines) == 3 * 4 and all(-1 <= value <= 1.0001 for value in cosines)
    assert "MiB per hour of audio" in printed and "torch profiler CPU allocation events" in printed


def test_cpu_peak_memory_counts_live_tensors():
    megabytes = 2**20

    def hold_two_then_one():
        first = torch.ones(4 * megabytes // 4)
        second = torch.ones(4 * megabytes // 4)
        del first, second
        return torch.ones(1 * megabytes // 4)

    peak = peak_memory(hold_two_then_one, torch.device("cpu"))
    assert 8 * megabytes <= peak < 9 * megabytes


def test_identical_features_have_cosine_one():
    layers = [torch.randn(2, 5, 8) for _ in range(3)]
    cosines = _layer_cosines(layers, [layer.clone() for layer in layers], torch.tensor([5, 3]))
    assert all(abs(value - 1) < 1e-6 for value in cosines)
