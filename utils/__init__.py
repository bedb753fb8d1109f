import os

# TensorFlow's C++ start-up chatter (no CUDA driver, CPU instructions) hides the project's own output.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
