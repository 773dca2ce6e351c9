"""SUPERB's QbE protocol with a fused upstream, end to end: ``recipes/qbe.sh`` on the bundled QUESST
2014 miniature with the two-member random demo upstream sweeps every layer on dev, runs the best on
test, and scores it (``s3prl-fusion score --task quesst14_dtw``)."""
from __future__ import annotations

import importlib.util
import json
import shutil
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import pytest

from conftest import DEMO_UPSTREAM, REPO_ROOT, checked, run_recipe, user_error_line
from s3prl_fusion.cli import main as cli_main
from s3prl_fusion.results.outcomes import point_estimate, read_outcomes
from s3prl_fusion.results.qbe import score_detections

pytestmark = pytest.mark.skipif(any(importlib.util.find_spec(name) is None for name in ("dtw", "lxml")),
                                reason="s3prl's quesst14_dtw code imports dtw-python and lxml, not installed here (pip install dtw-python lxml)")

QUESST = REPO_ROOT / "corpora" / "quesst14Database"
SMALL_RUN = {"OVERRIDES": "config.downstream_expert.datarc.num_workers=0,,config.downstream_expert.max_workers=1"}
# the demo upstream: a WavLM-style member with 5 hidden states, a Whisper-style one with 4: 5 aligned layers
LAYERS = [*(f"fused.layer{n}" for n in range(5)), *(f"wavlm_small_random.layer{n}" for n in range(5)),
          *(f"whisper_small_random.layer{n}" for n in range(4))]


def english(split_key: str) -> list[str]:
    lines = (QUESST / "scoring" / split_key).read_text().splitlines()
    return sorted(Path(line.split()[0]).stem for line in lines if line.split()[1] == "nnenglish")


def detections(path: Path) -> dict[str, list[str]]:
    return {termlist.get("termid"): sorted(term.get("file") for term in termlist.iter("term"))
            for termlist in ElementTree.parse(path).getroot().iter("detected_termlist")}


@pytest.fixture(scope="module")
def swept(tmp_path_factory) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("qbe") / "fused_demo"
    result = checked(run_recipe("qbe.sh", ["fused", str(QUESST), str(out)], **SMALL_RUN))
    return out, result.stdout + result.stderr


def test_every_layer_is_scored_on_dev_and_the_best_one_alone_on_test(swept):
    out, log = swept
    record = json.loads((out / "qbe_sweep.json").read_text())
    assert [layer["name"] for layer in record["layers"]] == LAYERS
    assert record["layers"][6] == {"name": "wavlm_small_random.layer1", "stack": "wavlm_small_random", "layer": 1}
    for name in LAYERS:  # each layer's recorded dev MTWV is its own detection list's, scored again
        assert detections(out / "dev" / name / "benchmark.stdlist.xml").keys() == set(english("language_key_dev.lst"))
        assert record["dev_mtwv"][name] == score_detections(out / "dev" / name / "benchmark.stdlist.xml", QUESST, "dev")["mtwv"]
        assert f"[qbe] dev MTWV {name}" in log
    best = max(record["dev_mtwv"].values())
    chosen = next(name for name in LAYERS if record["dev_mtwv"][name] == best)
    assert record["chosen_layer"]["name"] == chosen
    assert [path.name for path in (out / "test").iterdir()] == [chosen]
    submitted = out / "benchmark.stdlist.xml"
    assert submitted.read_bytes() == (out / "test" / chosen / "benchmark.stdlist.xml").read_bytes()
    documents = english("language_key_utterances.lst")
    assert detections(submitted) == {query: documents for query in english("language_key_eval.lst")}


def test_the_result_is_the_test_mtwv_of_the_chosen_layer_with_the_upstream_it_came_from(swept):
    out, _ = swept
    record = json.loads((out / "qbe_sweep.json").read_text())
    result = json.loads((out / "result.json").read_text())
    assert (result["task"], result["split"], result["metric"], result["lower_is_better"]) == ("quesst14_dtw", "test", "mtwv", False)
    assert result["value"] == score_detections(out / "benchmark.stdlist.xml", QUESST, "test")["mtwv"]
    outcomes = read_outcomes(out / "result.json")  # the file result.json records, its checksum checked
    assert point_estimate(outcomes) == pytest.approx(result["value"], abs=1e-9)
    assert result["outcomes"]["units"] == "query" and len(outcomes) == 3 * 20
    assert result["layer"] == record["chosen_layer"] and result["dev_mtwv"] == record["dev_mtwv"]
    assert (result["upstream"], result["upstream_model_config"], result["interface"]) == ("fused", str(DEMO_UPSTREAM), "hidden_states")
    assert [member["label"] for member in result["members"]] == ["wavlm_small_random", "whisper_small_random"]
    assert "checkpoint" not in result and "step" not in result


