"""The README's demo learns: after a short training run, test-clean CER is far below the untrained head's."""
from __future__ import annotations

from s3prl_fusion.commands.demo import format_results, run_demo


def test_demo_learns_on_a_reduced_step_count(tmp_path):
    results = run_demo(tmp_path, steps=600, interfaces=["hconv"])
    untrained = results["untrained head (hconv)"]["cer"]
    trained = results["hconv, 600 steps"]["cer"]
    assert untrained > 90, format_results(results)
    assert trained < untrained - 30, format_results(results)
    assert "hconv, 600 steps" in format_results(results)
