"""Stage benchmark, row by row: the timed loop first (the number the user waits for), then the
row's accuracy against the reference on the eval set.

The PyTorch rows run first (``baselines``, right after the model loads: numbers in seconds, and
nothing else on the GPU while they are timed); the others after the builds (``run``). The eval set
and the accuracy reference are made when the first row needs them, after that row's timing.
"""

from __future__ import annotations

import traceback
from pathlib import Path
from typing import Any

import numpy as np

from trt_tui.core import accuracy, artifacts, bench, eval_data, rows, torch_runners
from trt_tui.core.errors import TrtTuiError, is_out_of_memory
from trt_tui.core.events import Progress
from trt_tui.core.inputs import Feeds, feed_rows
from trt_tui.core.stages.context import Cancelled, RunContext
from trt_tui.core.stages.runners import make_runner
from trt_tui.core.vocab import READY, Backend, Precision, Status

Point = tuple[int, tuple[tuple[str, int], ...]]  # (batch size, dim sizes)


class Benchmark:
    """The benchmark stage over a whole run, and its caches: the timing feeds and the eval set with its
    accuracy reference, made once per point (batch size, dim sizes) at first need; what it learnt
    (reference, eval samples, notes) goes into each benchmark stage's detail."""

    def __init__(self) -> None:
        self.point: Point | None = None
        self.timing: Feeds | None = None  # every row at this point shares it
        self.eval: tuple[Feeds, np.ndarray | None, list[np.ndarray] | None] | None = None  # x, labels, reference
        self.info: dict[str, Any] = {}
        self.baseline_batches: set[int] = set()  # batch sizes whose PyTorch rows ran before export

    def at(self, ctx: RunContext) -> Benchmark:
        """The caches of the point ``ctx`` works on (another point drops the last one's)."""
        point = (ctx.batch, tuple(sorted(ctx.dims.items())))
        if point != self.point:
            self.point, self.timing, self.eval = point, None, None
        return self

    def baselines(self, ctx: RunContext) -> None:
        """The PyTorch rows, right after the model loads: the first numbers come in seconds."""
        todo = [r for r in ctx.selected(Backend.PYTORCH) if ctx.rows.current(r)["status"] == Status.PENDING]
        if not todo:
            return
        self.baseline_batches.add(ctx.batch)
        with ctx.stage("benchmark", "Benchmark PyTorch (before export and builds)") as detail:
            freeze_heap()
            for row_id in todo:
                ctx.check_cancel()
                bench_one(ctx, self.at(ctx), row_id, onnx=None)
            detail.update(self.info)

    def run(self, ctx: RunContext, onnx: Path | None) -> None:
        """Every other row still to measure; ``onnx`` (model.onnx, None when not made) gives the output
        names and, for an ONNX model, the reference. Each row's Runner comes from runners.make_runner."""
        todo = [r for r in ctx.cfg.rows if ctx.rows.current(r)["status"] in READY]
        if not todo and ctx.batch in self.baseline_batches:
            return  # every row was measured with the PyTorch ones (or cannot run)
        with ctx.stage("benchmark", "Benchmark") as detail:
            freeze_heap()  # the exporter's and ModelOpt's modules have joined the run's long-lived objects
            for row_id in todo:
                ctx.check_cancel()
                if ctx.rows.current(row_id)["status"] in READY:
                    bench_one(ctx, self.at(ctx), row_id, onnx)
            detail.update(self.info)

    def timing_input(self, ctx: RunContext) -> Feeds:
        if self.timing is None:
            self.info["timing_input"] = f"each input by its generator (results.json meta.inputs), seed {ctx.cfg.seed}"
            self.timing = eval_data.timing_feeds(ctx.inputs, ctx.batch, ctx.cfg.seed, ctx.dims)
        return self.timing

    def eval_context(
        self, ctx: RunContext, onnx: Path | None
    ) -> tuple[Feeds, np.ndarray | None, list[np.ndarray] | None]:
        """Eval inputs, labels and the accuracy reference, made once per point (at first need)."""
        if self.eval is None:
            x, labels = eval_data.eval_set(
                ctx.model, ctx.inputs, ctx.batch, ctx.cfg.eval_samples, ctx.cfg.seed, ctx.dims
            )
            try:
                ref, ref_name = reference_outputs(ctx, x, onnx)
            except Exception as exc:  # noqa: BLE001 - e.g. out of memory: rows still run, without accuracy
                reason = describe_failure(exc, ctx.batch)
                ctx.error("benchmark", f"accuracy reference failed: {reason}", traceback.format_exc())
                ref, ref_name = None, f"none ({reason})"
                release_gpu_memory()
            self.describe_reference(ctx, x, labels, ref, ref_name, output_names(ctx, onnx))
            self.eval = (x, labels, ref)
        return self.eval

    def describe_reference(
        self,
        ctx: RunContext,
        x: Feeds,
        labels: np.ndarray | None,
        ref: list[np.ndarray] | None,
        ref_name: str,
        names: list[str],
    ) -> None:
        i = accuracy.compared_output(ref or [])
        self.info.update(
            reference=ref_name,
            eval_samples=feed_rows(x),
            labelled=labels is not None,
            accuracy_output=names[i] if i < len(names) else "the first output",
        )
        extra = f" (of {len(ref)} outputs)" if ref is not None and len(ref) > 1 else ""
        ctx.log(
            "benchmark",
            f"accuracy reference: {ref_name} on {feed_rows(x)} samples; the accuracy columns "
            f"compare output {self.info['accuracy_output']!r}{extra}",
        )
        if ref is not None and (why := accuracy.top1_uninformative(ref[i : i + 1])):
            ctx.log("benchmark", why, "warning")
            self.info.update(top1_note=why)


