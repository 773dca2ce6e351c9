"""Views of a module that differ from it in a few attributes: how a patch changes what one s3prl
module sees of ``torch`` or ``os`` without changing them for the rest of the process."""
from __future__ import annotations

import types


def module_with(module: types.ModuleType, **replacements) -> types.ModuleType:
    """A view of ``module`` that is identical but for the attributes in ``replacements``."""

    class ModuleView(types.ModuleType):
        def __getattr__(self, name):
            return getattr(module, name)

    view = ModuleView(module.__name__)
    for name, value in replacements.items():
        setattr(view, name, value)
    return view
