"""Optimizers (torch's, with their settings checked when the config is built) and learning-rate schedules."""
