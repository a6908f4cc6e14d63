"""The layering of docs/architecture.md, checked on the source: no import circle, no arrow pointing up, no private
name imported from another module, and an edge kit that imports nothing of keras_nn.

Every `import` counts, also one inside a function (a late import is still a dependency). Run alone with
`pytest tests/test_architecture.py`.
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "keras_nn"
EDGE_KIT = ROOT / "export"

# What each part of keras_nn may import (besides itself). Arrows point down: cli -> runs -> {training, export};
# training reaches models, data, losses and viz; export reaches models and the edge kit; the shared bottom
# (config, errors, files) is reachable from everywhere above it.
BOTTOM = {"catalog", "config", "errors", "files", "version"}
ALLOWED = {
    "cli": None,  # the top: anything
    "runs": {"training", "export", "data", "models", "layers", "samplers", "losses", "metrics", "schedules", "viz", "edge"},
    "training": {"data", "models", "layers", "samplers", "losses", "metrics", "schedules", "viz"},
    "export": {"models", "layers", "metrics", "edge"},
    "models": {"layers", "samplers"},
    "data": set(),
    "viz": set(),
    "losses": set(),
    "metrics": set(),
    "schedules": set(),
    "samplers": set(),
    "layers": set(),
    "config": {"edge", "errors"},
    "files": set(),
    "errors": set(),
    "version": set(),
    "catalog": set(),
}
# The package's own __init__ makes the public API importable; it sits below the run layer.
ROOT_ALLOWED = {"errors", "layers", "losses", "models", "schedules", "samplers", "version"}


def _module_name(path):
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path, module):
    """(imported module, imported names, line) of every import in a file; relative imports resolved."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, [], node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found.append((base, [alias.name for alias in node.names], node.lineno))
    return found


def _sources():
    return {_module_name(path): path for path in PACKAGE.rglob("*.py") if "__pycache__" not in path.parts}


def _part(module):
    """`keras_nn.training.tasks.seq2seq` -> `training`; the edge kit (`keras_nn.edge.*`) -> `edge`."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def _internal_graph():
    sources = _sources()
    graph = {}
    for module, path in sources.items():
        targets = set()
        for imported, names, _ in _imports(path, module):
            if not imported.startswith("keras_nn"):
                continue
            # `from keras_nn.models import resnet` imports the submodule; `from keras_nn.models import X` the package.
            for name in names or [None]:
                candidate = f"{imported}.{name}" if name else imported
                targets.add(candidate if candidate in sources else imported)
        graph[module] = {target for target in targets if target in sources and target != module}
    return graph


def test_no_import_circle():
    graph = _internal_graph()
    index, low, stack, on_stack, cycles = {}, {}, [], set(), []

    def visit(node):  # Tarjan's strongly connected components
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    assert not cycles, f"import circles: {cycles}"


def test_arrows_point_down():
    upward = []
    for module, path in _sources().items():
        part = _part(module)
        allowed = ROOT_ALLOWED if module == "keras_nn" else ALLOWED.get(part)
        if allowed is None and module != "keras_nn":
            continue
        for imported, names, line in _imports(path, module):
            if not imported.startswith("keras_nn"):
                continue
            targets = {_part(imported)} if imported != "keras_nn" else {name for name in names}
            for target in targets - {part} - allowed - BOTTOM - {""}:
                upward.append(f"{path.relative_to(ROOT)}:{line} ({part or 'keras_nn'}) imports {imported} ({target})")
    assert not upward, "imports that point up or sideways:\n" + "\n".join(upward)


def test_no_private_name_is_imported_from_another_module():
    private = []
    scripts = {f"bench.{path.stem}": path for path in (ROOT / "bench").glob("*.py")}
    kit = {f"keras_nn.edge.{path.stem}": path for path in EDGE_KIT.glob("*.py")}
    for module, path in {**_sources(), **scripts, **kit}.items():
        for imported, names, line in _imports(path, module):
            for name in names:
                if name.startswith("_") and not name.startswith("__") and imported.startswith("keras_nn"):
                    private.append(f"{path.relative_to(ROOT)}:{line} imports {imported}.{name}")
    assert not private, "\n".join(private)


@pytest.mark.parametrize("path", sorted(EDGE_KIT.glob("*.py")), ids=lambda path: path.name)
def test_the_edge_kit_imports_nothing_of_keras_nn(path):
    for imported, _, line in _imports(path, "keras_nn.edge." + path.stem):
        assert not imported.startswith("keras_nn") or imported.startswith("keras_nn.edge"), f"{path.name}:{line}"
        assert imported.split(".")[0] not in ("tensorflow", "keras", "tf2onnx"), f"{path.name}:{line} {imported}"


def test_the_layering_table_lists_every_part():
    parts = {_part(module) for module in _sources()} - {""}
    assert parts <= set(ALLOWED) | {"edge"}, f"parts without a layering rule: {parts - set(ALLOWED)}"
