"""`s3prl-fusion report`: a cell that is not the paper's kind of number (a Mono-1h mean over a part of
the pairs, an emotion mean over a part of the folds, an SV EER of one checkpoint instead of the best
on test) is marked and explained in the Markdown, the CSV and the chart, and set beside no paper number."""
from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from s3prl_fusion.results.report import MONO_LANGUAGES, collect_rows, paper_rows, plot_main_table, write_report


def write_result(folder: Path, task: str, interface: str, value: float, **extra) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    members = [{"label": "wavlm", "kind": "hf", "source": "microsoft/wavlm-base-plus"},
               {"label": "whisper_small", "kind": "whisper", "source": "whisper_small", "length_mode": "exact"}]
    result = {"task": task, "split": "test", "upstream": "fused_wavlm_whisper", "interface": interface, "value": value, "members": members, **extra}
    (folder / "result.json").write_text(json.dumps(result))


@pytest.fixture()
def results(tmp_path) -> Path:
    root = tmp_path / "results"
    complete = {language: 20.0 for language in MONO_LANGUAGES}
    write_result(root / "chconv/mono", "ml_superb", "chconv", 23.0, mode="mono", per_language={"eng1": 20.0, "jpn": 26.0},
                 missing_languages=[language for language in MONO_LANGUAGES if language not in ("eng1", "jpn")])
    write_result(root / "hconv/mono", "ml_superb", "hconv", 20.0, mode="mono", per_language=complete, missing_languages=[])
    write_result(root / "hconv/sv", "sv_voxceleb1", "hconv", 3.0, selection="best-test", step=12)
    write_result(root / "ws/sv", "sv_voxceleb1", "ws", 2.5, step=8)  # SV_SELECT=newest: one checkpoint
    write_result(root / "ws/emotion", "emotion", "ws", 60.0, per_fold={"fold1": 60.0})
    write_result(root / "hconv/emotion", "emotion", "hconv", 50.0, per_fold={f"fold{n}": 50.0 for n in range(1, 6)})
    return root


def paper(interface: str, column: str) -> str:
    return f"{paper_rows()['Whisper+WavLM', interface][1][column]:.2f}"


def test_markdown_marks_partial_and_otherwise_selected_cells_and_sets_no_paper_number_beside_them(results, tmp_path):
    write_report(results, tmp_path / "report")
    markdown = (tmp_path / "report" / "main.md").read_text()
    rows = {line.split(" | ")[1]: line.split(" | ") for line in markdown.splitlines() if line.startswith("| Whisper+WavLM |")}
    header = next(line for line in markdown.splitlines() if line.startswith("| Upstreams")).split(" | ")
    cell = {(interface, title): cells[header.index(title)] for interface, cells in rows.items() for title in header}
    assert cell["CHConv", "Mono-1h CER ↓"] == "23.00\\*" and cell["CHConv", "paper Mono-1h CER"] == "-"
    assert cell["HConv", "Mono-1h CER ↓"] == "**20.00**" and cell["HConv", "paper Mono-1h CER"] == paper("hconv", "mono_cer")
    assert cell["WS", "SV EER ↓"] == "2.50†" and cell["WS", "paper SV EER"] == "-"
    assert cell["HConv", "SV EER ↓"] == "**3.00**"  # the lower 2.50 is of another selection: not compared
    assert cell["WS", "ER acc ↑"] == "60.00\\*" and cell["HConv", "ER acc ↑"] == "**50.00**"
    missing = ", ".join(language for language in MONO_LANGUAGES if language not in ("eng1", "jpn"))
    assert (f"- \\* Whisper+WavLM CHConv (exact), Mono-1h CER: mean of 2 of 13 Mono-1h pairs, missing {missing} "
            f"(the paper's {paper('chconv', 'mono_cer')} is not set beside it: it is not the same measure)") in markdown
    assert "- † Whisper+WavLM WS (exact), SV EER: EER of one checkpoint (step 8), not the best of every checkpoint on the test trials" in markdown
    assert "- \\* Whisper+WavLM WS (exact), ER acc: mean of 1 of 5 folds, missing fold2, fold3, fold4, fold5" in markdown
    per_language = (tmp_path / "report" / "per_language.md").read_text()
    assert "| 23.00\\* |" in per_language and f"- \\* Whisper+WavLM CHConv (exact), average: mean of 2 of 13 Mono-1h pairs, missing {missing}\n" in per_language


def test_csv_notes_each_marked_cell_and_leaves_its_paper_number_out(results, tmp_path):
    write_report(results, tmp_path / "report")
    with open(tmp_path / "report" / "main.csv", newline="", encoding="utf-8") as file:
        rows = {row["interface"]: row for row in csv.DictReader(file)}
    chconv, hconv, ws = rows["chconv"], rows["hconv"], rows["ws"]
    assert (chconv["mono_cer"], chconv["mono_cer_best"], chconv["mono_cer_paper"]) == ("23.00", "0", "-")
    assert chconv["mono_cer_note"].startswith("* mean of 2 of 13 Mono-1h pairs, missing eng2, eng3, fra1")
    assert (hconv["mono_cer_note"], hconv["mono_cer_paper"], hconv["mono_cer_best"]) == ("", paper("hconv", "mono_cer"), "1")
    assert ws["sv_eer_note"].startswith("† EER of one checkpoint (step 8)") and (ws["sv_eer_paper"], ws["sv_eer_best"]) == ("-", "0")
    assert (hconv["sv_eer_note"], hconv["sv_eer_best"]) == ("", "1")
    assert ws["er_acc_note"] == "* mean of 1 of 5 folds, missing fold2, fold3, fold4, fold5"


def test_chart_marks_the_bars_of_marked_cells_notes_them_and_draws_no_paper_tick_for_them(results, tmp_path):
    rows = collect_rows(results)
    figure = plot_main_table(tmp_path / "main.png", rows)
    assert (tmp_path / "main.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    mono, sv = figure.axes[1], figure.axes[3]
    labels = [row.title() for row in rows]
    assert [text.get_text() for text in mono.texts] == ["*"] and [text.get_text() for text in sv.texts] == ["†"]
    assert [bar.get_hatch() for bar in mono.patches] == ["//" if label.startswith("Whisper+WavLM CHConv") else None for label in labels]
    ticks = {int(position): value for collection in mono.collections for value, position in collection.get_offsets()}
    assert ticks[labels.index("Whisper+WavLM HConv (exact)")] == pytest.approx(float(paper("hconv", "mono_cer")))
    assert labels.index("Whisper+WavLM CHConv (exact)") not in ticks  # the paper has one, but not beside a partial mean
    notes = " ".join(text.get_text() for text in figure.texts)
    assert "* Whisper+WavLM CHConv (exact), Mono-1h CER: mean of 2 of 13 Mono-1h pairs" in notes and "† Whisper+WavLM WS (exact), SV EER" in notes
