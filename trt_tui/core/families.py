"""Small models, one per architecture family, that stress INT8 Q/DQ placement and FP16 conversion.

Each has the elementwise constants, norms and layouts real models have next to their Conv/Gemm/MatMul
(GELU's +1, LayerNorm's eps, squeeze-excite's Mul, attention's scale, ...). Deterministic weights
(``torch.manual_seed``). Used by ``tests/core/test_families.py`` on the CPU and by
``scripts/gpu_families.py`` (``scripts/gpu-suite.sh families``) to build TensorRT plans of each.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn


class GeluMLP(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Flatten(),
            nn.Linear(64, 128),
            nn.GELU(),
            nn.Linear(128, 128),
            nn.GELU(approximate="tanh"),
            nn.Linear(128, 10),
        )

    def forward(self, x):
        return self.net(x)


class LayerNormMLP(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.inp = nn.Linear(32, 64)
        self.blocks = nn.ModuleList(
            nn.Sequential(nn.LayerNorm(64), nn.Linear(64, 128), nn.GELU(), nn.Linear(128, 64)) for _ in range(2)
        )
        self.norm, self.head = nn.LayerNorm(64), nn.Linear(64, 10)

    def forward(self, x):  # x: (B, 16 tokens, 32)
        h = self.inp(x)
        for block in self.blocks:
            h = h + block(h)
        return self.head(self.norm(h).mean(dim=1))


class GroupInstanceNormNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(3, 16, 3, padding=1),
            nn.GroupNorm(4, 16),
            nn.SiLU(),
            nn.Conv2d(16, 32, 3, stride=2, padding=1),
            nn.InstanceNorm2d(32, affine=True),
            nn.ReLU(),
            nn.Conv2d(32, 32, 3, padding=1),
            nn.GroupNorm(8, 32),
            nn.GELU(),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
            nn.Linear(32, 10),
        )

    def forward(self, x):
        return self.net(x)


class DepthwiseBNNet(nn.Module):
    """MobileNet-style inverted residuals: pointwise + depthwise conv, BatchNorm, ReLU6."""

    def __init__(self) -> None:
        super().__init__()

        def block(c: int, e: int) -> nn.Sequential:
            return nn.Sequential(
                nn.Conv2d(c, c * e, 1, bias=False),
                nn.BatchNorm2d(c * e),
                nn.ReLU6(),
                nn.Conv2d(c * e, c * e, 3, padding=1, groups=c * e, bias=False),
                nn.BatchNorm2d(c * e),
                nn.ReLU6(),
                nn.Conv2d(c * e, c, 1, bias=False),
                nn.BatchNorm2d(c),
            )

        self.stem = nn.Sequential(nn.Conv2d(3, 16, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(16), nn.ReLU6())
        self.blocks = nn.ModuleList([block(16, 4), block(16, 4)])
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, 10))

    def forward(self, x):
        h = self.stem(x)
        for b in self.blocks:
            h = h + b(h)
        return self.head(h)


class SqueezeExciteHardswish(nn.Module):
    """MobileNetV3-style: Hardswish, squeeze-excite gating (Mul by Hardsigmoid of a pooled branch)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Sequential(nn.Conv2d(3, 24, 3, stride=2, padding=1), nn.BatchNorm2d(24), nn.Hardswish())
        self.se = nn.Sequential(
            nn.AdaptiveAvgPool2d(1), nn.Conv2d(24, 8, 1), nn.ReLU(), nn.Conv2d(8, 24, 1), nn.Hardsigmoid()
        )
        self.conv2 = nn.Sequential(nn.Conv2d(24, 32, 3, padding=1), nn.Hardswish())
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(32, 10))

    def forward(self, x):
        h = self.conv1(x)
        return self.head(self.conv2(h * self.se(h)))


