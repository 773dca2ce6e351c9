"""The package's modules import one another without a cycle, checked statically.

Every ``.py`` file of ``s3prl_fusion`` is parsed, and an edge runs from a module to each module
of the package it imports, at module level or inside a function: ``import a.b``, ``from a
import b`` (to ``a.b`` when that is a module, else to ``a``), relative imports, and string
literals given to ``importlib.import_module``. A package counts as its ``__init__``; importing a
module of a package from outside that package is also an edge to the package, whose
``__init__`` runs first.
"""
from __future__ import annotations

import ast
from pathlib import Path

import s3prl_fusion

PACKAGE_ROOT = Path(s3prl_fusion.__file__).resolve().parent

# (importer, imported) edges left out while the modules they join are being moved; each one
# closes a cycle through modules whose owners are moving them, and goes when they have moved.
ALLOWED_CYCLE_EDGES_WHILE_MODULES_MOVE: set[tuple[str, str]] = set()


def module_name(path: Path, root: Path = PACKAGE_ROOT) -> str:
    parts = path.relative_to(root.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def package_modules(root: Path = PACKAGE_ROOT) -> dict[str, Path]:
    """{dotted module name: its file}; a package is named by its ``__init__.py``."""
    return {module_name(path, root): path for path in sorted(root.rglob("*.py"))}


def _import_module_literal(node: ast.Call) -> str | None:
    """The module named by ``importlib.import_module("...")`` / ``import_module("...")``, else None."""
    function = node.func
    name = function.attr if isinstance(function, ast.Attribute) else function.id if isinstance(function, ast.Name) else None
    if name != "import_module" or not node.args:
        return None
    argument = node.args[0]
    return argument.value if isinstance(argument, ast.Constant) and isinstance(argument.value, str) else None


def _absolute(module: str, is_package: bool, level: int, target: str | None) -> str:
    """The absolute name of ``from <level dots><target> import ...`` written in ``module``."""
    if level == 0:
        return target or ""
    package = module.split(".") if is_package else module.split(".")[:-1]
    base = package[: len(package) - (level - 1)]
    return ".".join(base + ([target] if target else []))


def _ancestors(name: str) -> list[str]:
    parts = name.split(".")
    return [".".join(parts[:end]) for end in range(1, len(parts))]


def imported_modules(module: str, path: Path, modules: set[str]) -> set[str]:
    """The modules of ``modules`` that ``module`` (in ``path``) imports anywhere in its file,
    with the packages it enters from outside."""
    named: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            named.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            source = _absolute(module, path.name == "__init__.py", node.level, node.module)
            named.update(f"{source}.{alias.name}" if f"{source}.{alias.name}" in modules else source for alias in node.names)
        elif isinstance(node, ast.Call) and (literal := _import_module_literal(node)):
            named.add(literal)
    own_packages = {module, *_ancestors(module)}
    entered = {package for name in named for package in _ancestors(name) if package not in own_packages}
    return {name for name in named | entered if name in modules and name != module}


def import_graph(root: Path = PACKAGE_ROOT) -> dict[str, set[str]]:
    """{module: the package's modules it imports}, over every module of the package."""
    modules = package_modules(root)
    return {name: imported_modules(name, path, set(modules)) for name, path in modules.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle ``[m0, m1, ..., m0]`` through each group of modules that import one another
    (each strongly connected component with a cycle), or [] when there is none."""
    found, done = [], set()
    for start in sorted(graph):
        if start in done:
            continue
        path, on_path, cycle = [], set(), None
        stack = [(start, iter(sorted(graph.get(start, ()))))]
        path.append(start)
        on_path.add(start)
        while stack and cycle is None:
            node, successors = stack[-1]
            successor = next(successors, None)
            if successor is None:
                stack.pop()
                path.pop()
                on_path.discard(node)
                done.add(node)
            elif successor in on_path:
                cycle = path[path.index(successor):] + [successor]
            elif successor not in done:
                stack.append((successor, iter(sorted(graph.get(successor, ())))))
                path.append(successor)
                on_path.add(successor)
        if cycle is not None:
            found.append(cycle)
            done.update(_reachable_from(cycle[0], graph) & _reaching(cycle[0], graph))
    return found


def _reachable_from(node: str, graph: dict[str, set[str]]) -> set[str]:
    seen, todo = {node}, [node]
    while todo:
        for successor in graph.get(todo.pop(), ()):
            if successor not in seen:
                seen.add(successor)
                todo.append(successor)
    return seen


def _reaching(node: str, graph: dict[str, set[str]]) -> set[str]:
    reversed_graph: dict[str, set[str]] = {}
    for source, targets in graph.items():
        for target in targets:
            reversed_graph.setdefault(target, set()).add(source)
    return _reachable_from(node, reversed_graph)


def test_graph_sees_function_level_relative_and_importlib_imports(tmp_path):
    package = tmp_path / "pkg"
    (package / "sub").mkdir(parents=True)
    for name in ("__init__.py", "b.py", "c.py", "d.py", "sub/__init__.py", "sub/e.py"):
        (package / name).write_text("")
    (package / "probe.py").write_text(
        "import importlib\n"
        "from . import b\n"
        "def f():\n"
        "    from .c import thing\n"
        "    return importlib.import_module('pkg.d')\n"
        "import pkg.sub.e\n"
    )
    (package / "sub" / "e.py").write_text("from ..b import thing\n")
    (package / "sub" / "f.py").write_text("from . import e, thing\n")
    graph = import_graph(package)
    assert graph["pkg.probe"] == {"pkg.b", "pkg.c", "pkg.d", "pkg.sub", "pkg.sub.e"}  # entering pkg.sub runs its __init__
    assert graph["pkg.sub.e"] == {"pkg.b"}
    assert graph["pkg.sub.f"] == {"pkg.sub", "pkg.sub.e"}


def test_cycles_names_one_cycle_per_group():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "x": {"y"}, "y": {"x", "a"}}) == [["a", "b", "c", "a"], ["x", "y", "x"]]
    assert cycles({"a": {"b"}, "b": set(), "c": {"a", "b"}}) == []


def test_package_has_no_import_cycle():
    graph = import_graph()
    assert graph["s3prl_fusion.s3prl_adapter.patches.registration"] >= {"s3prl_fusion.upstreams", "s3prl_fusion.cache.upstream"}, "the walk missed imports"
    for source, target in ALLOWED_CYCLE_EDGES_WHILE_MODULES_MOVE:
        graph[source].discard(target)
    found = cycles(graph)
    assert not found, "import cycles:\n" + "\n".join(" -> ".join(cycle) for cycle in found)


INTERNALS = "s3prl_fusion.s3prl_adapter.internals"
# what the adapter's low floor may import of the plugin: the packages it sits in, and the errors
INTERNALS_MAY_IMPORT = {"s3prl_fusion", "s3prl_fusion.s3prl_adapter", "s3prl_fusion.errors"}


def _imports_s3prl(path: Path) -> bool:
    """Whether the file imports s3prl itself (``import s3prl...`` / ``from s3prl... import``)."""
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        names = [alias.name for alias in node.names] if isinstance(node, ast.Import) else [node.module or ""] if isinstance(node, ast.ImportFrom) and node.level == 0 else []
        if any(name == "s3prl" or name.startswith("s3prl.") for name in names):
            return True
    return False


def test_adapter_internals_sit_below_every_other_room():
    """The plugin's door out to s3prl (``s3prl_adapter.internals``) imports no room of the plugin
    but the errors, so the upstreams and the cache can use it without a cycle through the patches."""
    graph = import_graph()
    internals = {name for name in graph if name == INTERNALS or name.startswith(INTERNALS + ".")}
    assert internals >= {f"{INTERNALS}.hub", f"{INTERNALS}.targets"}, "the adapter's internals moved: update this test"
    for module in sorted(internals):
        outside = graph[module] - internals - INTERNALS_MAY_IMPORT
        assert not outside, f"{module} imports {sorted(outside)}: the adapter's low floor imports no plugin room but errors"


def test_only_the_adapter_imports_s3prl():
    """Every touch of s3prl sits in ``s3prl_adapter``: no other module of the package imports s3prl."""
    modules = package_modules()
    outside = sorted(name for name, path in modules.items() if not name.startswith("s3prl_fusion.s3prl_adapter") and _imports_s3prl(path))
    assert any(_imports_s3prl(path) for name, path in modules.items() if name.startswith(INTERNALS)), "the s3prl import check found nothing"
    assert not outside, f"modules outside s3prl_adapter import s3prl: {outside}"
