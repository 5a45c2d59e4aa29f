"""The package's imports point one way (issue 28): no module imports one that imports it back,
directly or around a circle, and the presentation layer (fairness/render/) is imported only by the
commands that render. Read from the syntax tree, imports inside functions included: a lazy import
is still a dependency."""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "fairness"
# the entry points that render: the package's API (fairness.render) and the command line
RENDERERS = {"fairness", "fairness.cli"}


def _modules() -> dict[str, Path]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


def import_graph() -> dict[str, set[str]]:
    """Each module of the package, and the package's modules it imports."""
    mods = _modules()
    graph = {m: set() for m in mods}
    for name, path in mods.items():
        package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                base = package[:len(package) - node.level + 1] if node.level else []
                target = ".".join(base + ([node.module] if node.module else []))
                for alias in node.names:  # `from . import x` imports the module x where there is one
                    full = f"{target}.{alias.name}"
                    graph[name].add(full if full in mods else target)
            elif isinstance(node, ast.Import):
                graph[name].update(a.name for a in node.names)
        graph[name] = {t for t in graph[name] if t in mods and t != name}
    return graph


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm)."""
    index, low, stack, on_stack, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_the_graph_is_read_from_the_source():
    graph = import_graph()
    assert "fairness.readings" in graph["fairness.flags"]  # `from . import readings as rd`
    assert "fairness.render.escape" in graph["fairness.render.zoo"]
    assert "fairness.settings" in graph["fairness.cli"]  # imported inside the commands


def test_a_circle_is_found():
    assert circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert circles({"a": {"b"}, "b": set()}) == []


def test_no_import_circles():
    assert circles(import_graph()) == []


def test_only_the_commands_that_render_import_the_presentation_layer():
    outside = {m: sorted(t for t in deps if t.startswith("fairness.render"))
               for m, deps in import_graph().items() if not m.startswith("fairness.render") and m not in RENDERERS}
    assert {m: r for m, r in outside.items() if r} == {}


def test_no_module_imports_another_modules_private_names():
    """A name with a leading underscore is its module's own (issue 30): one that another module
    needs is public, under a name that says what it is. Names imported from outside the package
    (torchvision's _make_divisible) are the other library's business."""
    mods = _modules()
    found = []
    for name, path in mods.items():
        package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.level or (node.module or "").startswith("fairness")):
                base = package[:len(package) - node.level + 1] if node.level else []
                target = ".".join(base + ([node.module] if node.module else []))
                found += [f"{name} imports {target}.{a.name}" for a in node.names
                          if a.name.startswith("_") and not a.name.startswith("__")]
    assert found == []
