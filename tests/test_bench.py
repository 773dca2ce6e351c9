"""``s3prl-fusion bench --quick``: one run prints every ratio with its target; memory is measured honestly;
``--whisper DIR`` measures Whisper's length modes on a pretrained checkpoint and speech."""
from __future__ import annotations

import csv
import json
import math
import re

import pytest
import torch

from conftest import LIBRISPEECH_MINI, WHISPER_TINY_EN
from s3prl_fusion.cache.sources import collect_audio_files, read_waveform
from s3prl_fusion.cli import main as cli_main
from s3prl_fusion.benchmark.report_measures import write_table_one
from s3prl_fusion.commands.bench import CorpusSpeech, Row, _layer_cosines, peak_memory, pretrained_whisper, verdict
from s3prl_fusion.results.report import write_report

# label prefix -> (target, whether it is set for the default sizes: "n/a" at --quick sizes)
TARGET_ROWS = {
    "fusion overhead": ("<= 3%", True),
    "hconv fwd+bwd": ("<= 10%", True),
    "cached step / in-memory features step (ws + ASR-like head)": ("<= 1.2x", True),
    "cached step / in-memory features step (hconv + ASR-like head)": ("<= 1.2x", True),
    "cached step / in-memory features step (hconv + ML-SUPERB head and config)": ("<= 1.2x", True),
    "cache bytes/h: merged int8-calibrated / per-member fp16": ("<= 0.25x", True),
    "cache build throughput: default batches / batch 1 (2 x 1 s)": ("> 0.95x", False),
    "cache build throughput: default batches / batch 1 (16 bundled utterances)": ("> 1x", False),
    "fused peak": ("<= 1.25x", False),
    "report, 65 cells x 2620 utterances, B=100: time / 10 s": ("<= 1x", True),
}


