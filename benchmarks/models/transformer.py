"""A small transformer encoder for trying trt-tui on attention, LayerNorm and GELU:
`trt-tui run --model benchmarks/models/transformer.py:build --input-shape 32,64`
(per sample: 32 tokens of width 64; the output is 10 class logits from the mean token)."""

import torch
from torch import nn


class TinyEncoder(nn.Module):
    def __init__(self, width: int = 64, heads: int = 4, depth: int = 2, classes: int = 10) -> None:
        super().__init__()
        layer = nn.TransformerEncoderLayer(width, heads, dim_feedforward=4 * width, dropout=0.0,
                                           activation="gelu", batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, depth, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(width)
        self.head = nn.Linear(width, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.norm(self.encoder(x)).mean(dim=1))


def build() -> nn.Module:
    torch.manual_seed(0)  # the same weights every run
    return TinyEncoder().eval()
