"""The import graph is one-way: read from the sources, not from what happens to be imported.

Every ``.py`` file of every app is parsed with ``ast``. An edge is any ``import`` or
``from ... import`` (at module level, inside functions, under ``TYPE_CHECKING``), any
``import_module("...")`` and any ``apps.get_model("app", ...)`` / ``get_model("app.Model")``
string look-up. Edges between apps must form a DAG, except the upward edges named in
``ALLOWED_UPWARD`` (docs/architecture.md names the same edges, with their reasons);
``outreach/`` is the wiring package at the top: it may import any app and no app imports it.
The module graph must be acyclic too, inside each app and across apps; there an import under
``if TYPE_CHECKING:`` is no edge (two modules may name each other's types without one of them
importing the other when it runs), while between apps it still is a dependency.
"""

from __future__ import annotations

import ast
import itertools
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

APPS = ("core", "organisations", "directory", "segments", "campaigns", "delivery",
        "interventions", "evaluation", "helpline", "learning")
WIRING = "outreach"

# Upward edges kept on purpose, each (importer, imported): reason. docs/architecture.md names
# exactly these, in its "Import graph" section; test_architecture_names_the_allowed_edges checks.
ALLOWED_UPWARD: dict[tuple[str, str], str] = {
    ("campaigns", "evaluation"):
        "the launch gate locks the pre-registered evaluation plan in the launch transaction",
}


@dataclass(frozen=True)
class Edge:
    source: str       # importing module, dotted
    target: str       # imported module (or app, for a model look-up), dotted
    path: Path
    line: int
    how: str          # "import", "function import", "type import", "import_module", "get_model"


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _resolve_relative(module: str, is_package: bool, level: int, name: str | None) -> str:
    base = module.split(".")
    if not is_package:
        base = base[:-1]
    if level > 1:
        base = base[: len(base) - (level - 1)]
    return ".".join([*base, name] if name else base)


def _string_arg(node: ast.Call, index: int) -> str | None:
    if len(node.args) > index:
        arg = node.args[index]
        if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
            return arg.value
        if isinstance(arg, ast.JoinedStr) and arg.values:
            head = arg.values[0]  # f"{app}.tasks": unknown target, still a look-up by string
            if isinstance(head, ast.Constant) and isinstance(head.value, str):
                return head.value or "<dynamic>"
            return "<dynamic>"
        return "<dynamic>"
    return None


def _call_name(node: ast.Call) -> str:
    func = node.func
    if isinstance(func, ast.Attribute):
        return func.attr
    if isinstance(func, ast.Name):
        return func.id
    return ""


class _Collector(ast.NodeVisitor):
    def __init__(self, module: str, is_package: bool, path: Path) -> None:
        self.module, self.is_package, self.path = module, is_package, path
        self.depth = 0
        self.type_only = 0
        self.edges: list[Edge] = []

    def _add(self, target: str, node: ast.AST, how: str) -> None:
        if how == "import" and self.depth:
            how = "function import"
        elif how == "import" and self.type_only:
            how = "type import"
        self.edges.append(Edge(self.module, target, self.path, node.lineno, how))

    def visit_If(self, node: ast.If) -> None:
        test = node.test
        name = test.attr if isinstance(test, ast.Attribute) else getattr(test, "id", "")
        if name != "TYPE_CHECKING":
            self.generic_visit(node)
            return
        self.type_only += 1
        for child in node.body:
            self.visit(child)
        self.type_only -= 1
        for child in node.orelse:
            self.visit(child)

    def _nested(self, node: ast.AST) -> None:
        self.depth += 1
        self.generic_visit(node)
        self.depth -= 1

    visit_FunctionDef = visit_AsyncFunctionDef = visit_Lambda = _nested

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._add(alias.name, node, "import")

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level:
            base = _resolve_relative(self.module, self.is_package, node.level, node.module)
        else:
            base = node.module or ""
        for alias in node.names:
            # "from campaigns import services" imports the module campaigns.services
            self._add(f"{base}.{alias.name}" if alias.name != "*" else base, node, "import")

    def visit_Call(self, node: ast.Call) -> None:
        name = _call_name(node)
        if name in {"import_module", "__import__"}:
            target = _string_arg(node, 0)
            if target is not None:
                self._add(target, node, "import_module")
        elif name == "get_model" and "migrations" not in self.path.parts:
            # (a migration's apps.get_model is the historical model: no import, no edge)
            first = _string_arg(node, 0)
            if first is not None:
                app = first.split(".")[0] if "." in first or len(node.args) < 2 else first
                self._add(app, node, "get_model")
        self.generic_visit(node)


def python_files(root: Path, packages: Iterable[str]) -> Iterator[Path]:
    for package in packages:
        yield from sorted((root / package).rglob("*.py"))


