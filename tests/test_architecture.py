"""The layout by stage (docs/architecture.md): imports flow one way, the model imports no
trio, the kernel nothing of campaigns, and nothing grows past the size limits unless its
docstring says why (a paragraph starting "Size:")."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import sim

PACKAGE = Path(sim.__file__).parent
#: Stage -> its rank: a module may import its own stage and earlier ones only.
STAGES = {"scenario": 1, "marketo": 2, "run": 3, "observe": 4, "verify": 5, "scale": 6}
TOP = 7  # sim/__init__.py, cli.py, testing.py, ...
MODULE_LINES, CLASS_LINES, FUNCTION_LINES = 600, 300, 80


def modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def stage_of(path: Path) -> int:
    parts = path.relative_to(PACKAGE).parts
    return STAGES.get(parts[0], TOP) if len(parts) > 1 else TOP


def imported(tree: ast.Module) -> list[tuple[int, str]]:
    """(line, module) of every import, ``from a import b`` giving a.b too (b may be a module)."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.append((node.lineno, node.module))
            found += [(node.lineno, f"{node.module}.{alias.name}") for alias in node.names]
        elif isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
    return found


def test_every_module_imports_only_its_own_stage_and_earlier_ones() -> None:
    upward = []
    for path in modules():
        stage = stage_of(path)
        for line, name in imported(ast.parse(path.read_text(encoding="utf-8"))):
            parts = name.split(".")
            # Anything of sim's that is not a stage (cli, arguments, testing, the API in
            # sim/__init__.py) is the top: no stage may import it.
            if parts[0] == "sim" and len(parts) > 1 and STAGES.get(parts[1], TOP) > stage:
                upward.append(f"{path.relative_to(PACKAGE)}:{line} imports {name}")
    assert upward == []


def test_the_model_imports_no_trio_and_the_kernel_nothing_of_campaigns() -> None:
    for path in (PACKAGE / "scenario").glob("*.py"):
        names = [name for _, name in imported(ast.parse(path.read_text(encoding="utf-8")))]
        assert not any(name.split(".")[0] == "trio" for name in names), path
    # The kernel: its agenda, its strategies and schedules, and time units; no campaign.
    allowed = ("sim.run.kernel", "sim.run.agenda", "sim.run.schedule", "sim.scenario.units")
    for name in ("kernel.py", "agenda.py", "schedule.py"):
        tree = ast.parse((PACKAGE / "run" / name).read_text(encoding="utf-8"))
        names = {name for _, name in imported(tree) if name.split(".")[0] == "sim"}
        assert all(name.startswith(allowed) for name in names), (name, names)


def oversized(path: Path) -> list[str]:
    text = path.read_text(encoding="utf-8")
    tree = ast.parse(text)
    found = []

    def justified(node: ast.AST) -> bool:
        return "Size:" in (ast.get_docstring(node) or "")  # type: ignore[arg-type]

    if text.count("\n") > MODULE_LINES and not justified(tree):
        found.append(f"{path.relative_to(PACKAGE)}: {text.count(chr(10))} lines")
    for node in ast.walk(tree):
        limit = CLASS_LINES if isinstance(node, ast.ClassDef) else FUNCTION_LINES
        if isinstance(node, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            length = (node.end_lineno or node.lineno) - node.lineno + 1
            if length > limit and not justified(node):
                found.append(f"{path.relative_to(PACKAGE)}:{node.lineno} {node.name}: {length} lines")
    return found


@pytest.mark.parametrize("path", modules(), ids=lambda path: str(path.relative_to(PACKAGE)))
def test_no_module_class_or_function_is_over_its_size_without_saying_why(path: Path) -> None:
    assert oversized(path) == []