@pytest.mark.parametrize("autocast", ["none", "bf16"])
def test_quick_bench_prints_every_measurement_with_its_target(capsys, autocast, tmp_path):
    cli_main(["bench", "--quick", "--autocast", autocast, "--plot", str(tmp_path / "int8 vs fp16-loss.png")])
    printed = capsys.readouterr().out
    assert f"autocast {autocast}," in printed.splitlines()[0]
    assert printed.splitlines()[1].startswith("Whisper length modes on random weights (the fused set's Whisper member) (4 hidden states x 48, float32), Gaussian noise")
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
    for prefix, (target, at_default_sizes) in TARGET_ROWS.items():
        row = next(row for row in rows if row.split("|")[1].strip().startswith(prefix))
        cells = [cell.strip() for cell in row.split("|")[1:-1]]
        assert cells[2] == target, row
        assert cells[3] == "n/a" if at_default_sizes else cells[3] in ("pass", "FAIL"), row
        assert math.isfinite(float(re.sub(r"[%x]$", "", cells[1])))
    judged = [row for row in rows if row.split("|")[4].strip()]
    assert {row.split("|")[1].strip() for row in judged} == {label for label in labels if label.startswith(tuple(TARGET_ROWS))}
    assert "n/a: a target set for the default sizes (base-size members, 8 utterances of 10 s), not judged at --quick sizes" in printed
    heads = ["ws + ASR-like head)", "hconv + ASR-like head)", "hconv + ML-SUPERB head and config)"]
    for prefix in ("cached / on-the-fly steps/s", "limit: in-memory / on-the-fly steps/s"):
        values = {label: float(row.split("|")[2].strip().rstrip("x")) for label, row in zip(labels, rows) if label.startswith(prefix)}
        assert [label.split("(")[1] for label in values] == heads
        assert all(math.isfinite(value) and value > 0 for value in values.values())
    cosines = [float(value) for line in printed.splitlines() if line.startswith("cosine exact vs pad30") for value in line.split(":")[1].split()]
    assert len(cosines) == 3 * 4 and all(-1 <= value <= 1.0001 for value in cosines)
    assert "MiB per hour of audio" in printed and "torch profiler CPU allocation events" in printed
    assert re.search(r"report: 65 cells x 2620 utterances, B = 100: \d+\.\d\d s wall, \d+\.\d\d s CPU of this process", printed)
    storage = {label: float(row.split("|")[2].strip().rstrip("x")) for label, row in zip(labels, rows) if label.startswith("cache bytes/h: ")}
    forms = ("merged fp16", "per-member int8", "merged int8", "merged int8-calibrated")
    assert list(storage) == [f"cache bytes/h: {form} / per-member fp16" for form in forms]
    assert storage["cache bytes/h: merged fp16 / per-member fp16"] == pytest.approx(320 / 512, rel=0.01)  # 5 x 64 of 5 x 64 + 4 x 48
    assert storage["cache bytes/h: merged int8 / per-member fp16"] < storage["cache bytes/h: merged fp16 / per-member fp16"] / 1.9
    # no scales in the shards: half of merged fp16, but for each shard file's 128-byte .npy header
    assert storage["cache bytes/h: merged int8-calibrated / per-member fp16"] == pytest.approx(320 / 512 / 2, rel=0.01)
    error = next(row for label, row in zip(labels, rows) if label.startswith("cache relative RMS error: merged int8-calibrated / merged int8"))
    assert 1 < float(error.split("|")[2].strip().rstrip("x")) < 10
    for dtype in ("int8", "int8-calibrated"):
        loss = next(row for label, row in zip(labels, rows) if label.startswith(f"head loss from {dtype} / fp16 cache"))
        assert float(loss.split("|")[2].strip().rstrip("x")) == pytest.approx(1, abs=0.05)
    curves = {line.split(" cache training loss")[0]: line.split(":")[-1].split() for line in printed.splitlines() if " cache training loss (" in line}
    assert list(curves) == ["fp16", "int8", "int8-calibrated"] and {len(curve) for curve in curves.values()} == {10}
    assert (tmp_path / "int8 vs fp16-loss.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_missed_target_is_a_fail_at_any_sizes_but_its_own():
    """A FAIL means a miss: judged at the printed precision, and "n/a" only for a target set for
    the default sizes in a run at other sizes."""
    assert verdict(Row("fusion overhead", 6.4, "%", "<= 3%", at_default_sizes=True), default_sizes=True) == "FAIL"
    assert verdict(Row("fusion overhead", 6.4, "%", "<= 3%", at_default_sizes=True), default_sizes=False) == "n/a"
    assert verdict(Row("fusion overhead", 2.9, "%", "<= 3%", at_default_sizes=True), default_sizes=True) == "pass"
    assert verdict(Row("fused peak", 1.3, "x", "<= 1.25x"), default_sizes=False) == "FAIL"
    assert verdict(Row("build", 0.95, "x", "> 0.95x"), default_sizes=True) == "FAIL"
    assert verdict(Row("build", 0.9504, "x", "> 0.95x"), default_sizes=True) == "FAIL"  # prints 0.950x
    assert verdict(Row("bytes", 0.2500004, "x", "<= 0.25x", at_default_sizes=True), default_sizes=True) == "pass"  # prints 0.250x
    assert verdict(Row("Whisper", 3.99, "x", ">= 4x"), default_sizes=True) == "FAIL"
    assert verdict(Row("cosine", 0.2, ""), default_sizes=True) == ""


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


def _per_layer_cosines(printed: str) -> dict[str, list[float]]:
    """{"0.5": [embedding, layer 1, ...], ...} from the bench's "cosine exact vs pad30 per layer, S s:" lines."""
    lines = [line for line in printed.splitlines() if line.startswith("cosine exact vs pad30 per layer")]
    return {line.split(", ")[1].split(" s:")[0]: [float(value) for value in line.split(":")[1].split()] for line in lines}


@pytest.mark.skipif(not WHISPER_TINY_EN.is_dir(), reason="needs ../shared/models/whisper-tiny.en (a real pretrained checkpoint)")
def test_whisper_option_measures_length_modes_on_the_pretrained_checkpoint_and_speech(capsys):
    cli_main(["bench", "--quick", "--whisper", str(WHISPER_TINY_EN)])
    printed = capsys.readouterr().out
    weights_line = printed.splitlines()[1]
    assert weights_line.startswith(f"Whisper length modes on pretrained {WHISPER_TINY_EN} (5 hidden states x 384, float32), synthetic speech (160 utterances of ")
    rows = {row.split("|")[1].strip(): row.split("|")[2].strip() for row in printed.splitlines() if row.startswith("| ")}
    cosines = _per_layer_cosines(printed)
    assert sorted(cosines) == ["0.5", "1", "2"]
    for seconds, per_layer in cosines.items():
        assert len(per_layer) == 5  # tiny.en: embedding + 4 layers
        assert per_layer[0] > 0.9995  # the embedding sees the same frames in both modes
        assert float(rows[f"Whisper exact vs pad30 cosine, {seconds} s (min over layers)"]) == pytest.approx(min(per_layer), abs=1e-3)
        assert float(rows[f"Whisper pad30 / exact time, {seconds} s audio"].rstrip("x")) > 1
    # pretrained weights on speech: the modes stay close, and closer on longer audio
    assert 0.9 < cosines["2"][-1] < 0.99
    assert cosines["0.5"][-1] < cosines["2"][-1]


@pytest.mark.parametrize(
    "config, error, message",
    [(None, FileNotFoundError, "no config.json there"), ({"model_type": "wavlm"}, ValueError, "model_type 'wavlm'; give a Whisper checkpoint folder")],
)
def test_whisper_option_names_a_folder_that_is_not_a_whisper_checkpoint(tmp_path, capsys, config, error, message):
    folder = tmp_path / "bench-out" / "not-whisper"
    folder.mkdir(parents=True)
    if config is not None:
        (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(error, match=re.escape(f"--whisper {folder}: ") + ".*" + re.escape(message)):
        pretrained_whisper(str(folder))
    with pytest.raises(SystemExit) as ended:
        cli_main(["bench", "--quick", "--whisper", str(folder)])
    assert ended.value.code == 2 and re.search(re.escape(f"error: --whisper {folder}: ") + ".*" + re.escape(message), capsys.readouterr().err)


def test_corpus_speech_joins_consecutive_utterances_to_the_exact_length():
    utterances = [read_waveform(path) for path in collect_audio_files([], [str(LIBRISPEECH_MINI)])]
    waveforms = CorpusSpeech(LIBRISPEECH_MINI).batch(seconds=5.0, count=4)
    assert [wav.numel() for wav in waveforms] == [80000] * 4
    for index, wav in enumerate(waveforms):
        first = index * len(utterances) // 4
        expected = torch.cat(utterances[first:] + utterances[:first])[:80000]
        assert torch.equal(wav, expected)
    assert all(wav.abs().max() > 0.05 for wav in waveforms)


def test_the_synthetic_table_one_gives_every_cell_an_interval_and_the_fused_rows_their_gains(tmp_path):
    """The bench's report input: the paper's 13 Table I rows x 5 tasks, each task's kind of outcomes
    (pooled and per-stratum ratios, an EER over speakers), each cell near the paper's number."""
    assert write_table_one(tmp_path / "results", utterances=400) == 65
    write_report(tmp_path / "results", tmp_path / "report", bootstrap=50)
    with open(tmp_path / "report" / "main.csv", newline="", encoding="utf-8") as file:
        rows = list(csv.DictReader(file))
    assert len(rows) == 13
    for row in rows:
        for column in ("ls_wer", "mono_cer", "multi_cer", "sv_eer", "er_acc"):
            assert float(row[f"{column}_low"]) <= float(row[column]) <= float(row[f"{column}_high"]), (row["upstreams"], column)
            assert float(row[column]) == pytest.approx(float(row[f"{column}_paper"]), abs=max(3 * (float(row[f"{column}_high"]) - float(row[f"{column}_low"])), 1.0))
    with open(tmp_path / "report" / "comparisons.csv", newline="", encoding="utf-8") as file:
        kinds = [row["kind"] for row in csv.DictReader(file)]
    # fused rows with both members' single rows: Whisper+WavLM (4 interfaces, WS and HConv singles) -> 2 per task
    assert kinds.count("fused vs best single") == 2 * 5 and kinds.count("interface vs WS") == (1 + 1 + 3 + 3) * 5
