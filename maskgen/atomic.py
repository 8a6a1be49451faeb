"""Atomic writing: a reader, or a run killed midway, never sees a half-written file.

Everything maskgen writes (images, part files, manifests, COCO files, ``settings.json``) goes
through :func:`atomic_open`: the data goes to a temporary name in the target's folder (or in
``tmp_dir``, which must be on the same file system), is flushed to disk, and then replaces the
target with :func:`os.replace`. On any exception (KeyboardInterrupt included) the temporary file
is removed and the target is left as it was.
"""
from __future__ import annotations

import contextlib
import itertools
import json
import os
import shutil
from pathlib import Path
from typing import IO, Iterator

_tmp_counter = itertools.count()


def _tmp_path(path: Path, tmp_dir) -> Path:
    folder = Path(tmp_dir) if tmp_dir is not None else path.parent
    return folder / f".{path.name}.{os.getpid()}.{next(_tmp_counter)}.tmp"


@contextlib.contextmanager
def atomic_open(path, mode: str = "w", tmp_dir=None, fsync: bool = True, **kwargs) -> Iterator[IO]:
    """Open a temporary file next to ``path`` (or in ``tmp_dir``); on success it replaces ``path``.

    Text modes default to UTF-8 and ``'\\n'`` line endings.
    """
    path = Path(path)
    tmp = _tmp_path(path, tmp_dir)
    if "b" not in mode:
        kwargs.setdefault("encoding", "utf-8")
        kwargs.setdefault("newline", "\n")
    try:
        with open(tmp, mode, **kwargs) as f:
            yield f
            f.flush()
            if fsync:
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def write_bytes_atomic(path, data: bytes, tmp_dir=None, fsync: bool = True) -> Path:
    """Write ``data`` to ``path`` atomically."""
    path = Path(path)
    with atomic_open(path, "wb", tmp_dir=tmp_dir, fsync=fsync) as f:
        f.write(data)
    return path


def write_text_atomic(path, text: str, tmp_dir=None, fsync: bool = True) -> Path:
    """Write UTF-8 text (``'\\n'`` line endings) to ``path`` atomically."""
    path = Path(path)
    with atomic_open(path, "w", tmp_dir=tmp_dir, fsync=fsync) as f:
        f.write(text)
    return path


def write_json_atomic(path, record, tmp_dir=None) -> Path:
    """Write ``record`` as indented, key-sorted JSON (the same record always gives the same bytes)."""
    return write_text_atomic(path, json.dumps(record, indent=2, sort_keys=True) + "\n", tmp_dir=tmp_dir)


def copy_atomic(source, target, link: bool = True) -> Path:
    """``source`` copied to ``target`` atomically; by default as a second hard link to its data.

    A hard link costs no disk space, and it is safe wherever ``source`` is only ever replaced
    through :func:`atomic_open` (a new file under the old name): ``target`` keeps the old data.
    Where the file system refuses links (another device, FAT, some network shares), the bytes are
    copied instead.
    """
    source, target = Path(source), Path(target)
    if link:
        tmp = _tmp_path(target, None)
        try:
            os.link(source, tmp)
        except OSError:
            pass
        else:
            try:
                os.replace(tmp, target)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
                raise
            return target
    with open(source, "rb") as src, atomic_open(target, "wb") as dst:
        shutil.copyfileobj(src, dst, 1 << 20)
    return target
