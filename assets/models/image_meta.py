"""An image + metadata model: two float inputs (``image`` [B,3,32,32], ``meta`` [B,8]), one logits output.
trt-tui reads both inputs from ``example_inputs``:  trt-tui run --model assets/models/image_meta.py:build"""

import torch
from torch import nn


class ImageMeta(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.meta_mlp = nn.Sequential(nn.Linear(8, 16), nn.ReLU())
        self.head = nn.Linear(32, 5)

    def forward(self, image: torch.Tensor, meta: torch.Tensor) -> torch.Tensor:
        return self.head(torch.cat([self.conv(image), self.meta_mlp(meta)], dim=1))


def build() -> nn.Module:
    torch.manual_seed(0)
    return ImageMeta().eval()


def example_inputs(batch_size: int):
    return torch.randn(batch_size, 3, 32, 32), torch.rand(batch_size, 8)
