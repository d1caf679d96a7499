"""The Trainer also runs over a plain torch DataLoader (the path image data takes).

Such a loader has no ``to``/``set_epoch``: batches are moved to the device one by one, and the
result must equal the device-resident ``TensorBatches`` path on the same rows in the same order.
"""

from __future__ import annotations

import torch
from torch.utils.data import DataLoader, TensorDataset

from trainer.engine import Trainer


class LoaderDataModule:
    """The same splits as a TinyDataModule, served by unshuffled torch DataLoaders."""

    def __init__(self, tiny) -> None:
        self.tiny = tiny

    def _loader(self, split: tuple[torch.Tensor, torch.Tensor] | None, batch_size: int) -> DataLoader | None:
        return (
            None if split is None else DataLoader(TensorDataset(*split), batch_size=batch_size, num_workers=0)
        )

    def train_dataloader(self) -> DataLoader:
        loader = self._loader(self.tiny.train, self.tiny.batch_size)
        assert loader is not None
        return loader

    def val_dataloader(self) -> DataLoader | None:
        return self._loader(self.tiny.val, self.tiny.eval_batch_size)

    def test_dataloader(self) -> DataLoader | None:
        return self._loader(self.tiny.test, self.tiny.eval_batch_size)

    def predict_dataloader(self) -> DataLoader | None:
        return self.test_dataloader()


def test_a_torch_dataloader_trains_like_device_batches(datamodule, module, tmp_path):
    tiny = datamodule("multiclass", shuffle=False)
    on_device, through_loader = module("multiclass"), module("multiclass")  # same seed, same weights
    first = Trainer(accelerator="cpu", max_epochs=3, limit_train_batches=5, default_root_dir=tmp_path)
    first.fit(on_device, tiny)
    second = Trainer(accelerator="cpu", max_epochs=3, limit_train_batches=5, default_root_dir=tmp_path)
    second.fit(through_loader, LoaderDataModule(tiny))
    assert second.global_step == first.global_step == 15
    for a, b in zip(on_device.state_dict().values(), through_loader.state_dict().values(), strict=True):
        assert torch.allclose(a, b, atol=1e-6)
    metrics = second.test(through_loader, LoaderDataModule(tiny))
    assert metrics["test/accuracy"] == first.test(on_device, tiny)["test/accuracy"]
    assert second.predict(through_loader, LoaderDataModule(tiny)).shape == (len(tiny.test[0]), 3)
