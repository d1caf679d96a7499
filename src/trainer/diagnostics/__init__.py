"""Diagnosing a network: gradient checking, the learning-rate range test, the bias/variance
verdict and the model summary. The commands (``trainer gradcheck``, ``trainer lr-find``) live in
``commands.diagnose``; the health callback is ``engine.callbacks.HealthMonitor``."""

from trainer.diagnostics.bias_variance import bias_variance_report, bias_variance_verdict, still_improving
from trainer.diagnostics.model_summary import model_summary

__all__ = ["bias_variance_report", "bias_variance_verdict", "model_summary", "still_improving"]
