"""The documentation site (mkdocs.yml, docs/) builds with ``--strict``: a broken link or anchor, a
page missing from the navigation or a navigation entry without its page fails the suite."""
from __future__ import annotations

import subprocess
import sys

from conftest import REPO_ROOT


def test_the_site_builds_strictly(tmp_path):
    built = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=120,
    )
    assert built.returncode == 0, built.stderr
    assert (tmp_path / "site" / "cache" / "index.html").is_file()
