"""The one timing harness for every row, and the PyTorch and onnxruntime runners.

Names follow trtexec:
- Latency (host latency): perf_counter around H2D copy (from a pinned buffer staged once, like
  trtexec's host buffers) + compute + D2H copy + sync, per iteration.
- Enqueue time: perf_counter around the compute call alone (the CPU cost of launching it).
- GPU compute time: CUDA events recorded on the runner's stream around the compute alone, one pair
  per iteration, queued back to back and synchronised once at the end. Before each iteration the L2
  cache is flushed, as ``triton.testing.do_bench`` does (cold-cache GPU time), and a GPU spin of
  1.5x the enqueue time is queued (nvbench's "blocking kernel"), so the CPU has launched the whole
  compute before the GPU reaches it: the events then time the GPU's work, not the CPU's launch rate
  (which for eager PyTorch on a fast GPU is often the slower of the two).
- Throughput: iterations / wall time of the latency loop (inferences/s); samples/s (images_per_s, a sample being one image or one sequence) = that x batch.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from trt_tui.core import machine, noise, stats
from trt_tui.core.inputs import Feeds, ModelInputs, feed_rows, named_feeds, single, slice_feeds
from trt_tui.core.user_models import call, flatten_named, in_eval

ProgressFn = Callable[[str, int, int], None]  # (phase, step, total)
RunningFn = Callable[[int, float], None]  # (timed iterations so far, their p50 latency in ms)
RUNNING_EVERY_S = 0.5  # how often the running p50 is handed over during the timed loop
CHECK_EVERY_S = 0.25  # --iterations auto: how often the p50's CI is checked (between iterations)
AUTO_MIN_ITERATIONS = 64  # MLPerf LoadGen's minimum for a p90 estimate
GPU_CHECK_EVERY = 32  # GPU-compute loop: iterations between checks of its median's CI (each drains the queue)
AUTO_MAX_ITERATIONS = 1_000_000
AUTO_MAX_SECONDS = 30.0  # per row, when --iterations auto has no --max-seconds

# How the figures were taken, saved with every results file (results.json "meta").
TIMING_METHOD = {
    "latency": "perf_counter around H2D (from pinned memory staged once) + compute + D2H + sync, per iteration",
    "enqueue": "perf_counter around the compute call alone (CUDA rows)",
    "gpu_compute": "CUDA events around the compute on its stream; 256 MiB L2 flush and a GPU spin of "
    "1.5x the p99 enqueue time queued before each iteration (launch hidden)",
    "throughput": "iterations / wall time of the latency loop",
}


class Runner(Protocol):
    """What the harness needs from a backend (PyTorch, onnxruntime, TensorRT)."""

    device: str  # "cuda" or "cpu"
    stream: Any  # torch.cuda.Stream the compute is enqueued on, None on the CPU

    def set_input(self, host: Feeds | np.ndarray) -> None: ...  # stage host data (pinned) and copy it H2D

    def h2d(self) -> None: ...  # copy the staged input H2D again (what the timed loop repeats)

    def compute(self) -> None: ...  # enqueue the inference, no sync

    def outputs(self) -> list[np.ndarray]: ...  # D2H copy of all outputs + sync

    def close(self) -> None: ...


def summarize(samples_ms: np.ndarray | list[float]) -> dict[str, Any]:
    """trtexec's statistics, the p50's 95 % CI (order statistics, None below 6 samples), the
    coefficient of variation (std / mean) and the inter-quartile range."""
    a = np.asarray(samples_ms, dtype=np.float64)
    ci = stats.median_ci(a)
    p25, p75 = np.percentile(a, [25, 75])
    return {
        "mean": float(a.mean()),
        "p50": float(np.percentile(a, 50)),
        "p90": float(np.percentile(a, 90)),
        "p99": float(np.percentile(a, 99)),
        "min": float(a.min()),
        "max": float(a.max()),
        "std": float(a.std()),
        "p50_ci_low": ci[0] if ci else None,
        "p50_ci_high": ci[1] if ci else None,
        "cov": float(a.std() / a.mean()) if a.mean() > 0 else None,
        "iqr": float(p75 - p25),
    }


@dataclass
class Measurement:
    latency_ms: dict[str, Any]  # host latency statistics (summarize)
    gpu_compute_ms: dict[str, Any] | None  # CUDA-event statistics (None on the CPU)
    throughput_per_s: float
    wall_s: float
    iterations: int
    warmup: int
    enqueue_ms: dict[str, Any] | None = None  # CPU time of the compute call alone (CUDA rows)
    launch_exposed: int = 0  # GPU iterations that started before their launch was done
    latency_samples: np.ndarray | None = None  # per iteration, ms
    gpu_samples: np.ndarray | None = None
    readings: dict[str, Any] = field(default_factory=dict)  # machine.RowWatch: CPU load, GPU clocks, ...
    noise_warning: str = ""  # noise.noise_warning: '' when the timing is stable
    stopped_by: str = "count"  # what ended the timed loop: count | ci (--iterations auto) | time (--max-seconds)

    @property
    def gpu_iterations(self) -> int | None:
        """How many GPU-compute iterations the GPU figures come from (None off CUDA): <= ``iterations``."""
        return len(self.gpu_samples) if self.gpu_samples is not None else None

    @property
    def note(self) -> str:
        """A warning when the GPU compute time includes CPU launch time in more than 5% of iterations."""
        n = self.gpu_iterations or self.iterations
        if self.launch_exposed > 0.05 * n:
            return (
                f"GPU compute includes CPU launch time in {self.launch_exposed}/{n} iterations "
                "(the GPU got past the spin ahead of them before the launch was done)"
            )
        return ""

    def row_fields(self, batch_size: int) -> dict[str, Any]:
        lat, gpu = self.latency_ms, self.gpu_compute_ms or {}
        return {
            "latency_mean_ms": lat["mean"],
            "latency_p50_ms": lat["p50"],
            "latency_p90_ms": lat["p90"],
            "latency_p99_ms": lat["p99"],
            "latency_min_ms": lat["min"],
            "latency_max_ms": lat["max"],
            "latency_p50_ci_low_ms": lat.get("p50_ci_low"),
            "latency_p50_ci_high_ms": lat.get("p50_ci_high"),
            "latency_cov": lat.get("cov"),
            "latency_iqr_ms": lat.get("iqr"),
            "gpu_compute_mean_ms": gpu.get("mean"),
            "gpu_compute_p50_ms": gpu.get("p50"),
            "gpu_compute_p99_ms": gpu.get("p99"),
            "gpu_compute_p50_ci_low_ms": gpu.get("p50_ci_low"),
            "gpu_compute_p50_ci_high_ms": gpu.get("p50_ci_high"),
            "gpu_compute_cov": gpu.get("cov"),
            "gpu_compute_iterations": self.gpu_iterations,
            "enqueue_p50_ms": (self.enqueue_ms or {}).get("p50"),
            "throughput_per_s": self.throughput_per_s,
            "images_per_s": self.throughput_per_s * batch_size,
            "iterations": self.iterations,
            "warmup": self.warmup,
            "stopped_by": self.stopped_by,
            "other_cpu_cores": self.readings.get("other_cpu_cores"),
            "noise_warning": self.noise_warning,
        }

    def samples(self) -> dict[str, Any]:
        """What the results keep beside the row (artifacts.SAMPLES): per-iteration times in ms
        (rounded to the nanosecond) and the machine's readings."""
        out: dict[str, Any] = {"readings": self.readings}
        for name, arr in (("latency_ms", self.latency_samples), ("gpu_compute_ms", self.gpu_samples)):
            if arr is not None:
                out[name] = np.round(np.asarray(arr, dtype=np.float64), 6).tolist()
        return out


