"""The paper's numbers live in one data file (s3prl_fusion/data/paper_results.yaml): the tables of
docs/tasks.md ("The paper's tables") print the same numbers, and the report reads exactly them."""
from __future__ import annotations

import re

import yaml

from conftest import REPO_ROOT
from s3prl_fusion.results.report import INTERFACE_TITLES, MAIN_COLUMNS, PAPER_RESULTS_FILE, paper_rows

TABLES_PAGE = REPO_ROOT / "docs" / "tasks.md"
TABLE_I_HEADING = "Paper's Table I (base models), for comparison:"
TABLE_II_PREFIX = "Table II (large): "
# the page's short metric names in the Table II sentence -> column keys
SHORT_METRICS = {"LS": "ls_wer", "Mono-1h": "mono_cer", "Multi-1h": "multi_cer", "SV": "sv_eer", "ER": "er_acc"}


def data_tables() -> dict[str, list[dict]]:
    return yaml.safe_load(PAPER_RESULTS_FILE.read_text(encoding="utf-8"))


def numbers(entry: dict) -> dict[str, float]:
    return {column.key: entry[column.key] for column in MAIN_COLUMNS if column.key in entry}


def page_table_i() -> dict[tuple[str, str], dict[str, float]]:
    """{(paper's upstream label, interface title): {column key: value}} of the page's Table I."""
    lines = TABLES_PAGE.read_text(encoding="utf-8").splitlines()
    start = lines.index(TABLE_I_HEADING) + 2
    header = [cell.strip() for cell in lines[start].strip("|").split("|")]
    assert header[:2] == ["upstream", "interface"]
    keys = [{column.title: column.key for column in MAIN_COLUMNS}[title] for title in header[2:]]
    rows = {}
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        label, interface, *cells = [cell.strip() for cell in line.strip("|").split("|")]
        assert (label, interface) not in rows, f"the page's Table I has {label} {interface} twice"
        rows[label, interface] = {key: float(cell) for key, cell in zip(keys, cells) if cell != "-"}
    return rows


def page_table_ii() -> list[tuple[str, dict[str, float]]]:
    """(interface title, {column key: value}) of each line ``Table II (large): <upstreams>, <interface>: <metric> <value>, ...``."""
    rows = []
    for line in TABLES_PAGE.read_text(encoding="utf-8").splitlines():
        if line.startswith(TABLE_II_PREFIX):
            interface, cells = re.fullmatch(r"[^:]+, (\w+): (.+)\.", line.removeprefix(TABLE_II_PREFIX)).groups()
            metrics = [cell.rsplit(" ", 1) for cell in cells.split(", ")]
            rows.append((interface, {SHORT_METRICS[metric]: float(value) for metric, value in metrics}))
    return rows


def test_page_table_i_prints_the_data_files_numbers():
    expected = {(entry["paper"], INTERFACE_TITLES[entry["interface"]]): numbers(entry) for entry in data_tables()["table_i"]}
    assert page_table_i() == expected


def test_page_table_ii_prints_the_data_files_numbers():
    expected = [(INTERFACE_TITLES[entry["interface"]], numbers(entry)) for entry in data_tables()["table_ii"]]
    assert page_table_ii() == expected


def test_report_reads_every_row_and_number_of_the_data_file():
    expected = {
        (entry["upstreams"], entry["interface"]): (entry["paper"], numbers(entry))
        for entries in data_tables().values() for entry in entries
    }
    assert paper_rows() == expected
    assert sum(len(entries) for entries in data_tables().values()) == len(expected)  # no row read over another
