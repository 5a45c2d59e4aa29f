"""A small CNN family for scikit-learn's bundled digits (8x8 grey images, ten classes), small
enough to train on a CPU in seconds: the end-to-end example of the quality hook (issue 25).

    python:examples.digits.model:digits_cnn      width, depth (family.yaml scales them), separable

`separable=True` makes every block after the first a depthwise 3x3 and a pointwise 1x1 convolution
(MobileNet's block): fewer parameters and FLOPs per channel, more layers to run.
"""

import torch
from torch import nn


def _block(cin: int, cout: int, separable: bool, stride: int = 1) -> nn.Sequential:
    if separable and cin > 1:
        convs = [nn.Conv2d(cin, cin, 3, stride, padding=1, groups=cin, bias=False), nn.BatchNorm2d(cin), nn.ReLU(),
                 nn.Conv2d(cin, cout, 1, bias=False)]
    else:
        convs = [nn.Conv2d(cin, cout, 3, stride, padding=1, bias=False)]
    return nn.Sequential(*convs, nn.BatchNorm2d(cout), nn.ReLU())


class DigitsCNN(nn.Module):
    """A stride-2 stem to 4x4 maps of `width` channels, then `depth` - 1 blocks at 4x4, global
    average pooling, a linear classifier. The maps are small so that a width of a hundred channels
    or more trains in seconds: a width step is then under 2% of the parameters and FLOPs, and the
    matched variants land within 1%."""

    def __init__(self, width: int = 128, depth: int = 2, separable: bool = False):
        super().__init__()
        blocks = [_block(1, width, separable, stride=2)] + [_block(width, width, separable) for _ in range(depth - 1)]
        self.features = nn.Sequential(*blocks)
        self.head = nn.Linear(width, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x).mean(dim=(2, 3)))


def digits_cnn(width: int = 128, depth: int = 2, separable: bool = False) -> DigitsCNN:
    return DigitsCNN(width, depth, separable)


def digits_inputs(batch_size: int = 1, device="cpu") -> torch.Tensor:
    """A batch shaped like the digits: one 8x8 grey channel."""
    return torch.randn(batch_size, 1, 8, 8, device=device)