class TransformerEncoder(nn.Module):
    """ViT-like: patch-embedding conv, class token, position embedding, 2 encoder layers (MHA + GELU MLP)."""

    def __init__(self) -> None:
        super().__init__()
        self.patch = nn.Conv2d(3, 64, 8, stride=8)  # 32x32 -> 4x4 = 16 tokens
        self.cls = nn.Parameter(torch.randn(1, 1, 64) * 0.02)
        self.pos = nn.Parameter(torch.randn(1, 17, 64) * 0.02)
        layer = nn.TransformerEncoderLayer(
            64, 4, 128, dropout=0.0, activation="gelu", batch_first=True, norm_first=True
        )
        self.encoder = nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)
        self.norm, self.head = nn.LayerNorm(64), nn.Linear(64, 10)

    def forward(self, x):
        t = self.patch(x).flatten(2).transpose(1, 2)
        t = torch.cat([self.cls.expand(t.shape[0], -1, -1), t], dim=1) + self.pos
        return self.head(self.norm(self.encoder(t)[:, 0]))


class TwoOutputs(nn.Module):
    """A shared trunk with a classification head and a regression head (two graph outputs)."""

    def __init__(self) -> None:
        super().__init__()
        self.trunk = nn.Sequential(
            nn.Conv2d(3, 16, 3, padding=1),
            nn.BatchNorm2d(16),
            nn.ReLU(),
            nn.Conv2d(16, 16, 3, stride=2, padding=1),
            nn.ReLU(),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
        )
        self.cls, self.box = nn.Linear(16, 10), nn.Sequential(nn.Linear(16, 4), nn.Sigmoid())

    def forward(self, x):
        h = self.trunk(x)
        return self.cls(h), self.box(h)


class Conv1dSequence(nn.Module):
    """Temporal convolutions over a (B, channels, time) sequence, with dilation and a residual."""

    def __init__(self) -> None:
        super().__init__()
        self.inp = nn.Conv1d(8, 32, 5, padding=2)
        self.body = nn.Sequential(
            nn.Conv1d(32, 32, 3, padding=2, dilation=2), nn.BatchNorm1d(32), nn.GELU(), nn.Conv1d(32, 32, 3, padding=1)
        )
        self.head = nn.Linear(32, 6)

    def forward(self, x):
        h = torch.relu(self.inp(x))
        h = h + self.body(h)
        return self.head(h.mean(dim=2))


@dataclass(frozen=True)
class Family:
    name: str
    build: Callable[[], nn.Module]
    input_shape: tuple[int, ...]  # per sample


FAMILIES: dict[str, Family] = {
    f.name: f
    for f in (
        Family("gelu-mlp", GeluMLP, (1, 8, 8)),
        Family("layernorm-mlp", LayerNormMLP, (16, 32)),
        Family("group-instance-norm", GroupInstanceNormNet, (3, 32, 32)),
        Family("depthwise-bn", DepthwiseBNNet, (3, 32, 32)),
        Family("se-hardswish", SqueezeExciteHardswish, (3, 32, 32)),
        Family("transformer-encoder", TransformerEncoder, (3, 32, 32)),
        Family("two-outputs", TwoOutputs, (3, 32, 32)),
        Family("conv1d-sequence", Conv1dSequence, (8, 64)),
    )
}


def build(name: str, seed: int = 0) -> nn.Module:
    """The family's model in eval mode, same weights for the same seed. BatchNorm statistics are
    made non-trivial by a few training-mode forwards on seeded data (else BN is an identity)."""
    fam = FAMILIES[name]
    torch.manual_seed(seed)
    model = fam.build()
    if any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules()):
        model.train()
        with torch.no_grad():
            for _ in range(4):
                model(torch.randn(16, *fam.input_shape) * 1.5 + 0.3)
    return model.eval()


def factory(name: str) -> Callable[[], nn.Module]:
    """A zero-argument factory (``file.py:factory`` style) for trt-tui's pipeline."""
    return lambda: build(name)
