"""Model loading, onnxruntime sessions, micro-batching and the encode/decode pipeline."""
