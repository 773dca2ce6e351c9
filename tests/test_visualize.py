"""Layer-usage chart and text summary."""
import pytest
import torch

from s3prl_fusion.plots import plot_layer_weights, summarize_layer_weights

WEIGHTS = [torch.tensor([0.1, 0.6, 0.3]), torch.tensor([0.05, 0.05, 0.1, 0.8, 0.0])]
NAMES = ["wavlm", "whisper"]


def test_plot_writes_a_png(tmp_path):
    path = tmp_path / "layers.png"
    plot_layer_weights(WEIGHTS, NAMES, "layer usage", path, "softmax layer weight")
    data = path.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    assert len(data) > 5000


def test_summary_names_each_members_most_used_layer_first():
    lines = summarize_layer_weights(WEIGHTS, NAMES).splitlines()
    assert len(lines) == 3
    assert lines[1].split()[:3] == ["wavlm", "L1", "60.0%"]
    assert lines[2].split()[:3] == ["whisper", "L3", "80.0%"]
    assert "L2 30.0%" in lines[1]


def test_names_must_match_members():
    with pytest.raises(ValueError, match="one name per fused upstream"):
        summarize_layer_weights(WEIGHTS, ["wavlm"])