def warm_up(runner: Runner, warmup: int, budget_s: float | None, progress: ProgressFn) -> int:
    """``warmup`` inferences, fewer if ``budget_s`` runs out first; returns how many ran."""
    deadline = time.perf_counter() + budget_s if budget_s else None
    for i in range(warmup):
        runner.h2d()
        runner.compute()
        runner.outputs()
        if deadline is not None and time.perf_counter() > deadline:
            warmup = i + 1  # the time budget also bounds the warm-up
        progress("warm-up", i + 1, warmup)
        if i + 1 == warmup:
            break
    return warmup


def measure(
    runner: Runner,
    host_input: Feeds | np.ndarray,
    *,
    warmup: int,
    iterations: int,
    on_progress: ProgressFn | None = None,
    max_seconds: float | None = None,
    l2_flush: bool = True,
    hide_launch: bool = True,
    on_latency: Callable[[Measurement], None] | None = None,
    on_running: RunningFn | None = None,
    ci_target: float | None = None,
    auto: bool = False,
    watch: machine.RowWatch | None = None,
) -> Measurement:
    """Warm up, then time ``iterations`` end-to-end inferences and (on CUDA) as many GPU computes.
    ``max_seconds`` ends the latency loop early (at least 10 iterations); the GPU loop then uses the
    same count, and the Measurement records how many ran. ``on_progress(phase, step, total)`` counts
    each phase apart: "warm-up" (of ``warmup``), "timed" (of ``iterations``), "gpu-compute" (CUDA).
    ``on_latency`` gets the latency half as soon as it is measured, so the first number is on screen
    while the GPU-compute loop still runs; ``on_running(n, p50_ms)`` the median of the first ``n`` timed
    iterations at the 10th and then every RUNNING_EVERY_S (the first number as soon as ten are timed).
    ``auto`` (--iterations auto): time until the p50's 95 % CI is within ±``ci_target`` (at least
    AUTO_MIN_ITERATIONS), or ``max_seconds`` (AUTO_MAX_SECONDS if None) ends it. ``ci_target`` also
    sets when a fixed count is called too few (the noise warning). ``watch`` reads the machine around
    the loops (machine.RowWatch of the runner's device by default)."""
    on_cuda = runner.device == "cuda" and runner.stream is not None

    def progress(phase: str, step: int, total: int) -> None:
        if on_progress:
            on_progress(phase, step, total)

    runner.set_input(host_input)
    watch = watch or machine.RowWatch("cuda" if on_cuda else "cpu")
    watch.start()
    warmup = warm_up(runner, warmup, max_seconds / 4 if max_seconds else None, progress)
    if auto:
        iterations, max_seconds = AUTO_MAX_ITERATIONS, max_seconds or AUTO_MAX_SECONDS
    lat, enq, wall, stopped = latency_loop(
        runner, iterations, max_seconds, progress, on_running, ci_target if auto else None
    )
    watch.mark()
    latency = Measurement(
        summarize(lat * 1e3),
        None,
        len(lat) / wall,
        wall,
        len(lat),
        warmup,
        enqueue_ms=summarize(enq * 1e3) if on_cuda else None,
        latency_samples=lat * 1e3,
        stopped_by=stopped,
    )
    if on_latency:
        on_latency(latency)
    loop = functools.partial(gpu_loop, l2_flush=l2_flush, hide_launch=hide_launch, ci_target=ci_target)
    timed = loop(runner, lat, enq, progress) if on_cuda else None
    return with_gpu_half(latency, timed, watch.stop(), ci_target=ci_target, device="cuda" if on_cuda else "cpu")