def bench_one(ctx: RunContext, bench_: Benchmark, row_id: str, onnx: Path | None) -> None:
    row = rows.get(row_id)
    ctx.rows.set(row_id, status=Status.RUNNING, reason="compiling" if row.mode == "compile" else "measuring")
    runner = None
    try:
        ctx.timeline.mark(row_id, "load")  # warm-up, timed and gpu-compute follow from the Progress events
        runner, fields = make_runner(ctx, row)
        ctx.rows.set(row_id, **fields)
        ctx.timeline.mark(row_id, "warm-up")
        m = timed(ctx, bench_.timing_input(ctx), row_id, runner)
        ctx.timeline.mark(row_id, "reference" if bench_.eval is None else "accuracy")  # eval set: once per size
        x, labels, ref = bench_.eval_context(ctx, onnx)
        ctx.timeline.mark(row_id, "accuracy")
        done = {**m.row_fields(ctx.batch), "samples": m.samples(), **torch_runners.build_fields(runner)}
        done.update(accuracy_fields(ref, bench.run_batches(runner, x, ctx.batch), labels))
        if m.note:
            ctx.log("benchmark", f"{row_id}: {m.note}", "warning")
            done["notes"] = "; ".join(n for n in (ctx.rows.current(row_id).get("notes"), m.note) if n)
        ctx.rows.set(row_id, status=Status.OK, reason="", **done)
    except Cancelled:
        raise
    except TrtTuiError as exc:
        ctx.error("benchmark", f"{row_id}: {exc.message}", exc.detail)
        ctx.rows.set(row_id, status=Status.FAILED, reason=exc.message)
    except Exception as exc:  # noqa: BLE001 - one row's failure must not stop the others
        reason = describe_failure(
            exc, ctx.batch, half=(row.backend, row.precision) == (Backend.PYTORCH, Precision.FP16)
        )
        ctx.error("benchmark", f"{row_id}: {reason}", traceback.format_exc())
        ctx.rows.set(row_id, status=Status.FAILED, reason=reason)
    finally:
        ctx.timeline.mark(row_id, "release")
        if runner is not None:
            runner.close()
        release_gpu_memory()
        ctx.timeline.end(row_id)


def timed(ctx: RunContext, feeds: Feeds, row_id: str, runner: Any) -> bench.Measurement:
    """The timed loops on this batch size's timing input; the running p50 and then the latency half
    reach the screen before the GPU-compute loop ends."""
    cfg = ctx.cfg
    report, total = ctx.progress("benchmark", row_id), {"timed": cfg.iterations}

    def progress(phase: str, step: int, of: int) -> None:
        total[phase] = of  # --iterations auto: the count the CI target needs, as projected so far
        report(phase, step, of)

    def running(step: int, p50_ms: float) -> None:
        ctx.emit(
            Progress(stage="benchmark", task=row_id, phase="timed", step=step, total=total["timed"], p50_ms=p50_ms)
        )

    def latency(part: bench.Measurement) -> None:
        ctx.rows.set(
            row_id,
            reason="timing GPU compute" if runner.device == "cuda" else "checking accuracy",
            **{k: v for k, v in part.row_fields(ctx.batch).items() if v is not None},
            **torch_runners.build_fields(runner),
        )  # a capture or compile ran in the first set_input

    return bench.measure(
        runner,
        feeds,
        warmup=cfg.warmup,
        iterations=cfg.iterations,
        max_seconds=cfg.max_seconds,
        on_progress=progress,
        on_latency=latency,
        on_running=running,
        ci_target=cfg.ci_target,
        auto=cfg.auto_iterations,
    )