def test_a_rerun_skips_what_is_done_and_can_bound_the_layers_kept_per_pass(swept):
    out, _ = swept
    scored = (out / "result.json").read_bytes()
    again = checked(run_recipe("qbe.sh", ["fused", str(QUESST), str(out)], **SMALL_RUN))
    assert "result.json exists: QbE is done" in again.stdout and (out / "result.json").read_bytes() == scored
    redone = ["fused.layer1", "whisper_small_random.layer3"]
    before = {name: (out / "dev" / name / "benchmark.stdlist.xml").read_bytes() for name in redone}
    for name in redone:
        shutil.rmtree(out / "dev" / name)
    (out / "result.json").unlink()
    again = checked(run_recipe("qbe.sh", ["fused", str(QUESST), str(out)], LAYERS_PER_PASS="1", **SMALL_RUN))
    passes = [line for line in again.stderr.splitlines() if line.startswith("[qbe] ")]
    assert passes == [  # only the two missing layers, one per pass of the members; test's layer is there
        "[qbe] dev: the members over every query and document for 1 layer(s) (fused.layer1): pass 1 of 2",
        "[qbe] dev: the members over every query and document for 1 layer(s) (whisper_small_random.layer3): pass 2 of 2",
    ]
    assert {name: (out / "dev" / name / "benchmark.stdlist.xml").read_bytes() for name in redone} == before
    assert json.loads((out / "result.json").read_text())["value"] == json.loads(scored)["value"]


def test_an_aligned_layer_is_what_the_runner_scores_with_that_layer(swept, tmp_path):
    """``fused.layer2`` of the sweep is byte for byte the runner's ``-m evaluate -t dev -s hidden_states -l 2``."""
    from test_superb_tasks import evaluate_query_by_example

    out, _ = swept
    runner = evaluate_query_by_example(tmp_path, "-s", "hidden_states", "-l", "2")
    runner_list = runner / "benchmark.stdlist.xml"
    assert detections(runner_list) == {query: english("language_key_utterances.lst") for query in english("language_key_dev.lst")}
    assert runner_list.read_bytes() == (out / "dev" / "fused.layer2" / "benchmark.stdlist.xml").read_bytes()


def test_a_missing_database_stops_naming_it(tmp_path):
    result = run_recipe("qbe.sh", ["fused", str(tmp_path / "nowhere"), str(tmp_path / "out")])
    assert "task quesst14_dtw: missing data path(s)" in user_error_line(result)
    assert f"config.downstream_expert.datarc.dataset_root = {tmp_path / 'nowhere'} (dir not found)" in result.stderr


def test_a_database_without_english_dev_queries_stops_naming_the_language_key(tmp_path):
    root = tmp_path / "quesst14Database"
    shutil.copytree(QUESST, root)
    key = root / "scoring" / "language_key_dev.lst"
    key.write_text(key.read_text().replace("nnenglish", "czech"))
    message = user_error_line(run_recipe("qbe.sh", ["fused", str(root), str(tmp_path / "out")], **SMALL_RUN))
    assert f"{root}/scoring/language_key_dev.lst lists no nnenglish query" in message


def test_scoring_a_folder_the_sweep_did_not_write_names_the_recipe(tmp_path, capsys):
    with pytest.raises(SystemExit) as ended:
        cli_main(["score", "--task", "quesst14_dtw", "--expdir", str(tmp_path), "--split", "test"])
    assert ended.value.code == 2
    assert f"{tmp_path}/qbe_sweep.json not found: {tmp_path} is not a QbE sweep's folder (recipes/qbe.sh writes it)" in capsys.readouterr().err


def test_the_recipe_names_its_arguments(tmp_path):
    result = run_recipe("qbe.sh", ["fused", str(QUESST)])
    assert result.returncode == 2 and "usage: " in result.stderr and "UPSTREAM DATA_ROOT OUT_DIR" in result.stderr


def test_a_member_layer_is_the_members_own_hidden_state_and_the_members_run_once(monkeypatch):
    import torch
    import yaml

    from s3prl_fusion.s3prl_adapter.qbe_sweep import LayerSweep
    from s3prl_fusion.upstreams.fused import FusedUpstream

    torch.manual_seed(0)
    upstream = FusedUpstream(yaml.safe_load(DEMO_UPSTREAM.read_text())["members"]).eval()
    sweep = LayerSweep(upstream, "cpu")
    assert sweep.candidates == LAYERS
    wavs = [torch.randn(16000), torch.randn(11000)]
    runs = []
    monkeypatch.setattr(upstream, "run_members", lambda batch, stock=upstream.run_members: runs.append(len(batch)) or stock(batch))
    with torch.no_grad():
        features = sweep.features(wavs, LAYERS)
        alone = upstream.members[1]([wavs[1]])
        fused = upstream(wavs)
    assert runs == [2, 2]  # once for the sweep's every layer, once for the fused forward below
    frames = int(alone["feature_lengths"][0])
    # its own frames and values (alone it runs in a batch of one: equal to float rounding)
    torch.testing.assert_close(features["whisper_small_random.layer2"][1], alone["hidden_states"][2][0, :frames], rtol=1e-5, atol=1e-5)
    assert torch.equal(features["fused.layer3"][1], fused["hidden_states"][3][1, : int(fused["fusion_lengths"][1])])