def with_gpu_half(
    latency: Measurement, timed: GpuTimes | None, readings: Any, *, ci_target: float | None, device: str
) -> Measurement:
    """The whole Measurement: the latency half with the GPU-compute loop's times (None off CUDA) and the
    noise warning from both and the machine's readings."""
    lat = latency.latency_samples
    assert lat is not None
    wall, iterations, warmup, enqueue, stopped = (
        latency.wall_s,
        latency.iterations,
        latency.warmup,
        latency.enqueue_ms,
        latency.stopped_by,
    )
    gpu_ms = np.asarray(timed.ms) if timed else None
    warning = noise.noise_warning(lat, gpu_ms, readings, ci_target=ci_target, stopped_by=stopped, device=device)
    return Measurement(
        latency.latency_ms,
        summarize(gpu_ms) if gpu_ms is not None else None,
        iterations / wall,
        wall,
        iterations,
        warmup,
        enqueue_ms=enqueue,
        launch_exposed=timed.launch_exposed if timed else 0,
        latency_samples=lat,
        gpu_samples=gpu_ms,
        readings=readings,
        noise_warning=warning,
        stopped_by=stopped,
    )


def gpu_loop(
    runner: Runner,
    lat: np.ndarray,
    enq: np.ndarray,
    progress: ProgressFn,
    *,
    l2_flush: bool,
    hide_launch: bool,
    ci_target: float | None = None,
) -> GpuTimes:
    """The GPU-compute loop of ``measure``, its spin sized from the latency loop's enqueue times: at most as
    many iterations as the latency loop's, fewer once its median is as precise as the latency's (the
    relative CI half-width of ``lat``) and within ``ci_target``."""
    iterations = len(lat)
    precision = min(stats.relative_halfwidth(lat), ci_target or float("inf"))
    lead_ms = 1.5 * float(np.percentile(enq, 99)) * 1e3 + 0.02 if hide_launch else 0.0
    done = 0

    def tick(n: int) -> None:
        nonlocal done
        done += n
        progress("gpu-compute", done, iterations)

    timed = gpu_compute_times(runner, iterations, tick, l2_flush=l2_flush, lead_ms=lead_ms, precision=precision)
    if len(timed.ms) < iterations:
        progress("gpu-compute", len(timed.ms), len(timed.ms))  # stopped early: the bar learns the shorter total
    return timed