def output_names(ctx: RunContext, onnx_path: Path | None) -> list[str]:
    """The model's output names in order (those its export gives; an ONNX file's graph outputs)."""
    names = ctx.model.info.get("outputs")
    if not names and onnx_path is not None:
        import onnx

        names = [o.name for o in onnx.load(str(onnx_path), load_external_data=False).graph.output]
    return list(names or [])


def accuracy_fields(ref: list[np.ndarray] | None, outs: list[np.ndarray], labels: np.ndarray | None) -> dict[str, Any]:
    """The accuracy columns: the compared output (the first floating-point one: logits) against the reference's."""
    fields: dict[str, Any] = {}
    i = accuracy.compared_output(ref if ref is not None else outs)
    if ref is not None:
        acc = accuracy.compare(ref[i : i + 1], outs[i : i + 1])
        fields = {k: acc.get(k) for k in accuracy.KEYS}
        fields.update(accuracy.trust_fields(ref, fields))  # NaN/Inf said so; a vacuous comparison n/a
    if labels is not None:
        fields["label_accuracy"] = accuracy.label_accuracy(outs[i], labels)
    return fields


def reference_outputs(ctx: RunContext, x: Feeds, onnx: Path | None) -> tuple[list[np.ndarray], str]:
    """PyTorch FP32 with TF32 off (strict FP32) on the run device; onnxruntime FP32 for ONNX models."""
    import torch

    from trt_tui.core import export

    if ctx.model.module is None:
        session = export.ort_session(onnx, prefer_cuda=False)
        return bench.run_batches(bench.OrtRunner(session), x, ctx.batch), "onnxruntime FP32 (CPU)"
    saved = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    try:
        runner = bench.TorchRunner(ctx.model.module, ctx.inputs, device=ctx.device)
        return bench.run_batches(runner, x, ctx.batch), "PyTorch FP32 (TF32 off)"
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved


def write_sweep_plot(ctx: RunContext) -> None:
    """plot.png beside the results: latency and throughput against batch size, one line per row."""
    try:
        from trt_tui.core import plot

        path = plot.write_plot(ctx.store.rows.values(), ctx.out / artifacts.PLOT, title=ctx.model.name)
        ctx.store.meta["plot"] = path.name
        ctx.store.save()
        ctx.log("benchmark", f"sweep plot: {path}")
    except Exception as exc:  # noqa: BLE001 - a missing plot never fails the run
        ctx.log("benchmark", f"no sweep plot: {type(exc).__name__}: {exc}", "warning")


# PyTorch's words when float32 meets float16 in one op (matmul, conv, cat, index_put, ...)
DTYPE_CLASH = ("must have the same dtype", "expected scalar type", "should be the same", "expected both")


def describe_failure(exc: BaseException, batch_size: int, *, half: bool = False) -> str:
    """One line for a failed row; ``half``: a PyTorch FP16 row (model.half()), where a float32 tensor the
    model makes itself (a .float(), a torch.ones(...) without dtype) meeting FP16 weights is the usual cause."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if is_out_of_memory(exc):
        return f"out of GPU memory at batch size {batch_size}: try a smaller --batch-size"
    if half and any(w in text for w in DTYPE_CLASH):
        text += " (the model makes float32 tensors of its own, e.g. .float(), that meet its FP16 weights)"
    return f"{type(exc).__name__}: {text}"


def freeze_heap() -> None:
    """What lives from here to the run's end (imports, the model) leaves the cyclic GC's reach, so each
    row's release (a full gc.collect) scans only what that row made: 0.10-0.24 s a row -> ~0 on the CPU.
    The pipeline unfreezes all when the run ends."""
    import gc

    gc.collect()  # garbage first: none of it is kept until the run's end
    gc.freeze()


def release_gpu_memory() -> None:
    import gc

    gc.collect()
    try:
        import torch

        if torch.cuda.is_available():
            torch.cuda.empty_cache()
    except Exception:  # noqa: BLE001 - freeing memory is best effort (no torch, no CUDA)
        pass
