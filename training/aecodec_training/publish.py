"""Atomic publication of a model folder: built in a temporary folder beside the target, then renamed.

A reader (the service's reload) sees the old folder or the new one, never a half-written one: on Linux the
two folders are swapped in one ``renameat2(RENAME_EXCHANGE)``; elsewhere the old one is renamed aside and the
new one into place (a moment without the folder, never a torn one). A failure removes the temporary folder.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

_AT_FDCWD = -100
_RENAME_EXCHANGE = 2


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths atomically (Linux renameat2); False where the system cannot."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2: Callable[..., int] = libc.renameat2
    except (OSError, AttributeError):
        return False
    return renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0


def replace_dir(new: Path, target: Path) -> None:
    """Put folder ``new`` at ``target`` (same parent), replacing what is there; ``new`` is gone afterwards."""
    if not target.exists():
        new.rename(target)
        return
    if _exchange(new, target):
        shutil.rmtree(new)  # now the old folder
        return
    old = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.old-"))
    old.rmdir()
    target.rename(old)
    new.rename(target)
    shutil.rmtree(old)


@contextmanager
def staging(target: Path) -> Iterator[Path]:
    """A fresh temporary folder beside ``target``; published there when the block ends without an error,
    removed when it raises."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.tmp-"))
    tmp.chmod(0o755)  # mkdtemp makes it private; the service must be able to read it
    try:
        yield tmp
        replace_dir(tmp, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def publish_copy(folder: Path, target: Path) -> None:
    """Copy a finished model folder to ``target`` atomically (e.g. from a run folder into the served one)."""
    with staging(target) as tmp:
        for item in folder.iterdir():
            if item.is_file():
                shutil.copy2(item, tmp / item.name)
