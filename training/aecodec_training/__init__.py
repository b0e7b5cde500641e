"""Training, evaluation and ONNX export of the aecodec model family."""
