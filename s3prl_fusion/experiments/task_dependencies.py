"""Packages a task's s3prl code imports that neither s3prl's install nor the plugin's brings
(s3prl lists them only among its development extras), checked before the runner imports the task."""
from __future__ import annotations

import importlib.util

from s3prl_fusion.errors import UserError

# task -> [(module s3prl imports, the pip distribution providing it)]
TASK_DEPENDENCIES = {
    "diarization": [("h5py", "h5py")],
    "quesst14_dtw": [("dtw", "dtw-python"), ("lxml", "lxml")],
}


class MissingTaskDependencyError(UserError, ImportError):
    """A package the task's s3prl code imports is not installed."""


def check_task_dependencies(task: str) -> None:
    """Raise MissingTaskDependencyError naming the pip install that ``-d task`` needs, if any."""
    missing = [distribution for module, distribution in TASK_DEPENDENCIES.get(task, []) if importlib.util.find_spec(module) is None]
    if missing:
        raise MissingTaskDependencyError(
            f"-d {task} needs {', '.join(missing)}, which s3prl's task code imports but installs only with its dev extras: "
            f"pip install {' '.join(missing)} (or the plugin's superb extra: pip install -e '.[superb]')"
        )
