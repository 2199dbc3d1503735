"""tools/bench-peers: gesta against PyTorch, ONNX Runtime, OpenCV DNN and
TensorFlow/Keras (see tools/bench-peers --help)."""
