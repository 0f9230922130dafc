"""The import graph of `src/lamina` runs one way (docs/design.md, "Architecture").

Read from the source with `ast`, nothing imported:

- no cycle among module-level imports, counting the package `__init__` that importing a
  submodule runs first (importing `lamina.saving.archive` runs `lamina/saving/__init__.py`);
- imports inside functions only where the facades of the models, `Model`'s methods (`fit`,
  `save`, `explain`, ...) and `lamina.models.load_model`, reach up into `training/`,
  `saving/` and `utils/`, which are built on the models.
"""
import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"

# (importing module, imported package prefix): the only deferred imports allowed
ALLOWED_DEFERRED = {
    ("lamina.models.model", "lamina.training"),
    ("lamina.models.training_api", "lamina.training"),  # Model's training methods (a mixin)
    ("lamina.models.model", "lamina.saving"),
    ("lamina.models.model", "lamina.utils"),
    ("lamina.models", "lamina.saving"),
    ("lamina.models.lora", "lamina.saving"),
}


def _modules():
    out = {}
    for path in sorted((SRC / "lamina").rglob("*.py")):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


MODULES = _modules()


def _target(name):
    """The module a dotted import name refers to (`lamina.losses.Huber` -> `lamina.losses`)."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _imports(module, path):
    """(target module, line, deferred) for every lamina import in `module`."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []

    def visit(node, deferred):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                continue
            inner = deferred or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef,
                                                   ast.Lambda))
            names = []
            if isinstance(child, ast.Import):
                names = [alias.name for alias in child.names]
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    anchor = package.split(".")[: len(package.split(".")) - child.level + 1]
                    base = ".".join(anchor + ([base] if base else []))
                names = [f"{base}.{alias.name}" for alias in child.names]
            for name in names:
                target = _target(name) if name.startswith("lamina") else None
                if target and target != module:
                    found.append((target, child.lineno, inner))
            visit(child, inner)

    visit(ast.parse(path.read_text()), False)
    return found


IMPORTS = {module: _imports(module, path) for module, path in MODULES.items()}


def _parents(module):
    """The packages whose `__init__` runs before `module` (the root `lamina` excepted: it
    imports the whole public API and runs before anything else)."""
    parts = module.split(".")
    return [".".join(parts[:i]) for i in range(2, len(parts))]


def _top_level_graph():
    graph = {}
    for module, imports in IMPORTS.items():
        edges = set()
        for target, _, deferred in imports:
            if not deferred:
                edges.add(target)
                edges.update(p for p in _parents(target) if p != module
                             and not module.startswith(p + "."))
        graph[module] = edges
    return graph


def _cycles(graph):
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on_stack, out = {}, {}, [], set(), []

    def connect(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                connect(w)
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
            connect(v)
    return out


def test_the_graph_reader_sees_the_package():
    # guards the two tests below against reading nothing
    assert {"lamina.core.layer", "lamina.models.model", "lamina.training.trainer",
            "lamina.saving.model_io", "lamina.losses", "lamina.metrics"} <= set(MODULES)
    assert ("lamina.core.layer", True) not in {(t, d) for t, _, d in
                                              IMPORTS["lamina.models.model"]}
    assert any(t == "lamina.core.layer" for t, _, _ in IMPORTS["lamina.models.model"])


def test_cycle_detection_finds_a_planted_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_cycle_among_module_level_imports():
    cycles = _cycles(_top_level_graph())
    assert not cycles, "module-level import cycles (including package __init__s):\n" + \
        "\n".join(" <-> ".join(c) for c in cycles)


def test_deferred_imports_only_in_the_model_facade():
    offenders = [
        f"{MODULES[module].relative_to(SRC)}:{line}: imports {target} inside a function"
        for module, imports in IMPORTS.items()
        for target, line, deferred in imports
        if deferred and not any(module == m and (target == p or target.startswith(p + "."))
                                for m, p in ALLOWED_DEFERRED)
    ]
    assert not offenders, ("deferred imports outside Model's facade; import at the top of "
                           "the module, or move the code to the layer it belongs to:\n"
                           + "\n".join(offenders))
