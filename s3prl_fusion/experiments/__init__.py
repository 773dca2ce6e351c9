"""Experiment folders: checkpoints (atomic writes, rotation), resuming with ``-e`` (``resume``: which checkpoint;
``resume_flags``: flags typed with ``-e`` that contradict it), s3prl's flags as typed (``command_line``), task configs,
data-path checks and atomic file writes."""
