"""The training run's length, as an interface that follows a schedule needs to know it."""
from __future__ import annotations

from dataclasses import dataclass

from s3prl_fusion.errors import SettingError


@dataclass(frozen=True)
class RunLength:
    """How long the training run is.

    Attributes:
        total_updates: optimizer updates the run is configured for (s3prl's
            ``runner.total_steps``), or None where no run is known.
        source: where ``total_updates`` comes from, for start-up lines and messages.
    """

    total_updates: int | None = None
    source: str = "runner.total_steps"

    def __post_init__(self):
        if self.total_updates is not None and int(self.total_updates) < 1:
            raise SettingError(f"{self.source}={self.total_updates} must be a positive number of optimizer updates")
