#!/usr/bin/env bash
# One device call's worth of the H200 proofs of issues 20 and 22, in priority order. Each part is capped so the
# call ends inside its 10 minutes whatever a part takes; logs and JSON of every part come back as $OUT/proof.tgz
# (the device returns at most 8 files). Stage TensorRT-RTX and onnxruntime-gpu into /tmp/site first (the headers
# of ../shared/device/stage-wheels.sh and stage-split.sh), carry .device/wheels, then:
#   bash scripts/h200_proof.sh A   # default resnet50 b32 run twice (whole run, first number, compare), ViT quantize, app r
#   bash scripts/h200_proof.sh B   # a GPU hog, --iterations auto, fidelity, the GPU tests
#   bash scripts/h200_proof.sh C   # one short lease, wheels only: A's runs on the PyTorch rows, the hog, app r, fidelity, auto
set -uo pipefail
t0=$SECONDS; budget=${PROOF_BUDGET_S:-570}
back=${OUT:-$PWD/gpu-out}; mkdir -p "$back"
export OUT=/tmp/proof; mkdir -p "$OUT"
if ls .device/wheels/*.whl >/dev/null 2>&1; then
  python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .device/wheels/*.whl || exit 1
fi
export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1 TRT_TUI_CACHE=/tmp/trt-tui-cache
# a cold page cache for the launch-time figures where the machine allows it (root, writable /proc/sys)
cold() { sync; echo 3 > /proc/sys/vm/drop_caches 2>/dev/null && echo "page cache dropped" || echo "page cache NOT dropped"; }
# part NAME CAP_S COMMAND...: run with the smaller of its cap and what is left of the budget
part() {
  local name=$1 cap=$2; shift 2
  local left=$((budget - (SECONDS - t0) - 15))
  (( left < cap )) && cap=$left
  if (( cap < 20 )); then echo "== $name skipped: budget spent" | tee -a "$OUT/parts.txt"; return; fi
  echo "== $name $(date +%T) cap ${cap}s"
  if declare -F "$1" >/dev/null; then export -f "$1"; set -- bash -c "$1"; fi  # timeout runs programs only
  timeout "$cap" "$@" > "$OUT/$name.txt" 2>&1; local rc=$?
  echo "== $name exit $rc after $((SECONDS - t0))s" | tee -a "$OUT/parts.txt"
  tail -n "${TAIL:-25}" "$OUT/$name.txt"
}
env_snapshot() {
  nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm,clocks.mem,temperature.gpu,power.limit,persistence_mode --format=csv
  nvidia-smi --query-compute-apps=pid,name,used_memory --format=csv
  python3 -c 'import torch, onnxruntime as o; print("torch", torch.__version__, "ort", o.__version__, o.get_available_providers())'
  python3 -c 'import tensorrt_rtx_bindings as t; print("TensorRT-RTX", t.__version__)' || echo "no TensorRT-RTX"
  python3 -c 'import modelopt, textual; print("modelopt", modelopt.__version__, "textual", textual.__version__)'
  uptime; nproc
}
case ${1:-A} in
  A)
    part env 60 env_snapshot
    cold >> "$OUT/parts.txt"
    TAIL=45 part twice 300 bash scripts/noise_proof.sh twice
    part vit 150 python3 scripts/gpu_families.py --out "$OUT/vit-timing.json" --budget-s 140 --models none --timing vit_b_16:128
    cold >> "$OUT/parts.txt"
    part app 50 python3 scripts/app_first_number.py --pick-s 1 --timeout 45 --out "$OUT/app-first-number.json" ;;
  C)  # a short lease, nothing staged but .device/wheels: the GPU rows that run without onnxruntime-gpu
    export TWICE_ROWS=${TWICE_ROWS:-pytorch-fp32,pytorch-fp16,pytorch-graph-fp32,pytorch-graph-fp16}
    export NOISE_ROWS=${NOISE_ROWS:-$TWICE_ROWS}
    part env 60 env_snapshot
    cold >> "$OUT/parts.txt"
    TAIL=45 part twice 200 bash scripts/noise_proof.sh twice
    TAIL=30 part hog 90 bash scripts/noise_proof.sh hog
    cold >> "$OUT/parts.txt"
    part app 50 python3 scripts/app_first_number.py --pick-s 1 --timeout 45 --out "$OUT/app-first-number.json"
    part fidelity 150 python3 scripts/fidelity.py --out "$OUT/fidelity.json"
    part auto 90 bash scripts/noise_proof.sh auto ;;
  B)  # right after A on the same warm machine (the hog compares against A's first run in /tmp)
    part env 60 env_snapshot
    TAIL=30 part hog 100 bash scripts/noise_proof.sh hog
    part auto 120 bash scripts/noise_proof.sh auto
    part fidelity 150 python3 scripts/fidelity.py --out "$OUT/fidelity.json"
    part tests 200 python3 -m pytest -m gpu -p no:cacheprovider -q -rA tests/gpu ;;
esac
tar czf "$back/proof-${1:-A}.tgz" -C "$OUT" . && ls -la "$OUT"
