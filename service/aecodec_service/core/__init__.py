"""Cross-cutting pieces of the HTTP layer, one concern per module.

config (settings) · errors (every exception to problem+json) · security (keys, admin) · limits (body size) ·
metrics (Prometheus, request timing) · fastpath (hot routes without FastAPI's routing) · negotiate (Accept) ·
server (uvicorn with header-size and deadline limits) · providers (which onnxruntime providers can run here)
"""
