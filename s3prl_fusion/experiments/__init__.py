"""Experiment folders: checkpoints (atomic writes, rotation), resuming with ``-e`` (``resume``: which checkpoint;
``resume_flags``: flags typed with ``-e`` that contradict it), s3prl's flags as typed (``command_line``), task configs,
data-path checks, the packages a task's s3prl code imports (``task_dependencies``), atomic file writes, the
recipes' save/eval steps of short runs (``run_steps``) and a checkpoint's upstream built again (``checkpoint_upstream``)."""
