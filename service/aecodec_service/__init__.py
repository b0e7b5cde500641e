"""The aecodec HTTP service: FastAPI over onnxruntime."""

import os

# OpenBLAS's worker threads spin for about 2**28 cycles (~0.1 s) after each matrix product before they sleep: after
# the integer hyper-synthesis's products they held a core while onnxruntime ran the next graph (50-75 ms of a 768x512
# photograph's encode + decode, docs/performance.md). OpenBLAS reads this once, when numpy loads it.
os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "4")
