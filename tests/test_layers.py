"""The floors of the package and the direction of their imports (issue 18, item 5): the engine imports no view,
figure or evaluation; the evaluation imports no view or figure; they reach the upper floors only through the entry
points the package registers (attnviz/engine/facades.py). Checked statically over every import statement, the
function-local ones included, and at run time in a fresh interpreter."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "attnviz"
#: floor -> the floors it must not import
FORBIDDEN = {"engine": {"widgets", "plots", "evaluate", "demo"}, "evaluate": {"widgets", "plots", "demo"},
             "plots": {"widgets", "evaluate", "demo"}, "widgets": {"plots", "demo"}}


def imported_floors(path: Path, root: Path = PACKAGE.parent) -> set[tuple[str, int]]:
    """The attnviz sub-packages a module imports, (floor, line), from every import statement in it."""
    module = ".".join(path.relative_to(root).with_suffix("").parts)
    package = module.rsplit(".", 1)[0] if path.name != "__init__.py" else module.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)] if node.level > 1 else base
                target = ".".join(base + ([node.module] if node.module else []))
                names = [target] if node.module else [f"{target}.{a.name}" for a in node.names]
            elif node.module:
                names = [node.module]
        for name in names:
            parts = name.split(".")
            if parts[0] == "attnviz" and len(parts) > 1:
                found.add((parts[1], node.lineno))
    return found


@pytest.mark.parametrize("floor", sorted(FORBIDDEN))
def test_a_floor_never_imports_the_floors_above_it(floor):
    wrong = []
    for path in sorted((PACKAGE / floor).rglob("*.py")):
        for target, line in imported_floors(path):
            if target in FORBIDDEN[floor]:
                wrong.append(f"{path.relative_to(PACKAGE.parent)}:{line} imports attnviz.{target}")
    assert not wrong, "\n".join(wrong)


def test_the_checker_sees_function_local_and_relative_imports(tmp_path):
    engine = PACKAGE / "engine" / "explanation.py"
    assert ("engine", 1) not in imported_floors(engine)  # its own floor is never reported as another
    probe = tmp_path / "attnviz" / "engine" / "methods" / "probe.py"  # a module two packages deep
    probe.parent.mkdir(parents=True)
    probe.write_text("import attnviz.demo\ndef f():\n    from ...widgets import show\n"
                     "    from attnviz.plots import plot\n    from .common import Trace\n")
    assert {t for t, _ in imported_floors(probe, tmp_path)} == {"demo", "widgets", "plots", "engine"}


def test_importing_the_engine_loads_no_view_figure_or_widget_library():
    code = ("import sys, attnviz.engine, attnviz.evaluate\n"
            "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('anywidget', 'ipywidgets', 'matplotlib', "
            "'bokeh') or m.startswith(('attnviz.widgets', 'attnviz.plots')))\n"
            "print(heavy)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=True)
    assert out.stdout.strip() == "[]", out.stdout


def test_the_registered_entry_points_still_draw():
    import attnviz
    from attnviz.engine import facades
    from attnviz.testing import tiny_model

    e = attnviz.Explainer(*tiny_model("bert")).explain("the movie was good")
    assert type(e.show()).__name__ == "TextView" and type(e.plot("rollout")).__name__ == "InlineFigure"
    saved = dict(facades._FACADES)
    facades._FACADES.clear()
    try:
        with pytest.raises(RuntimeError, match="import attnviz"):
            e.show()
    finally:
        facades._FACADES.update(saved)


#: Where reading a model's config is allowed: the adapters (every architecture fact), the tiny-model builders and the
#: demo loaders, and capture.py, which switches each sub-config's attention implementation (a transformers mechanism,
#: not a fact about one architecture).
CONFIG_READERS = ("engine/adapters/", "testing.py", "demo/", "engine/capture.py")


def test_architecture_facts_live_in_the_adapters():
    """No config attribute lookup and no model-type string outside the adapters (issue 18, item 3): a new
    architecture is one adapter file."""
    wrong = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE).as_posix()
        if rel.startswith(CONFIG_READERS):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and node.attr == "config":
                wrong.append(f"{rel}:{node.lineno} reads .config")
            if isinstance(node, ast.Constant) and node.value in ("model_type", "num_attention_heads", "image_size",
                                                                 "num_key_value_heads", "max_position_embeddings"):
                wrong.append(f"{rel}:{node.lineno} names {node.value!r}")
    assert not wrong, "\n".join(wrong)


def module_imports(root: Path = PACKAGE) -> dict[str, set[str]]:
    """attnviz module -> the attnviz modules it imports (every import statement, function-local ones included;
    those under ``if TYPE_CHECKING:`` aside, as they never run)."""
    modules = {}
    for path in root.rglob("*.py"):
        parts = path.relative_to(root.parent).with_suffix("").parts
        modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
        tree = ast.parse(path.read_text(encoding="utf-8"))
        typing_only = {id(n) for node in ast.walk(tree) if isinstance(node, ast.If)
                       and "TYPE_CHECKING" in ast.dump(node.test) for n in ast.walk(node)}
        graph[name] = set()
        for node in ast.walk(tree):
            if id(node) in typing_only or not isinstance(node, (ast.Import, ast.ImportFrom)):
                continue
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            else:
                base = package.split(".")[: len(package.split(".")) - node.level + 1] if node.level else []
                stem = ".".join(base + ([node.module] if node.module else []))
                targets = [f"{stem}.{a.name}" if f"{stem}.{a.name}" in modules else stem for a in node.names]
            for target in targets:
                while target and target not in modules:
                    target = target.rsplit(".", 1)[0] if "." in target else ""
                if target and target != name:
                    graph[name].add(target)
    return graph


def import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan): each is an import circle."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in graph:
        if v not in index:
            visit(v)
    return cycles


def test_no_module_imports_itself_through_a_circle():
    assert import_cycles(module_imports()) == []


def test_the_circle_finder_sees_a_function_local_circle(tmp_path):
    pkg = tmp_path / "attnviz"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from . import b\n")
    (pkg / "b.py").write_text("def f():\n    from .a import x\n")
    (pkg / "c.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .a import x\n")
    assert import_cycles(module_imports(pkg)) == [["attnviz.a", "attnviz.b"]]
