#!/usr/bin/env bash
# The H200 proof of issue #20 (numbers a user can trust), one part per device call (each fits 10 minutes):
#   bash scripts/noise_proof.sh twice   # resnet50 b32 run twice, then `trt-tui compare` (expect: same within noise)
#   bash scripts/noise_proof.sh hog     # resnet50 b32 with a GPU hog beside it, against the first run
#   bash scripts/noise_proof.sh auto    # --iterations auto --ci-target 0.5% on NOISE_ROWS
# Stage wheels first as for scripts/gpu-suite.sh (.device/wheels); logs and results.json land in $OUT.
set -uo pipefail
OUT=${OUT:-$PWD/gpu-out}; mkdir -p "$OUT"
if ls .device/wheels/*.whl >/dev/null 2>&1; then
  python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .device/wheels/*.whl || exit 1
fi
export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1 TRT_TUI_CACHE=/tmp/trt-tui-cache
RUN="python3 -m trt_tui.cli run --model resnet50 --batch-size 32"
# TensorRT-RTX builds but cannot run on CC 9.0: where no full TensorRT is there, the GPU rows that run
NOISE_ROWS=${NOISE_ROWS:-pytorch-fp32,pytorch-fp16,pytorch-graph-fp16,onnxruntime-fp32}
TIMED="python3 scripts/stage_times.py --timeline --summary"  # the JSON events timed as they arrive, rc kept
keep() { cp "$1/results.json" "$OUT/$2-results.json"; cp "$1/samples.json.gz" "$OUT/$2-samples.json.gz" 2>/dev/null; }
case ${1:-twice} in
  twice)
    # both timed from launch (issue 22's whole-run and first-number figures: A cold, B with the caches A left)
    # TWICE_ROWS: a subset where a lease is too short to stage onnxruntime-gpu (its rows would run on the CPU)
    rows=(); [ -n "${TWICE_ROWS:-}" ] && rows=(--rows "$TWICE_ROWS")
    $TIMED "$OUT/a-times.json" -- $RUN "${rows[@]}" --out /tmp/proof-a --json > "$OUT/a.log" 2>&1; keep /tmp/proof-a a
    $TIMED "$OUT/b-times.json" -- $RUN "${rows[@]}" --out /tmp/proof-b --against /tmp/proof-a --fail-on-regression --json \
      > "$OUT/b.log" 2>&1; keep /tmp/proof-b b
    grep -h -A6 '"first_event"' "$OUT/a.log" "$OUT/b.log"
    python3 -m trt_tui.cli compare /tmp/proof-a /tmp/proof-b --fail-on-regression | tee "$OUT/compare.txt"
    echo "compare exit ${PIPESTATUS[0]}"; tail -30 "$OUT/b.log" ;;
  hog)
    nvidia-smi --query-gpu=clocks.sm,clocks.max.sm,temperature.gpu,power.limit --format=csv
    python3 scripts/gpu_hog.py --seconds 540 & hog=$!; sleep 5
    against=(); [ -f /tmp/proof-a/results.json ] && against=(--against /tmp/proof-a)  # the machine may be fresh
    $RUN --rows $NOISE_ROWS --out /tmp/proof-hog "${against[@]}" > "$OUT/hog.log" 2>&1
    echo "hog run exit $?"
    kill $hog; wait $hog 2>/dev/null; keep /tmp/proof-hog hog; tail -40 "$OUT/hog.log" ;;
  auto)
    $RUN --rows $NOISE_ROWS --iterations auto --ci-target 0.5% --out /tmp/proof-auto \
      > "$OUT/auto.log" 2>&1; echo "auto run exit $?"; keep /tmp/proof-auto auto; tail -20 "$OUT/auto.log" ;;
esac
