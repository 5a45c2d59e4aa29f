import pytest
import torch


@pytest.fixture(autouse=True)
def _deterministic():
    torch.manual_seed(0)


@pytest.fixture
def build_devices(monkeypatch):
    """The devices models are built on while counting and matching: a record's counted_on says
    where it was counted, this also sees the variant search's candidates."""
    import importlib

    devices = []
    # by import_module: `fairness.measure` is also the function of that name
    for module in (importlib.import_module("fairness.matching"), importlib.import_module("fairness.measure")):
        real = module.build

        def build(src, device="meta", real=real):
            devices.append(str(device))
            return real(src, device)

        monkeypatch.setattr(module, "build", build)
    return devices
