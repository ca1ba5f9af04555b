"""The layout keeps its promises: layers import downward (no cycles), no import hidden inside a
function to dodge one, small modules, and user docs that speak of the product."""
import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "scoredeblur"
MAX_MODULE_LINES = 400
# Compiled, optional parts of the package: imported where used, since an install may lack them.
OPTIONAL_NATIVE = {"scoredeblur._native", "scoredeblur._engine"}


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, ast.Module]:
    return {_module_name(p): ast.parse(p.read_text(), str(p)) for p in sorted(PACKAGE.rglob("*.py"))}


def _imported(node: ast.AST, known: set[str]) -> set[str]:
    """Package modules an import statement names (``from a.b import c`` names a.b.c when that is a
    module, else a.b)."""
    if isinstance(node, ast.Import):
        return {a.name for a in node.names} & known
    if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
        subs = {f"{node.module}.{a.name}" for a in node.names} & known
        return subs or ({node.module} & known)
    return set()


def _module_level_imports(tree: ast.AST, known: set[str]) -> set[str]:
    """What a module imports when it is imported: every import outside function bodies."""
    found = set()
    for child in ast.iter_child_nodes(tree):
        if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            continue
        found |= _imported(child, known) | _module_level_imports(child, known)
    return found


def test_no_relative_imports():
    for name, tree in _modules().items():
        rel = [n.lineno for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.level > 0]
        assert not rel, f"{name}: relative imports at lines {rel}; the package imports absolutely"


def test_the_import_graph_has_no_cycle():
    modules = _modules()
    known = set(modules) | OPTIONAL_NATIVE  # `from scoredeblur import _native` names the extension, a leaf
    graph = {name: _module_level_imports(tree, known) - {name} for name, tree in modules.items()}
    graph.update({name: set() for name in OPTIONAL_NATIVE})
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycle = stack[stack.index(nxt):] + [nxt]
                raise AssertionError("import cycle: " + " -> ".join(cycle))
            if nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)


def test_no_package_import_inside_a_function():
    modules = _modules()
    known = set(modules) | OPTIONAL_NATIVE
    for name, tree in modules.items():
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                for sub in ast.walk(node):
                    hidden = _imported(sub, known) - OPTIONAL_NATIVE
                    assert not hidden, f"{name}:{sub.lineno} imports {sorted(hidden)} inside {node.name}()"


def test_modules_stay_small():
    for path in PACKAGE.rglob("*.py"):
        n = len(path.read_text().splitlines())
        assert n <= MAX_MODULE_LINES, f"{path.relative_to(ROOT)} has {n} lines (> {MAX_MODULE_LINES}): split it"


DIARY = re.compile(r"\bsessions?[ -]?\d|\bdevice tool\b|\.library\b|\blent (to|through)\b|"
                   r"\b20\d\d-\d\d-\d\d\b|\bhelper agent|\bwe (tried|found) (today|yesterday)", re.I)


def test_user_docs_speak_of_the_product():
    # Raw reports written by scoredeblur-bench (docs/reports, docs/gpu) carry their run's timestamp.
    raw = {ROOT / "docs" / "reports", ROOT / "docs" / "gpu"}
    docs = [ROOT / "README.md", *(p for p in sorted((ROOT / "docs").rglob("*.md")) if p.parent not in raw)]
    for path in docs:
        for i, line in enumerate(path.read_text().splitlines(), 1):
            assert not DIARY.search(line), f"{path.relative_to(ROOT)}:{i}: {line.strip()[:100]}"
