"""Which onnxruntime execution providers can run on this machine, decided once per process.

onnxruntime-gpu lists CUDAExecutionProvider whether or not CUDA and a GPU are there; a session
that asks for it on a CPU-only machine prints two red lines and falls back to CPU, for every
graph of every model on every start and reload. Loading the provider's library ourselves (and,
on Linux, looking for an NVIDIA device node) tells the same thing up front: sessions then ask
only for providers that work, and the reason the others are skipped is logged once.
"""

from __future__ import annotations

import ctypes
import logging
import sys
from functools import cache
from pathlib import Path

import onnxruntime as ort

log = logging.getLogger("aecodec.runtime")

# provider -> the shared library onnxruntime loads for it (libonnxruntime_providers_<name>.so / .dll)
_LIBRARIES = {"CUDAExecutionProvider": "cuda", "TensorrtExecutionProvider": "tensorrt"}
_NVIDIA = frozenset(_LIBRARIES)


@cache
def unusable(provider: str) -> str | None:
    """Why this provider cannot run here, or None when it can (or when nothing tells us it cannot)."""
    if provider not in ort.get_available_providers():
        return f"this onnxruntime build ({ort.__version__}) does not include it"
    name = _LIBRARIES.get(provider)
    if name is None:
        return None
    capi = Path(ort.__file__).parent / "capi"
    found = sorted(capi.glob(f"*onnxruntime_providers_{name}.*"))
    if found:
        try:
            ctypes.CDLL(str(found[0]))
        except OSError as exc:
            return f"its library does not load: {str(exc).replace(str(capi) + '/', '')}"
    if provider in _NVIDIA and sys.platform.startswith("linux") and not Path("/dev/nvidiactl").exists():
        return "no NVIDIA GPU is visible (no /dev/nvidiactl)"
    return None


_reported: set[str] = set()


def usable(preferred: list[str]) -> list[str]:
    """The preferred providers that can run here, in order; says once per process why any other is skipped."""
    kept = [p for p in preferred if unusable(p) is None]
    for p in preferred:
        why = unusable(p)
        if why is not None and p not in _reported:
            _reported.add(p)
            fallback = next((k for k in kept if k != p), "CPUExecutionProvider")
            log.warning("%s is unavailable (%s); models run on %s", p, why, fallback)
    return kept
