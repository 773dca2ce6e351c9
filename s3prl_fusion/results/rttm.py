"""RTTM speaker turns: reading and writing ``SPEAKER`` lines.

A line is ``SPEAKER <recording> <channel> <onset s> <duration s> <NA> <NA> <speaker> <NA> [<NA>]``
(NIST's RTTM: ten fields; s3prl's ``make_rttm.py`` and SUPERB's LibriMix preparation write nine).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from s3prl_fusion.errors import UserError


class RttmError(UserError, ValueError):
    """An RTTM line that is not a speaker turn."""


@dataclass(frozen=True)
class Turn:
    """One speaker's speech from ``onset`` for ``duration`` seconds in ``recording``."""

    recording: str
    onset: float
    duration: float
    speaker: str

    @property
    def end(self) -> float:
        return self.onset + self.duration


def read_rttm(path: Path) -> list[Turn]:
    """The ``SPEAKER`` turns of an RTTM file, in file order (blank lines skipped)."""
    turns = []
    for number, line in enumerate(Path(path).read_text().splitlines(), start=1):
        fields = line.split()
        if not fields:
            continue
        if fields[0] != "SPEAKER" or len(fields) not in (9, 10):
            raise RttmError(f"{path}:{number} is not an RTTM speaker turn (SPEAKER <recording> <channel> <onset> <duration> <NA> <NA> <speaker> <NA> [<NA>]): {line!r}")
        try:
            onset, duration = float(fields[3]), float(fields[4])
        except ValueError:
            raise RttmError(f"{path}:{number}: onset {fields[3]!r} and duration {fields[4]!r} must be seconds") from None
        turns.append(Turn(fields[1], onset, duration, fields[7]))
    return turns


def rttm_line(turn: Turn, decimals: int = 3) -> str:
    """``turn`` as a ten-field RTTM line, times to ``decimals`` places (s3prl's ``make_rttm.py`` prints 2)."""
    return f"SPEAKER {turn.recording} 1 {turn.onset:.{decimals}f} {turn.duration:.{decimals}f} <NA> <NA> {turn.speaker} <NA> <NA>"


def write_rttm(turns, path: Path, decimals: int = 3) -> None:
    Path(path).write_text("".join(rttm_line(turn, decimals) + "\n" for turn in turns))
