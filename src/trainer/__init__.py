"""trainer: Hydra-composed PyTorch runs, a Lightning-style trainer of our own, tracked in MLflow."""

__version__ = "0.1.0"
