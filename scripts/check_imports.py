"""Import graph of the `tutor` package: cycles and layer breaks.

Reads every module with `ast` (nothing is imported), counts imports at any depth (a function-level
import still ties two modules together) and prints the strongly connected components with more than
one module, then every import from a lower layer into a higher one. Exit status 1 when any is found.

usage: python scripts/check_imports.py [PACKAGE_DIR]   (default: tutor/ beside this script)
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

# Lower layers never import higher ones. Text helpers are a leaf; the evaluation harness and the
# benches sit on the whole library and only the entry points (UI, commands, CLI) import them.
LAYERS = [
    ("tutor.text", "tutor.i18n", "tutor.config", "tutor.scopes"),
    ("tutor.store", "tutor.database", "tutor.transfer", "tutor.migrate", "tutor.directory", "tutor.auth",
     "tutor.safety", "tutor.ingest", "tutor.retrieval", "tutor.models", "tutor.convert_e5", "tutor.generation"),
    ("tutor.answer", "tutor.pedagogy"),
    ("tutor.tutor",),
    ("tutor.runtime",),
    ("tutor.evaluation",),
    ("tutor.ui", "tutor.commands", "tutor.admin", "tutor.bench", "tutor.generation.llm_server"),
    ("tutor.cli", "tutor.docs"),
]


def module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path, name: str, is_package: bool) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[str] = set()
    package = name if is_package else name.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def graph(root: Path) -> dict[str, set[str]]:
    modules = {module_name(root, p): p for p in root.rglob("*.py")}
    edges: dict[str, set[str]] = {}
    for name, path in modules.items():
        targets = imports_of(path, name, path.name == "__init__.py")
        # `from pkg import mod` names a module; `from mod import func` names the module itself.
        edges[name] = {t for t in targets if t in modules and t != name}
    return edges


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's strongly connected components, those with two or more modules."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges.get(v, ())):
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

    sys.setrecursionlimit(10_000)
    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out


def layer_of(name: str) -> int | None:
    """The layer of the longest listed prefix of ``name`` (a module may sit above its package)."""
    best, layer = -1, None
    for number, prefixes in enumerate(LAYERS):
        for p in prefixes:
            if (name == p or name.startswith(p + ".")) and len(p) > best:
                best, layer = len(p), number
    return layer


def layer_breaks(edges: dict[str, set[str]]) -> list[tuple[str, str]]:
    breaks = []
    for source, targets in sorted(edges.items()):
        low = layer_of(source)
        for target in sorted(targets):
            high = layer_of(target)
            if low is not None and high is not None and high > low:
                breaks.append((source, target))
    return breaks


def main(argv: list[str]) -> int:
    root = Path(argv[1]) if len(argv) > 1 else Path(__file__).resolve().parent.parent / "tutor"
    edges = graph(root)
    found = cycles(edges)
    breaks = layer_breaks(edges)
    for component in found:
        print("cycle:", " <-> ".join(component))
    for source, target in breaks:
        print(f"layer: {source} imports {target} (a higher layer)")
    print(f"{len(edges)} modules, {sum(map(len, edges.values()))} imports, "
          f"{len(found)} cycles, {len(breaks)} layer breaks")
    return 1 if found or breaks else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
