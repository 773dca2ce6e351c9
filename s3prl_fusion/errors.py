"""The plugin's user-facing errors, and how every entry point reports them.

A ``UserError`` is a mistake the user can fix (an unknown name, a bad setting, missing data, a
mismatched checkpoint or cache, bad audio); its message says what to fix. Every entry point
(``s3prl-fusion ...``, ``python -m s3prl_fusion.run_downstream``, and s3prl's own
``run_downstream.py`` in a checkout) prints the message alone and exits with status 2.
``S3PRL_FUSION_TRACEBACK=1`` prints the traceback too, for bug reports.
"""
from __future__ import annotations

import difflib
import os
import sys
import traceback

USAGE_EXIT_STATUS = 2
TRACEBACK_ENV = "S3PRL_FUSION_TRACEBACK"


class UserError(Exception):
    """A mistake in what the user gave (flags, settings, data, checkpoints); the message names the fix."""


class UnknownNameError(UserError, ValueError):
    """A name (upstream, member, interface, setting, task) that is not one of the valid ones."""


class SettingError(UserError, ValueError):
    """A setting whose value cannot be used."""


class MissingPathError(UserError, FileNotFoundError):
    """A file or folder the user named does not exist."""


def did_you_mean(name: str, choices, n: int = 3, cutoff: float = 0.5) -> str:
    """`` Did you mean a, b?`` for the choices closest to ``name``, or nothing."""
    nearest = difflib.get_close_matches(str(name), list(choices), n=n, cutoff=cutoff)
    return f" Did you mean {', '.join(nearest)}?" if nearest else ""


def user_error_in(error: BaseException) -> UserError | None:
    """The UserError that ``error`` is or was explicitly raised from (``raise ... from``).

    An error that merely happened while a UserError was being handled (its ``__context__``) is a
    bug, not the user's mistake, and keeps its traceback."""
    seen = set()
    while error is not None and id(error) not in seen:
        if isinstance(error, UserError):
            return error
        seen.add(id(error))
        error = error.__cause__
    return None


def user_message(error: UserError) -> str:
    """``error``'s own message; one raised in a DataLoader worker is re-raised by torch with the
    worker's traceback in its message, which is left out."""
    text = str(error)
    if not text.startswith(f"Caught {type(error).__name__} in DataLoader worker process"):
        return text
    raised = f"\n{type(error).__module__}.{type(error).__qualname__}: "
    return text.rpartition(raised)[2].strip() if raised in text else text


def report(error: UserError) -> None:
    """Print ``error``'s message (and the traceback when asked for) to stderr."""
    if os.environ.get(TRACEBACK_ENV):
        traceback.print_exception(error)
    print(f"error: {user_message(error)}", file=sys.stderr)


def report_user_errors(main):
    """Decorate an entry point: a UserError ends it with its message and exit status 2."""

    def wrapped(*args, **kwargs):
        try:
            return main(*args, **kwargs)
        except Exception as error:
            user_error = user_error_in(error)
            if user_error is None:
                raise
            report(user_error)
            raise SystemExit(USAGE_EXIT_STATUS) from None

    wrapped.__name__, wrapped.__doc__ = main.__name__, main.__doc__
    return wrapped


def install_excepthook() -> None:
    """Report an uncaught UserError as a message and exit status 2 in any script (s3prl's own
    ``run_downstream.py`` runs as ``__main__``, so no call of it can be wrapped)."""
    if getattr(sys.excepthook, "reports_user_errors", False):
        return
    stock_hook = sys.excepthook

    def excepthook(kind, error, trace):
        user_error = user_error_in(error)
        if user_error is None:
            return stock_hook(kind, error, trace)
        report(user_error)
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(USAGE_EXIT_STATUS)  # an excepthook cannot choose the exit status otherwise

    excepthook.reports_user_errors = True
    sys.excepthook = excepthook
