"""The package's shape: no import cycle, no import against the data flow, small modules and functions.

Read from the source with :mod:`ast` (nothing is imported), so every import counts, the ones inside
functions too: a function-level import may defer a heavy backend, never hide a cycle.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = {"maskgen": ROOT / "maskgen", "maskgen_trainer": ROOT / "trainer"}

# the data flow, lowest first: a module may import its own layer and the layers below it
LAYERS = [
    {"maskgen", "maskgen.images", "maskgen.crops"},
    {"maskgen.detect"},
    {"maskgen.mask"},
    {"maskgen.augment", "maskgen.verify", "maskgen.demo"},
    {"maskgen.dataset"},
    {"maskgen.cli"},
]
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60


def _modules() -> dict[str, Path]:
    found = {}
    for name, folder in PACKAGES.items():
        for path in sorted(folder.rglob("*.py")):
            rel = path.relative_to(folder).with_suffix("")
            parts = [name, *rel.parts]
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join(parts)] = path
    return found


MODULES = _modules()


def _resolve(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".")
    base = base if is_package else base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _imports(module: str) -> set[str]:
    """The project modules ``module`` imports, anywhere in its body."""
    path = MODULES[module]
    tree = ast.parse(path.read_text(), str(path))
    targets = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(module, path.name == "__init__.py", node)
            targets.add(base)
            targets.update(f"{base}.{a.name}" for a in node.names)
    return {t for t in targets if t in MODULES and t != module}


GRAPH = {m: _imports(m) for m in MODULES}


def _layer(module: str) -> int | None:
    best = None
    for i, layer in enumerate(LAYERS):
        for prefix in layer:
            if module == prefix or module.startswith(prefix + "."):
                if best is None or len(prefix) > best[1]:
                    best = (i, len(prefix))
    return None if best is None else best[0]


def test_no_import_cycle():
    state: dict[str, int] = {}
    stack: list[str] = []
    cycles = []

    def visit(m):
        state[m] = 1
        stack.append(m)
        for n in sorted(GRAPH[m]):
            if state.get(n) == 1:
                cycles.append(" -> ".join(stack[stack.index(n):] + [n]))
            elif n not in state:
                visit(n)
        stack.pop()
        state[m] = 2

    for m in sorted(GRAPH):
        if m not in state:
            visit(m)
    assert not cycles, "import cycles:\n" + "\n".join(cycles)


def test_imports_follow_the_data_flow():
    upward = []
    for m, targets in GRAPH.items():
        if not m.startswith("maskgen.") and m != "maskgen":
            continue
        lm = _layer(m)
        for t in targets:
            lt = _layer(t)
            if lm is not None and lt is not None and lt > lm:
                upward.append(f"{m} imports {t}")
            if t.startswith("maskgen_trainer"):
                upward.append(f"{m} imports {t} (the trainer is found through an entry-point group)")
    assert not upward, "\n".join(sorted(upward))


@pytest.mark.parametrize("module", sorted(MODULES))
def test_module_and_function_sizes(module):
    path = MODULES[module]
    text = path.read_text()
    assert len(text.splitlines()) <= MAX_MODULE_LINES, f"{path} has {len(text.splitlines())} lines"
    long = []
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            n = node.end_lineno - node.lineno + 1
            if n > MAX_FUNCTION_LINES:
                long.append(f"{node.name} ({n} lines, line {node.lineno})")
    assert not long, f"{path}: " + ", ".join(long)


def test_the_checks_see_the_package():
    assert {"maskgen.detect.faces", "maskgen.mask.masker", "maskgen.dataset.build", "maskgen_trainer.train"} <= set(MODULES)
    assert "maskgen.mask.options" in GRAPH["maskgen.mask.masker"]


def test_setup_cfg_installs_every_package():
    """A wheel holds only the packages setup.cfg lists: each folder with an __init__.py must be there
    (maskgen.augment was missing, so a non-editable install could not import it)."""
    import configparser

    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg")
    listed = set(cfg["options"]["packages"].split())
    dirs = dict(line.split("=") for line in cfg["options"]["package_dir"].strip().splitlines())
    folders = {name.strip(): ROOT / folder.strip() for name, folder in dirs.items()}
    found = {".".join([name, *init.parent.relative_to(folder).parts])
             for name, folder in folders.items() for init in folder.rglob("__init__.py")}
    assert "maskgen.augment" in found and found - listed == set()
