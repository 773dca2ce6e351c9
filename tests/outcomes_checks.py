"""The check every evaluated experiment's ``result.json`` passes: it records its per-utterance
outcomes file (not the rows), the file's checksum verifies, the reported value is recomputed from
the rows, and a copy of the file changed after scoring is refused."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from s3prl_fusion.results.outcomes import Outcomes, OutcomesError, point_estimate, read_outcomes


def checked_outcomes(result_file: Path, tmp_path: Path, units: str) -> Outcomes:
    result = json.loads(Path(result_file).read_text())
    record = result["outcomes"]
    assert set(record) == {"file", "sha256", "rows", "units", "stratified", "metrics"} and "outcome_units" not in result
    assert record["file"] == f"{result['split']}_outcomes.tsv" and record["units"] == units
    outcomes = read_outcomes(result_file)
    assert len(outcomes) == record["rows"] > 0
    for metric in record["metrics"]:
        reported = result["value"] if metric == "value" else result[metric]
        assert point_estimate(outcomes, metric) == pytest.approx(reported, abs=1e-9)

    tampered = tmp_path / "tampered_outcomes"
    tampered.mkdir()
    shutil.copy(result_file, tampered / "result.json")
    lines = (Path(result_file).parent / record["file"]).read_text().split("\n")
    first = lines[1].split("\t")
    lines[1] = "\t".join([*first[:-1], repr(float(first[-1]) + 1.0)])
    (tampered / record["file"]).write_text("\n".join(lines))
    with pytest.raises(OutcomesError, match="SHA-256 differs"):
        read_outcomes(tampered / "result.json")
    return outcomes
