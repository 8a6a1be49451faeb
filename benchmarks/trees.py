"""The command that runs the maskgen CLI of another source tree, shared by the benchmarks that compare
two versions of maskgen (``realworld.py --generator-tree``, ``bench_vs_maskthface.py --other-tree``).

The tree goes first on ``sys.path`` inside the child process itself, so the result does not depend
on the working directory (``python -c`` puts it first) or on how this checkout is installed. It also
goes first on ``PYTHONPATH``: ``maskgen augment --workers 2`` forks its workers from a fork server,
which Python 3.11 starts with the default path, and maskgen before 2026-12-06 did not hand it its own
(``maskgen/dataset/local_runner.py`` does now), so the workers of an older tree would import this
checkout's maskgen and write this checkout's data.
"""
from __future__ import annotations

from pathlib import Path


def tree_command(python: str, tree: Path) -> list[str]:
    """``python`` running ``maskgen`` imported from ``tree`` (a checkout, e.g. made with ``git worktree``)."""
    tree = str(Path(tree).resolve())
    return [python, "-c", f"import os, sys; sys.path.insert(0, {tree!r}); "
                          f"os.environ['PYTHONPATH'] = os.pathsep.join([{tree!r}, os.environ.get('PYTHONPATH', '')]); "
                          "from maskgen.cli.main import main; sys.exit(main())"]
