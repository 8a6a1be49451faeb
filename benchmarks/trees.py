"""The command that runs the maskgen CLI of another source tree, shared by the benchmarks that compare
two versions of maskgen (``realworld.py --generator-tree``, ``bench_vs_maskthface.py --other-tree``).

The tree goes first on ``sys.path`` inside the child process itself, so the result does not depend
on the working directory (``python -c`` puts it first) or on how this checkout is installed.
"""
from __future__ import annotations

from pathlib import Path


def tree_command(python: str, tree: Path) -> list[str]:
    """``python`` running ``maskgen`` imported from ``tree`` (a checkout, e.g. made with ``git worktree``)."""
    tree = str(Path(tree).resolve())
    return [python, "-c", f"import sys; sys.path.insert(0, {tree!r}); "
                          "from maskgen.cli.main import main; sys.exit(main())"]