def latency_loop(
    runner: Runner,
    iterations: int,
    max_seconds: float | None,
    progress: ProgressFn,
    on_running: RunningFn | None,
    ci_target: float | None = None,
) -> tuple[np.ndarray, np.ndarray, float, str]:
    """Host latency: one synchronous inference at a time, as a caller sees it. Returns the latency and
    enqueue times (s) of the iterations run, the loop's wall time and what ended it: "count" (all
    ``iterations``), "time" (``max_seconds``) or "ci" (with ``ci_target``: the p50's CI half-width,
    checked every CHECK_EVERY_S between iterations, reached it; the checks' time is not in the wall)."""
    lat, enq = np.empty(iterations), np.empty(iterations)
    wall0 = time.perf_counter()
    deadline = wall0 + max_seconds if max_seconds else None
    # the first running p50 at the 10th iteration (H100, resnet50 b32: 0.5 s sooner), then every RUNNING_EVERY_S
    next_running, next_check = wall0, wall0 + CHECK_EVERY_S
    total = iterations if ci_target is None else min(iterations, AUTO_MIN_ITERATIONS)  # the bar's total
    stopped, paused, n = "count", 0.0, 0
    for i in range(iterations):
        t0 = time.perf_counter()
        runner.h2d()
        t1 = time.perf_counter()
        runner.compute()
        enq[i] = time.perf_counter() - t1
        runner.outputs()
        lat[i] = time.perf_counter() - t0
        n = i + 1
        if deadline is not None and i >= 9 and time.perf_counter() > deadline:
            stopped = "time"
            break
        if (
            ci_target is not None
            and n >= AUTO_MIN_ITERATIONS
            and (n == AUTO_MIN_ITERATIONS or lat[i] + t0 >= next_check)
        ):
            c0 = time.perf_counter()
            hw = stats.relative_halfwidth(lat[:n])
            if hw <= ci_target:
                stopped = "ci"
                break
            total = min(iterations, max(n + 1, int(n * (hw / ci_target) ** 2)))  # half-width ~ 1/sqrt(n)
            next_check = time.perf_counter() + CHECK_EVERY_S
            paused += next_check - CHECK_EVERY_S - c0
        progress("timed", n, total)
        if on_running and i >= 9 and n < iterations and time.perf_counter() >= next_running:
            on_running(n, float(np.median(lat[:n])) * 1e3)  # outside the timed window
            next_running = time.perf_counter() + RUNNING_EVERY_S
    if stopped != "count":
        progress("timed", n, n)  # stopped early: the bar learns the shorter total
    return lat[:n], enq[:n], time.perf_counter() - wall0 - paused, stopped


@dataclass
class GpuTimes:
    ms: list[float]  # per-iteration GPU compute time
    lead_ms: float  # GPU spin queued ahead of each iteration (0: none)
    launch_exposed: int  # iterations the GPU started before the CPU had launched all of them


@functools.cache
def spin_cycles_per_ms() -> float:
    """GPU clock cycles per ms of ``torch.cuda._sleep``, measured (fastest of three 2M-cycle spins)."""
    import torch

    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    torch.cuda._sleep(1000)
    best = float("inf")
    for _ in range(3):
        start.record()
        torch.cuda._sleep(2_000_000)
        end.record()
        end.synchronize()
        best = min(best, start.elapsed_time(end))
    return 2_000_000 / best


