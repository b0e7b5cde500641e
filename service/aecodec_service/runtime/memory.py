"""Handing memory back to the operating system after a large request.

The arrays of a large image (the decoded pixels, the model input, the tiles' outputs) are freed when the
request ends, but glibc's allocator keeps freed heap pages for reuse, so the process's resident size
stays at its peak. ``malloc_trim(0)`` returns them; it walks the heap (about a millisecond), so it is
called only after a request that ran tiles. Elsewhere than glibc it does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
from collections.abc import Callable

log = logging.getLogger("aecodec.runtime")


def _malloc_trim() -> Callable[[], object]:
    name = ctypes.util.find_library("c")
    try:
        trim = ctypes.CDLL(name).malloc_trim if name else None
    except (OSError, AttributeError):
        trim = None
    if trim is None:
        return lambda: None
    trim.argtypes = [ctypes.c_size_t]
    return lambda: trim(0)


give_back = _malloc_trim()
