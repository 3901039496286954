#!/usr/bin/env bash
# Everything trt-tui checks on a CUDA GPU, in one device call (the H200 through the device tool).
#
# Stage first (on the dev machine, repo root):  ../shared/device/stage-wheels.sh
# Then in one device call: carry [".device/wheels"], command:  bash scripts/gpu-suite.sh [parts...]
# parts: tests fidelity matrix perturbation rtx rtxlogger families baselines inputs timeline (default: tests fidelity)
# timeline: the default `trt-tui run --model resnet50 --batch-size 32` (TIMELINE_ARGS replaces those options),
#   its stage timeline (meta.timeline) summarised and listed, results.json and the events kept in $OUT.
# baselines: eager vs CUDA graphs vs torch.compile for cnn and resnet50 at batch 1/32/256 (a sweep each,
#   with plot.png), and launch-to-first-number for resnet50 b32; fits one 10-minute call alone.
# TensorRT-RTX (part rtx) needs /tmp/site from install-rtx.sh (see ../shared/device/stage-wheels.sh).
# families: FP32/FP16/INT8 builds of every model family + torchvision models (scripts/gpu_families.py), one
#   slice per call: FAMILIES_ARGS='--models families' | '--models resnet50,mobilenet_v3_small,efficientnet_b0' |
#   '--models convnext_tiny,vit_b_16,swin_t' | '--models none --timing resnet50:512,vit_b_16:128' (quantize-stage time).
#   ModelOpt: stage its wheels too (README, INT8 and FP16); onnxruntime-gpu for CUDA calibration: stage-split.sh.
# inputs: INPUT_MODELS (default "hf_bert hf_gpt2"), INPUT_ITERS (300), INPUT_COMPILE= (empty: no torch.compile rows).
# Extra arguments per part: BASELINE_ARGS, FAMILIES_ARGS, MATRIX_ARGS, MAX_SECONDS, FIDELITY_ARGS, PERTURBATION_ARGS, TESTS_ARGS (pytest -k ...).
# Logs and JSON land in $OUT (or ./gpu-out when OUT is unset).
set -uo pipefail
OUT=${OUT:-$PWD/gpu-out}; mkdir -p "$OUT"
if ls .device/wheels/*.whl >/dev/null 2>&1; then
  python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .device/wheels/*.whl || exit 1
fi
export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1
export TRT_TUI_CACHE=/tmp/trt-tui-cache
parts=${*:-tests fidelity}
{ nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv; python3 -c 'import torch,onnxruntime as o;print("torch",torch.__version__,"ort",o.__version__,o.get_available_providers())'; } > "$OUT/env.txt" 2>&1
for part in $parts; do
  echo "== $part $(date +%T)"
  case $part in
    tests) python3 -m pytest -m gpu -p no:cacheprovider -q -rA tests/gpu ${TESTS_ARGS:-} 2>&1 | tee "$OUT/gpu-tests.log" | tail -25 ;;
    fidelity) python3 scripts/fidelity.py --out "$OUT/fidelity.json" ${FIDELITY_ARGS:-} 2>&1 | tail -5 ;;
    matrix) python3 scripts/bench_matrix.py --out-dir /tmp/matrix --md "$OUT/BENCHMARKS.part.md" ${MATRIX_ARGS:-} \
              -- --iterations 500 --warmup 50 --max-seconds ${MAX_SECONDS:-8} --calib-samples 256 2>&1 | tail -20 ;;
    families) python3 scripts/gpu_families.py --out "$OUT/families.json" --budget-s ${FAMILIES_BUDGET:-480} \
                ${FAMILIES_ARGS:---models families} 2>&1 | grep -v Warning | tail -25 ;;
    baselines) python3 scripts/baselines.py --out "$OUT/baselines" ${BASELINE_ARGS:-} 2>&1 | tail -60 ;;
    perturbation) python3 scripts/perturbation.py --out "$OUT/perturbation.json" ${PERTURBATION_ARGS:-} 2>&1 | tail -8 ;;
    rtx) for m in digits-cnn cnn resnet18; do
           python3 scripts/rtx_build_check.py --model "$m" --out "$OUT/rtx-$m.json" 2>&1 | tail -12
         done
         # the whole pipeline with TensorRT-RTX: engines build, running them is refused on CC 9.0
         python3 -m trt_tui.cli run --model digits-cnn --batch-size 32 --iterations 100 --out /tmp/rtx-run \
           > "$OUT/rtx-pipeline.log" 2>&1; tail -25 "$OUT/rtx-pipeline.log"
         cp /tmp/rtx-run/results.json "$OUT/rtx-pipeline-results.json" ;;
    inputs) # issue 19: HF BERT and a GPT-2 causal LM (int64 ids + masks), one optimization profile over two
         # sequence lengths per precision (TensorRT-RTX builds; running them is refused on CC 9.0), PyTorch
         # eager/graph/compile rows with integer inputs, onnxruntime rows
         for m in ${INPUT_MODELS:-hf_bert hf_gpt2}; do  # INPUT_MODELS=hf_bert: one model in a short lease
           if [[ $m == hf_bert ]]; then dyn=input_ids:1=seq,attention_mask:1=seq,token_type_ids:1=seq; else dyn=input_ids:1=seq,attention_mask:1=seq; fi
           python3 -m trt_tui.cli run --model assets/models/$m.py:build --batch-size 8 --dynamic $dyn --sweep seq=64,128 \
             ${INPUT_COMPILE---compile} --iterations ${INPUT_ITERS:-300} --calib-samples 64 --out /tmp/inputs-$m > "$OUT/inputs-$m.log" 2>&1
           echo "exit $?" >> "$OUT/inputs-$m.log"; tail -32 "$OUT/inputs-$m.log"
           cp /tmp/inputs-$m/results.json "$OUT/inputs-$m-results.json"
           python3 - "$m" <<'PY' >> "$OUT/inputs-plans.txt"
import json, sys, pathlib
m = sys.argv[1]; d = pathlib.Path(f"/tmp/inputs-{m}")
for side in sorted(d.glob("*.plan.json")) + sorted(d.glob("*.json")):
    if side.name.endswith(".plan.json") or side.name.startswith("model_") and side.suffix == ".json":
        try: data = json.loads(side.read_text())
        except Exception: continue
        print(m, side.name, json.dumps({k: data.get(k) for k in ("shapes", "precision", "size_bytes", "build_time_s") if k in data})[:600])
print(m, "plans:", [(p.name, p.stat().st_size) for p in sorted(d.glob("*.plan"))])
PY
         done ;;
    timeline) python3 scripts/stage_times.py --summary "$OUT/timeline-stage-times.json" --timeline -- \
                python3 -m trt_tui.cli run ${TIMELINE_ARGS:---model resnet50 --batch-size 32} --out /tmp/timeline-run --json \
                > "$OUT/timeline.txt" 2>&1
              cp /tmp/timeline-run/results.json "$OUT/timeline-results.json"
              tail -n 45 "$OUT/timeline.txt" ;;
    rtxlogger) # TensorRT's single logger: a build's errors reach BuildFailed while a Runtime lives
         python3 scripts/rtx_logger_check.py --out "$OUT/rtx-logger.json" 2>&1 | tail -20 ;;
  esac
done
echo "== done $(date +%T)"