def collect_edges(root: Path, packages: Iterable[str]) -> list[Edge]:
    edges: list[Edge] = []
    for path in python_files(root, packages):
        edges.extend(collect_edges_of(path, root))
    return edges


def app_of(module: str, apps: Iterable[str]) -> str | None:
    head = module.split(".")[0]
    return head if head in set(apps) else None


def known_modules(root: Path, packages: Iterable[str]) -> set[str]:
    return {module_name(path, root) for path in python_files(root, packages)}


def owning_module(target: str, modules: set[str]) -> str | None:
    """The longest known module that is ``target`` or a prefix of it."""
    parts = target.split(".")
    for end in range(len(parts), 0, -1):
        candidate = ".".join(parts[:end])
        if candidate in modules:
            return candidate
    return None


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle as a path [a, b, ..., a], or None. Deterministic (sorted)."""
    white, grey, black = 0, 1, 2
    colour: dict[str, int] = defaultdict(int)
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        colour[node] = grey
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if colour[nxt] == grey:
                return [*stack[stack.index(nxt):], nxt]
            if colour[nxt] == white:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        colour[node] = black
        return None

    for node in sorted(graph):
        if colour[node] == white:
            found = visit(node)
            if found:
                return found
    return None


def app_graph(edges: Iterable[Edge], apps: Iterable[str],
              allowed: Iterable[tuple[str, str]] = ()) -> dict[str, dict[str, list[Edge]]]:
    """importer app -> imported app -> the edges that make the arrow (allowed arrows dropped)."""
    apps, allowed = tuple(apps), set(allowed)
    graph: dict[str, dict[str, list[Edge]]] = defaultdict(lambda: defaultdict(list))
    for edge in edges:
        source, target = app_of(edge.source, apps), app_of(edge.target, apps)
        if source and target and source != target and (source, target) not in allowed:
            graph[source][target].append(edge)
    return graph


def module_graph(edges: Iterable[Edge], apps: Iterable[str],
                 modules: set[str]) -> dict[str, dict[str, list[Edge]]]:
    """Between the modules of ``apps``: module -> module it imports. An app's ``__init__`` is
    left out as a target (importing ``app.sub`` runs it, but it is no dependency of the
    caller)."""
    apps = tuple(apps)
    graph: dict[str, dict[str, list[Edge]]] = defaultdict(lambda: defaultdict(list))
    for edge in edges:
        if edge.how == "type import":
            continue
        if app_of(edge.source, apps) is None or app_of(edge.target, apps) is None:
            continue
        target = owning_module(edge.target, modules)
        if target is None or target == edge.source or target in apps:
            continue
        if edge.source.startswith(target + "."):
            continue  # a module importing its own package (``from . import x`` in app/sub/y.py)
        graph[edge.source][target].append(edge)
    return graph


def describe_cycle(cycle: list[str], graph: dict[str, dict[str, list[Edge]]],
                   root: Path) -> str:
    lines = [" -> ".join(cycle)]
    for source, target in itertools.pairwise(cycle):
        for edge in graph[source][target][:3]:
            lines.append(f"  {source} -> {target}: {edge.path.relative_to(root)}:{edge.line}"
                         f" ({edge.how} {edge.target})")
    return "\n".join(lines)


def check(root: Path, apps: Iterable[str], wiring: str | None,
          allowed: Iterable[tuple[str, str]] = ()) -> list[str]:
    """Every problem found, as readable text: app cycles, module cycles, imports of the wiring."""
    apps = tuple(apps)
    edges = collect_edges(root, apps)
    problems: list[str] = []
    if wiring:
        for edge in edges:
            if app_of(edge.target, (wiring,)):
                problems.append(f"{edge.path.relative_to(root)}:{edge.line}: {edge.source} "
                                f"imports the wiring package ({edge.target})")
    for edge in edges:
        if edge.target == "<dynamic>" or edge.target.endswith("<dynamic>"):
            problems.append(f"{edge.path.relative_to(root)}:{edge.line}: {edge.source} looks a "
                            f"module up by a computed string ({edge.how})")
    graph = app_graph(edges, apps, allowed)
    simple = {source: set(targets) for source, targets in graph.items()}
    cycle = find_cycle(simple)
    if cycle:
        problems.append("app import cycle: " + describe_cycle(cycle, graph, root))
    modules = known_modules(root, apps)
    for app in apps:
        inner = module_graph(edges, (app,), modules)
        cycle = find_cycle({source: set(targets) for source, targets in inner.items()})
        if cycle:
            problems.append(f"module import cycle in {app}: "
                            + describe_cycle(cycle, inner, root))
    if not problems:
        # Across apps, the allowed upward edges included: no module may come back to itself.
        every = module_graph(edges, apps, modules)
        cycle = find_cycle({source: set(targets) for source, targets in every.items()})
        if cycle:
            problems.append("module import cycle across apps: "
                            + describe_cycle(cycle, every, root))
    return problems


def unexplained_function_imports(root: Path, packages: Iterable[str]) -> list[str]:
    """Imports inside functions without a ``#`` comment on their line or just above their
    block of imports.

    An import inside a function hides a dependency from anyone reading the top of the file,
    so each one says why it cannot be at module level (optional driver, start-up order...).
    """
    found = []
    for path in python_files(root, packages):
        if "migrations" in path.parts:
            continue
        lines = path.read_text(encoding="utf-8").splitlines()
        for line in {e.line for e in collect_edges_of(path, root) if e.how == "function import"}:
            here = lines[line - 1]
            above = line - 2
            while above >= 0 and lines[above].strip().startswith(("from ", "import ")):
                above -= 1
            if "#" not in here and not (above >= 0 and lines[above].strip().startswith("#")):
                found.append(f"{path.relative_to(root)}:{line}: {here.strip()}")
    return sorted(found)


def collect_edges_of(path: Path, root: Path) -> list[Edge]:
    collector = _Collector(module_name(path, root), path.name == "__init__.py", path)
    collector.visit(ast.parse(path.read_text(encoding="utf-8"), filename=str(path)))
    return collector.edges


# -- the project ------------------------------------------------------------------------------

def test_the_import_graph_is_one_way() -> None:
    problems = check(ROOT, APPS, WIRING, ALLOWED_UPWARD)
    assert not problems, "\n\n".join(problems)


def test_no_module_or_model_is_looked_up_by_string() -> None:
    """Apps and the wiring import each other directly: a look-up by string hides the edge.

    (Settings name classes by dotted string, as Django and Celery read them; those are no
    imports of ours and are not function calls, so they are not edges here.)
    """
    lookups = [e for e in collect_edges(ROOT, (*APPS, WIRING))
               if e.how in {"import_module", "get_model"}]
    assert not lookups, "\n".join(f"{e.path.relative_to(ROOT)}:{e.line} {e.how} {e.target}"
                                  for e in lookups)


def test_each_import_inside_a_function_says_why() -> None:
    found = unexplained_function_imports(ROOT, (*APPS, WIRING))
    assert not found, ("move these imports to the top of the module, or say on the line "
                       "above why they cannot be there:\n" + "\n".join(found))


def test_each_allowed_upward_edge_is_still_needed() -> None:
    """An allowed arrow that nothing uses any more is a stale exception: delete it."""
    graph = app_graph(collect_edges(ROOT, APPS), APPS)
    stale = [edge for edge in ALLOWED_UPWARD if not graph.get(edge[0], {}).get(edge[1])]
    assert not stale, f"no longer imported, remove from ALLOWED_UPWARD and the doc: {stale}"


def test_each_allowed_upward_edge_would_otherwise_be_a_cycle() -> None:
    """Allowing an edge that is no cycle hides nothing and says nothing: keep the list honest."""
    graph = {s: set(t) for s, t in app_graph(collect_edges(ROOT, APPS), APPS).items()}
    for source, target in ALLOWED_UPWARD:
        reduced = {s: {t for t in ts if (s, t) != (source, target)} for s, ts in graph.items()}
        reduced.setdefault(target, set())
        reachable, todo = set(), [target]
        while todo:
            node = todo.pop()
            for nxt in reduced.get(node, ()):
                if nxt not in reachable:
                    reachable.add(nxt)
                    todo.append(nxt)
        assert source in reachable, f"{source} -> {target} is downward; not an exception"


def test_architecture_states_the_layers_the_sources_keep() -> None:
    """The doc's "bottom to top" line: every app imports only apps of lower layers."""
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    line = " ".join(text.split("bottom to top:", 1)[1].split("(", 1)[0].split())
    layers = [re.findall(r"`(\w+)`", group) for group in line.split("<")]
    assert sorted(app for layer in layers for app in layer) == sorted(APPS), layers
    level = {app: n for n, layer in enumerate(layers) for app in layer}
    graph = app_graph(collect_edges(ROOT, APPS), APPS, ALLOWED_UPWARD)
    wrong = [f"{source} -> {target}: {edges[0].path.relative_to(ROOT)}:{edges[0].line}"
             for source, targets in graph.items() for target, edges in targets.items()
             if level[target] >= level[source]]
    assert not wrong, "docs/architecture.md's layers say otherwise:\n" + "\n".join(wrong)


