"""A GPU hog for the noise proof: keeps the GPU busy with FP16 matmuls (another compute process beside a
run), for --seconds or until killed. Usage: python scripts/gpu_hog.py --seconds 300 &"""

from __future__ import annotations

import argparse
import time

import torch

p = argparse.ArgumentParser()
p.add_argument("--seconds", type=float, default=300)
p.add_argument("--size", type=int, default=8192)
args = p.parse_args()
a = torch.randn(args.size, args.size, device="cuda", dtype=torch.float16)
end = time.time() + args.seconds
print(f"gpu_hog: busy until killed or {args.seconds:.0f} s", flush=True)
while time.time() < end:
    for _ in range(20):
        a = (a @ a).clamp_(-1, 1)
    torch.cuda.synchronize()
