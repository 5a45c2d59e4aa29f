"""The quality hook of the digits example: train a model on scikit-learn's bundled digits
(1,797 8x8 images; nothing is downloaded) and return its test accuracy in percent.

    quality: {python: examples.digits.train:evaluate, metric: accuracy}

Deterministic on one machine: a fixed split (360 test images), the weights re-drawn from a fixed
seed, one thread, a fixed number of epochs. Seconds per model on a CPU.
"""

import torch
from torch import nn

EPOCHS = 15
BATCH = 64
SEED = 0


def digits(seed: int = SEED):
    """(train images, train labels, test images, test labels): images N x 1 x 8 x 8 in [0, 1]."""
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    x = torch.tensor(x, dtype=torch.float32).reshape(-1, 1, 8, 8) / 16
    y = torch.tensor(y)
    order = torch.randperm(len(y), generator=torch.Generator().manual_seed(seed))
    test, train = order[:360], order[360:]
    return x[train], y[train], x[test], y[test]


def evaluate(model: nn.Module, spec: dict | None = None, epochs: int = EPOCHS, seed: int = SEED) -> float:
    """Test accuracy (%) after `epochs` epochs of AdamW from weights drawn with `seed`."""
    torch.set_num_threads(1)
    torch.manual_seed(seed)
    for m in model.modules():  # the builder's random weights come from an unseeded generator
        if hasattr(m, "reset_parameters"):
            m.reset_parameters()
    xtr, ytr, xte, yte = digits()
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=1e-4)
    steps = torch.Generator().manual_seed(seed)
    model.train()
    for _ in range(epochs):
        for idx in torch.randperm(len(ytr), generator=steps).split(BATCH):
            opt.zero_grad()
            nn.functional.cross_entropy(model(xtr[idx]), ytr[idx]).backward()
            opt.step()
    model.eval()
    with torch.no_grad():
        return float((model(xte).argmax(1) == yte).float().mean() * 100)