def gpu_compute_times(
    runner: Runner,
    iterations: int,
    tick: Callable[[int], None] | None = None,
    *,
    l2_flush: bool = True,
    lead_ms: float = 0.0,
    precision: float | None = None,
) -> GpuTimes:
    """Per-iteration GPU time in ms from CUDA events around ``compute()`` on the runner's stream.
    Before each iteration, outside the events: with ``l2_flush`` a 256 MiB buffer is zeroed (cold
    L2, triton.testing.do_bench's method); with ``lead_ms`` a GPU spin that long is queued, so the
    CPU finishes launching the compute before the GPU starts it (nvbench's blocking kernel).
    With ``precision``, the loop ends early (after AUTO_MIN_ITERATIONS, checked every GPU_CHECK_EVERY)
    once the median's relative 95 % CI half-width is within it: on the H100 a resnet50 b32 row's GPU
    times reached the latency's precision after 83-405 of 500 iterations, 41 % of the run's time."""
    import torch

    stream = runner.stream
    spin = getattr(torch.cuda, "_sleep", None) if lead_ms > 0 else None  # private but long-standing
    cycles = int(lead_ms * spin_cycles_per_ms()) if spin else 0
    starts = [torch.cuda.Event(enable_timing=True) for _ in range(iterations)]
    ends = [torch.cuda.Event(enable_timing=True) for _ in range(iterations)]
    with torch.cuda.stream(stream):
        flush = torch.empty(256 * 2**20, dtype=torch.int8, device="cuda") if l2_flush else None
    stream.synchronize()
    chunk = max(1, iterations // 20)
    exposed, ms = 0, list[float]()
    n = iterations

    def read(upto: int) -> None:  # the times of the iterations not read yet, up to ``upto`` (their events done)
        ms.extend(s.elapsed_time(e) for s, e in zip(starts[len(ms) : upto], ends[len(ms) : upto]))

    for i in range(iterations):
        with torch.cuda.stream(stream):
            if flush is not None:
                flush.zero_()
            if spin is not None and cycles:
                spin(cycles)
        starts[i].record(stream)
        runner.compute()
        if cycles and starts[i].query():  # the GPU got past the spin before the launch was done
            exposed += 1
        ends[i].record(stream)
        if tick and (i + 1) % chunk == 0:
            tick(chunk)
        if precision is not None and i + 1 >= AUTO_MIN_ITERATIONS and (i + 1) % GPU_CHECK_EVERY == 0:
            ends[i].synchronize()  # drains the queue; the next iteration's spin hides its launch again
            read(i + 1)
            if stats.relative_halfwidth(ms) <= precision:
                n = i + 1
                break
    stream.synchronize()
    if tick and n % chunk:
        tick(n % chunk)
    read(n)
    return GpuTimes(ms, lead_ms if cycles else 0.0, exposed)


def run_batches(runner: Runner, inputs: Feeds | np.ndarray, batch_size: int) -> list[np.ndarray]:
    """Outputs of ``runner`` over ``inputs`` (N = k*batch_size samples), concatenated per output: floating
    point as FP32, any other output as int64 (whatever width the backend gave it)."""
    feeds = inputs if isinstance(inputs, dict) else {"": inputs}
    per_output: list[list[np.ndarray]] = []
    for start in range(0, feed_rows(feeds), batch_size):
        part = slice_feeds(feeds, start, start + batch_size)
        runner.set_input(part if isinstance(inputs, dict) else part[""])
        runner.compute()
        outs = runner.outputs()
        if not per_output:
            per_output = [[] for _ in outs]
        for acc, out in zip(per_output, outs):
            a = np.asarray(out)  # floats as FP32; labels, ids and masks stay integers (accuracy.compared_output)
            acc.append(a.astype(np.float32) if a.dtype.kind in "fc" else a.astype(np.int64))
    return [np.concatenate(acc) for acc in per_output]


class TorchRunner:
    """PyTorch eager, FP32 or FP16 (``module.half()``, float inputs cast on the device; integer and bool
    inputs stay as they are), on CUDA or CPU; one staged host buffer and one device buffer per input.

    Runs on the current (default) CUDA stream with no per-call context managers: parameters are
    frozen instead of entering inference_mode on every call, so compute() is only the forward."""

    def __init__(self, module: Any, inputs: ModelInputs | tuple[int, ...], *, device: str, half: bool = False) -> None:
        import torch

        self.torch = torch
        self.device = device
        self.dtype = torch.float16 if half else torch.float32
        self.inputs = inputs if isinstance(inputs, ModelInputs) else single(inputs)
        self.module = frozen_copy(module, device, self.dtype)
        self.stream = torch.cuda.current_stream() if device == "cuda" else None
        self.x_host: dict[str, Any] = {}
        self.x_dev: dict[str, Any] = {}
        self.y: Any = None

    def _alloc(self, feeds: Feeds) -> None:
        torch = self.torch
        self.x_host, self.x_dev = {}, {}
        for name, arr in feeds.items():
            host = torch.from_numpy(np.ascontiguousarray(arr))
            dev_dtype = self.dtype if host.is_floating_point() else host.dtype
            self.x_host[name] = torch.empty(host.shape, dtype=host.dtype, pin_memory=self.device == "cuda")
            self.x_dev[name] = torch.empty(host.shape, dtype=dev_dtype, device=self.device)

    def set_input(self, host: Feeds | np.ndarray) -> None:
        feeds = named_feeds(host, self.inputs.names)
        if {k: tuple(v.shape) for k, v in feeds.items()} != {k: tuple(v.shape) for k, v in self.x_host.items()}:
            self._alloc(feeds)
        for name, arr in feeds.items():
            self.x_host[name].copy_(self.torch.from_numpy(np.ascontiguousarray(arr)))
        self.h2d()

    def h2d(self) -> None:
        for name, dev in self.x_dev.items():
            dev.copy_(self.x_host[name], non_blocking=True)

    def shapes(self) -> tuple[tuple[str, tuple[int, ...]], ...]:
        """The device inputs' shapes (a new set means a new capture / compile)."""
        return tuple((k, tuple(v.shape)) for k, v in self.x_dev.items())

    def forward(self, module: Any) -> Any:
        """``module`` called on the device inputs, positionally or by keyword as the model takes them."""
        return call(module, self.inputs, self.x_dev)

    def compute(self) -> None:
        self.y = self.forward(self.module)

    def outputs(self) -> list[np.ndarray]:
        # FP16 comes back as FP32, integer and bool outputs as they are (as onnxruntime and TensorRT give them);
        # .cpu() waits for the stream
        return [(t.float() if t.is_floating_point() else t).cpu().numpy() for _, t in flatten_named(self.y)]

    def close(self) -> None:
        self.module = None
        self.y = None


def frozen_copy(module: Any, device: str, dtype: Any) -> Any:
    """A copy of ``module`` on ``device`` in ``dtype``, parameters frozen one by one (a ScriptModule has no
    ``requires_grad_``; it is copied through torch.jit.save/load, as its deepcopy's parameters are not leaves)."""
    import copy
    import io

    import torch

    if isinstance(module, torch.jit.ScriptModule):
        buf = io.BytesIO()
        torch.jit.save(module, buf)
        buf.seek(0)
        net = torch.jit.load(buf, map_location="cpu").to(device=device, dtype=dtype).eval()
    else:
        net = in_eval(copy.deepcopy(module).to(device=device, dtype=dtype))
    for p in net.parameters():
        p.requires_grad_(False)
    return net


class OrtRunner:
    """onnxruntime InferenceSession; its ``run`` includes any copies, so no separate GPU compute."""

    def __init__(self, session: Any) -> None:
        self.session = session
        self.device = "cuda" if session.get_providers()[0] == "CUDAExecutionProvider" else "cpu"
        self.stream = None
        self.input_names = [i.name for i in session.get_inputs()]
        self.feed: Feeds = {}
        self.y: list[np.ndarray] = []

    def set_input(self, host: Feeds | np.ndarray) -> None:
        self.feed = named_feeds(host, self.input_names)

    def h2d(self) -> None:
        pass  # session.run copies the feed itself

    def compute(self) -> None:
        self.y = self.session.run(None, self.feed)

    def outputs(self) -> list[np.ndarray]:
        return [np.asarray(o) for o in self.y]

    def close(self) -> None:
        self.session = None