def test_architecture_names_the_allowed_edges() -> None:
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    section = text.split("## Import graph", 1)
    assert len(section) == 2, "docs/architecture.md has no '## Import graph' section"
    body = section[1].split("\n## ", 1)[0]
    named = set(re.findall(r"`(\w+)` → `(\w+)`", body))
    assert named == set(ALLOWED_UPWARD), (named, set(ALLOWED_UPWARD))


# -- the checker itself finds what it claims to find -----------------------------------------

def _write(root: Path, files: dict[str, str]) -> None:
    for name, source in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(source, encoding="utf-8")


@pytest.fixture
def fake_project(tmp_path: Path) -> Path:
    _write(tmp_path, {
        "low/__init__.py": "",
        "low/models.py": "import os\n",
        "mid/__init__.py": "",
        "mid/services.py": "from low import models\nfrom .selectors import pick\n",
        "mid/selectors.py": "from low.models import os\n",
        "top/__init__.py": "",
        "top/tasks.py": "from mid.services import pick\n",
        "wire/__init__.py": "import top.tasks\n",
    })
    return tmp_path


FAKE_APPS = ("low", "mid", "top")


def test_checker_passes_a_clean_fake_project(fake_project: Path) -> None:
    assert check(fake_project, FAKE_APPS, "wire") == []


