"""An example of a model file for trt-tui: a module-level function that returns a torch.nn.Module.

    trt-tui run --model assets/example_model.py:make --input-shape 1,8,8 --calib-data assets/digits_calibration.npy

runs it against the calibration set beside it (8x8 digit images). Its weights are random (seeded):
the speed columns mean what they always mean; the accuracy columns compare each row with this same
untrained network in FP32.
"""

import torch
from torch import nn


def make() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(),
        nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(32 * 4 * 4, 64), nn.ReLU(), nn.Linear(64, 10),
    )
