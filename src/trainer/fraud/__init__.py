"""The fraud study: imbalanced binary data, resampled or weighted networks, an autoencoder, references.

``trainer fraud`` (see :mod:`trainer.fraud.command`) runs every configured approach on the same
splits and preprocessing, chooses each threshold on validation rows, and reports test metrics
side by side as child runs of one MLflow parent run.
"""
