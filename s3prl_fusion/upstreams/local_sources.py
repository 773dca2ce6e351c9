"""Member sources written as local paths: told apart from Hugging Face ids, and checked to exist.

A source written as a local path must exist: it is not passed on to Hugging Face, which would
read it as a repository id.
"""
from __future__ import annotations

import os
from pathlib import Path

from s3prl_fusion.errors import MissingPathError


def local_path_named(source: str) -> bool:
    """Whether a member source is written as a local path rather than a Hugging Face id (``org/name``
    or a bare ``name``) or a URL: it is absolute, starts with ``~``, ``./`` or ``../`` (or is ``.``
    / ``..``), has a backslash on Windows, or has more than one ``/`` or an empty part between them."""
    if "://" in source:
        return False
    if source.startswith("~") or os.path.isabs(source) or (os.sep != "/" and os.sep in source):
        return True
    parts = source.split("/")
    return parts[0] in (".", "..") or len(parts) > 2 or (len(parts) == 2 and "" in parts)


def check_local_source(source: str, what: str = "member source", directory: bool = True) -> None:
    """Raise MissingPathError when ``source`` is written as a local path that does not exist (or,
    for a ``directory`` source, is not a folder saved by ``save_pretrained``)."""
    path = Path(source)
    if path.exists():
        if directory and not path.is_dir():
            raise MissingPathError(
                f"{what} {source} is a file; give the folder save_pretrained wrote (with config.json) or a Hugging Face id (org/name)"
            )
        if directory and not (path / "config.json").is_file():
            raise MissingPathError(f"{what} {source}: the local directory has no config.json; give a folder written by save_pretrained")
        return
    if not local_path_named(source):
        return
    tilde = f" ('~' is not expanded here: write {os.path.expanduser(source)})" if source.startswith("~") else ""
    kind = "local directory" if directory else "local file"
    raise MissingPathError(
        f"{what} {source}: {kind} {path.absolute()} does not exist{tilde}. "
        "A Hugging Face id is written org/name; anything else with a / is read as a local path."
    )
