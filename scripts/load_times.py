#!/usr/bin/env python
"""Where the seconds before the first number go on a CUDA machine: imports, model build, CUDA context,
first forward (cuDNN autotuning) of resnet50 at batch 32. Prints seconds since start after each step."""
import time
t = time.perf_counter()
def mark(s):
    print(f"{time.perf_counter() - t:6.2f} {s}", flush=True)
import torch; mark("import torch")
import torchvision; mark("import torchvision")
import trt_tui.core.pipeline; mark("import trt_tui.core.pipeline")
print(torch.cuda.is_available()); mark("cuda.is_available")
from trt_tui.core import envinfo; envinfo.collect("cuda"); mark("envinfo.collect")
from trt_tui.core import models; net = models.load_model("resnet50").module; mark("models.load_model resnet50")
x = torch.randn(32, 3, 224, 224, device="cuda"); mark("first CUDA tensor (context)")
net = net.cuda(); mark("module to cuda")
torch.backends.cudnn.benchmark = True
torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = True
with torch.no_grad():
    net(x); torch.cuda.synchronize(); mark("first forward b32 (cudnn autotune)")
    net(x); torch.cuda.synchronize(); mark("second forward")
    for _ in range(50): net(x)
    torch.cuda.synchronize(); mark("50 more forwards")
