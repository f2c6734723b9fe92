"""The arrows of docs/ARCHITECTURE.md hold in the code.

The document's `parts` block puts every Python module of ledger_node, issuer_sdk, exchange_api and scripts in one
part; its `allowed-imports` block says which part may import which. Every import counts, at module level or inside a
function (an import hidden in a function is still a dependency, and the way circles used to hide). A failure names
the file and line of each offending import, so the fix is either that import or, on purpose, the document.
"""
from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ARCHITECTURE = ROOT / "docs" / "ARCHITECTURE.md"
PACKAGES = ("ledger_node", "issuer_sdk", "exchange_api", "scripts")


@dataclass(frozen=True)
class Import:
    source: str   # the importing module
    target: str   # the imported module of the four packages
    where: str    # file:line


def test_every_module_belongs_to_exactly_one_part():
    parts, _ = architecture()
    problems = []
    for module, path in sorted(modules().items()):
        owners = [name for name, patterns in parts.items() if any(matches(module, p) for p in patterns)]
        if len(owners) != 1:
            problems.append(f"{relative(path)}: module {module} is in {len(owners)} parts {owners} of "
                            f"docs/ARCHITECTURE.md's `parts` block; put it in exactly one")
    assert not problems, "\n".join(problems)


def test_the_arrows_name_known_parts_and_make_no_circle():
    parts, arrows = architecture()
    unknown = {p for a, targets in arrows.items() for p in (a, *targets)} - set(parts)
    assert not unknown, f"docs/ARCHITECTURE.md's `allowed-imports` names parts it does not define: {sorted(unknown)}"
    circles = strongly_connected({a: set(targets) for a, targets in arrows.items()})
    assert not circles, f"docs/ARCHITECTURE.md's arrows go round: {circles}"


def test_every_import_follows_the_arrows():
    parts, arrows = architecture()
    part_of = {m: part(m, parts) for m in modules()}
    problems = [f"{imp.where}: {imp.source} ({part_of[imp.source]}) imports {imp.target} ({part_of[imp.target]}), "
                f"not an arrow of docs/ARCHITECTURE.md"
                for imp in imports()
                if None not in (part_of[imp.source], part_of[imp.target])  # a module in no part: the test above
                and part_of[imp.source] != part_of[imp.target]
                and part_of[imp.target] not in arrows.get(part_of[imp.source], set())]
    assert not problems, "\n".join(problems)


def test_no_import_circle_between_modules():
    edges: dict[str, set[str]] = {}
    where: dict[tuple[str, str], list[str]] = {}
    for imp in imports():
        edges.setdefault(imp.source, set()).add(imp.target)
        where.setdefault((imp.source, imp.target), []).append(imp.where)
    problems = []
    for circle in strongly_connected(edges):
        lines = [f"  {w}: {a} -> {b}" for a in circle for b in sorted(edges.get(a, ())) if b in circle
                 for w in where[(a, b)]]
        problems.append(f"import circle between {', '.join(circle)}:\n" + "\n".join(lines))
    assert not problems, "\n".join(problems)


# -- reading the document ------------------------------------------------------------------------------------

def architecture() -> tuple[dict[str, list[str]], dict[str, set[str]]]:
    """({part: module patterns}, {part: the parts it may import}) from the document's two fenced blocks."""
    text = ARCHITECTURE.read_text()
    parts: dict[str, list[str]] = {}
    for line in block(text, "parts"):
        name, *patterns = line.split()
        assert name not in parts, f"docs/ARCHITECTURE.md defines part {name} twice"
        parts[name] = patterns
    arrows: dict[str, set[str]] = {}
    for line in block(text, "allowed-imports"):
        source, arrow, targets = line.partition("->")
        assert arrow, f"docs/ARCHITECTURE.md `allowed-imports`: {line!r} is not `part -> part, part`"
        arrows.setdefault(source.strip(), set()).update(t.strip() for t in targets.split(",") if t.strip())
    return parts, arrows


def block(text: str, name: str) -> list[str]:
    found = re.findall(rf"^```{re.escape(name)}\n(.*?)^```", text, re.S | re.M)
    assert len(found) == 1, f"docs/ARCHITECTURE.md must hold one fenced block ```{name}"
    lines = (line.split("#", 1)[0].strip() for line in found[0].splitlines())
    return [line for line in lines if line]


def matches(module: str, pattern: str) -> bool:
    """`pkg.*` is pkg itself and everything under it; anything else is one module."""
    if pattern.endswith(".*"):
        return module == pattern[:-2] or module.startswith(pattern[:-1])
    return module == pattern


def part(module: str, parts: dict[str, list[str]]) -> str | None:
    return next((name for name, patterns in parts.items() if any(matches(module, p) for p in patterns)), None)


# -- reading the code ----------------------------------------------------------------------------------------

def modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            if "node_modules" in path.parts:
                continue
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            found[name.removesuffix(".__init__")] = path
    return found


def imports() -> list[Import]:
    """Every import between modules of the four packages, wherever it stands in its file."""
    known = modules()
    found = []
    for source, path in sorted(known.items()):
        package = source if path.name == "__init__.py" else source.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            for name in imported_names(node, package):
                target = closest_module(name, known)
                if target is not None and target != source:
                    found.append(Import(source, target, f"{relative(path)}:{node.lineno}"))
    return list(dict.fromkeys(found))  # `from a import b, c` loading one module twice is one import


def imported_names(node: ast.AST, package: str) -> list[str]:
    """The dotted names an import statement loads (`from a import b` may load module a.b, or name b of a)."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if not isinstance(node, ast.ImportFrom):
        return []
    base = node.module or ""
    if node.level:
        parent = package.split(".")[:len(package.split(".")) - (node.level - 1)]
        base = ".".join(parent + ([node.module] if node.module else []))
    return [f"{base}.{alias.name}" for alias in node.names]


def closest_module(name: str, known: dict[str, Path]) -> str | None:
    while name and name not in known:
        name = name.rpartition(".")[0]
    return name or None


def strongly_connected(edges: dict[str, set[str]]) -> list[list[str]]:
    """The circles of a graph: its strongly connected components of more than one node (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    circles = []
    for root in sorted(edges):
        if root in index:
            continue
        work = [(root, iter(sorted(edges.get(root, ()))))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
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
                    circles.append(sorted(component))
    return circles


def relative(path: Path) -> str:
    return str(path.relative_to(ROOT))
