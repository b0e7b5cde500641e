"""The aecodec HTTP service: FastAPI over onnxruntime."""
