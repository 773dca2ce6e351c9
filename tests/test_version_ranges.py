"""setup.cfg's version ranges: every lower bound is a version that was run (constraints-oldest.txt
pins it, and `bash run.sh test-oldest` tests with it), and the installed versions lie in the ranges."""
from __future__ import annotations

import configparser
from importlib.metadata import PackageNotFoundError, version

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from conftest import REPO_ROOT

SETUP_CFG = REPO_ROOT / "setup.cfg"
OLDEST = REPO_ROOT / "constraints-oldest.txt"
NEWEST = REPO_ROOT / "constraints.txt"


def _requirements(extras: bool = True) -> list[Requirement]:
    """install_requires and (``extras``) every extra of setup.cfg."""
    config = configparser.ConfigParser()
    config.read(SETUP_CFG)
    lines = config["options"]["install_requires"].splitlines()
    if extras:
        lines += [line for extra in config["options.extras_require"].values() for line in extra.splitlines()]
    return [Requirement(line) for line in lines if line.strip()]


def _pins(constraints_file) -> dict[str, Version]:
    """{canonical name: pinned version} from a pip constraints file of ``name==version`` lines."""
    pins = {}
    for line in constraints_file.read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            name, pinned = line.split("==")
            pins[canonicalize_name(name)] = Version(pinned)
    return pins


def _lower_bound(requirement: Requirement) -> Version:
    bounds = [Version(spec.version) for spec in requirement.specifier if spec.operator == ">="]
    assert len(bounds) == 1, f"setup.cfg: {requirement} needs exactly one >= lower bound"
    return bounds[0]


def test_every_lower_bound_is_pinned_in_the_oldest_constraints_and_nothing_else_is():
    oldest = _pins(OLDEST)
    bounds = {canonicalize_name(requirement.name): _lower_bound(requirement) for requirement in _requirements()}
    assert bounds == oldest


@pytest.mark.parametrize("constraints_file", [OLDEST, NEWEST], ids=["oldest", "newest"])
def test_the_pinned_sets_lie_inside_the_ranges(constraints_file):
    pins = _pins(constraints_file)
    for requirement in _requirements():
        pinned = pins[canonicalize_name(requirement.name)]
        assert requirement.specifier.contains(pinned, prereleases=True), f"{constraints_file.name} pins {requirement.name}=={pinned}, outside setup.cfg's {requirement}"


def test_installed_versions_lie_inside_the_ranges():
    """Every requirement is installed in a version its range admits; an extra's (the oldest
    environment leaves out the superb extra) is checked where it is installed."""
    required = {requirement.name for requirement in _requirements(extras=False)}
    for requirement in _requirements():
        try:
            installed = Version(version(requirement.name))
        except PackageNotFoundError:
            assert requirement.name not in required, f"{requirement.name} is required but not installed"
            continue
        assert requirement.specifier.contains(installed, prereleases=True), f"installed {requirement.name} {installed} is outside setup.cfg's {requirement}"
