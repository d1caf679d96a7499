"""Learning-rate schedules (optimizers come straight from torch.optim via conf/optimizer)."""
