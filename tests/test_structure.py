"""The shape of the source, checked from its text so it stays true (DEVELOPERS.md, "Shape of the code"):

- no import cycle among the project's modules, counting imports inside functions (an import inside
  a function hides a cycle, it does not remove it);
- the layers import one way: edges (dashboard, datasets_app.api, datasets_app.tasks, management
  commands) -> datasets_app.sdk -> datasets_app.media / datasets_app.models;
- no private name (`_x`) of one module used from another;
- no module over MAX_MODULE_LINES lines, no function over MAX_FUNCTION_LINES.

Migrations are generated code and left out."""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("dashboard", "datasets_app")
MAX_MODULE_LINES = 600
MAX_FUNCTION_LINES = 80

# Lower layers never import these (prefix match on dotted names).
LAYER_OF = [
    ("datasets_app.media", 0),
    ("datasets_app.models", 0),
    ("datasets_app.crypto", 0),
    ("datasets_app.lookups", 0),
    ("datasets_app.sdk", 1),
]
EDGE = 2  # everything else: views, api, tasks, management commands, settings, observability


@dataclass
class Module:
    name: str
    path: Path
    tree: ast.Module
    is_package: bool
    imports: set[str] = field(default_factory=set)
    private_uses: list[str] = field(default_factory=list)


def _source_files():
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            yield path


def _module_name(path: Path) -> tuple[str, bool]:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    is_package = parts[-1] == "__init__"
    if is_package:
        parts = parts[:-1]
    return ".".join(parts), is_package


def _load() -> dict[str, Module]:
    modules = {}
    for path in _source_files():
        name, is_package = _module_name(path)
        modules[name] = Module(name, path, ast.parse(path.read_text(), str(path)), is_package)
    for module in modules.values():
        _collect_imports(module, modules)
    return modules


def _absolute(module: Module, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = module.name.split(".")
    if not module.is_package:
        base = base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _collect_imports(module: Module, modules: dict[str, Module]) -> None:
    aliases: dict[str, str] = {}  # local name -> project module it names
    for node in ast.walk(module.tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name in modules:
                    module.imports.add(alias.name)
                    aliases[alias.asname or alias.name] = alias.name
        elif isinstance(node, ast.ImportFrom):
            source = _absolute(module, node)
            for alias in node.names:
                target = f"{source}.{alias.name}"
                if target in modules:  # `from package import module`
                    module.imports.add(target)
                    aliases[alias.asname or alias.name] = target
                elif source in modules:
                    module.imports.add(source)
                    if alias.name.startswith("_") and not alias.name.startswith("__") and source != module.name:
                        module.private_uses.append(f"{module.name} imports {source}.{alias.name}")
    for node in ast.walk(module.tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            target = aliases.get(node.value.id)
            attr = node.attr
            if target and target != module.name and attr.startswith("_") and not attr.startswith("__"):
                module.private_uses.append(f"{module.name} uses {target}.{attr}")
    module.imports.discard(module.name)


def _layer(name: str) -> int:
    for prefix, layer in LAYER_OF:
        if name == prefix or name.startswith(prefix + "."):
            return layer
    return EDGE


def _cycles(modules: dict[str, Module]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []
    counter = 0
    for start in modules:
        if start in index:
            continue
        work = [(start, iter(sorted(modules[start].imports)))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(modules[child].imports))))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        found.append(sorted(component))
    return found


def _long_functions(module: Module) -> list[str]:
    long = []
    for node in ast.walk(module.tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            first = min([node.lineno] + [d.lineno for d in node.decorator_list])
            lines = node.end_lineno - first + 1
            if lines > MAX_FUNCTION_LINES:
                long.append(f"{module.path.relative_to(ROOT)}:{node.lineno} {node.name} ({lines} lines)")
    return long


def test_no_import_cycles():
    cycles = _cycles(_load())
    assert not cycles, "import cycles (imports inside functions count):\n" + "\n".join(" <-> ".join(c) for c in cycles)


def test_layers_import_one_way():
    upward = []
    for module in _load().values():
        for target in module.imports:
            if _layer(target) > _layer(module.name):
                upward.append(f"{module.name} -> {target}")
    assert not upward, "imports go edges -> sdk -> media/models, never back:\n" + "\n".join(sorted(upward))


def test_no_private_names_across_modules():
    uses = sorted(use for module in _load().values() for use in module.private_uses)
    assert not uses, "private names used from another module:\n" + "\n".join(uses)


def test_modules_and_functions_stay_small():
    too_big = []
    for module in _load().values():
        count = len(module.path.read_text().splitlines())
        if count > MAX_MODULE_LINES:
            too_big.append(f"{module.path.relative_to(ROOT)} ({count} lines)")
        too_big.extend(_long_functions(module))
    assert not too_big, (
        f"modules over {MAX_MODULE_LINES} lines, functions over {MAX_FUNCTION_LINES}:\n" + "\n".join(too_big)
    )