def test_checker_finds_an_app_cycle_hidden_in_a_function(fake_project: Path) -> None:
    _write(fake_project, {"low/models.py": "def f():\n    from top.tasks import x\n"})
    problems = check(fake_project, FAKE_APPS, "wire")
    assert len(problems) == 1
    assert problems[0].startswith("app import cycle: low -> top -> mid -> low")
    assert "low/models.py:2 (function import top.tasks.x)" in problems[0]


def test_checker_finds_string_lookups(fake_project: Path) -> None:
    _write(fake_project, {
        "low/models.py": "from importlib import import_module\n"
                         "def f():\n    return import_module('mid.services')\n",
        "low/admin.py": "from django.apps import apps\n"
                        "M = apps.get_model('top', 'Thing')\n",
    })
    problems = check(fake_project, FAKE_APPS, "wire")
    assert any(p.startswith("app import cycle: low -> mid -> low") for p in problems), problems
    edges = collect_edges(fake_project, FAKE_APPS)
    assert {(e.target, e.how) for e in edges if e.source.startswith("low.")} >= {
        ("mid.services", "import_module"), ("top", "get_model")}


def test_checker_allows_only_the_named_upward_edge(fake_project: Path) -> None:
    _write(fake_project, {"low/hooks.py": "import top.tasks\n"})
    assert check(fake_project, FAKE_APPS, "wire", {("low", "top")}) == []
    assert check(fake_project, FAKE_APPS, "wire", {("low", "mid")}) != []


def test_checker_finds_a_module_cycle_inside_an_app(fake_project: Path) -> None:
    _write(fake_project, {"mid/selectors.py": "def f():\n    from . import services\n"})
    problems = check(fake_project, FAKE_APPS, "wire")
    assert problems == [problems[0]]
    assert problems[0].startswith("module import cycle in mid: mid.selectors -> mid.services"
                                  " -> mid.selectors"), problems[0]


def test_checker_finds_a_module_cycle_through_an_allowed_edge(fake_project: Path) -> None:
    _write(fake_project, {"low/models.py": "import os\n", "low/hooks.py": "import mid.services\n",
                          "mid/selectors.py": "from low.hooks import x\n"})
    problems = check(fake_project, FAKE_APPS, "wire", {("low", "mid")})
    assert problems == [problems[0]]
    assert problems[0].startswith("module import cycle across apps: low.hooks -> mid.services"
                                  " -> mid.selectors -> low.hooks"), problems[0]


def test_checker_asks_function_imports_for_a_reason(fake_project: Path) -> None:
    _write(fake_project, {"mid/selectors.py": "def f():\n    import os\n"
                                              "def g():\n    # os is slow to import\n"
                                              "    import os\n"
                                              "def h():\n    import os  # and here\n"
                                              "def i():\n    # both: start-up order\n"
                                              "    import os\n    import re\n"
                                              "def j():\n    x = 1\n    import re\n"})
    assert unexplained_function_imports(fake_project, FAKE_APPS) == [
        "mid/selectors.py:14: import re", "mid/selectors.py:2: import os"]


def test_type_only_imports_count_between_apps_but_close_no_module_cycle(
        fake_project: Path) -> None:
    typed = "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from {} import T\n"
    _write(fake_project, {"mid/selectors.py": typed.format("mid.services")})
    assert check(fake_project, FAKE_APPS, "wire") == []
    _write(fake_project, {"low/models.py": typed.format("top.tasks")})
    problems = check(fake_project, FAKE_APPS, "wire")
    assert len(problems) == 1 and problems[0].startswith("app import cycle: low -> top")
    assert "(type import top.tasks.T)" in problems[0]


def test_checker_refuses_imports_of_the_wiring_package(fake_project: Path) -> None:
    _write(fake_project, {"mid/selectors.py": "from wire import settings\n"})
    problems = check(fake_project, FAKE_APPS, "wire")
    assert problems and "imports the wiring package (wire.settings)" in problems[0]
