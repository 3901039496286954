"""The machine's state while it measures: CPU load from other processes, GPU clocks, temperature,
throttling and other GPU tenants (NVML through nvidia-ml-py), read without disturbing the timing.

``snapshot`` is the environment record's ``machine_before``/``machine_after``. ``RowWatch`` brackets
one row: ``start()`` before the warm-up, ``mark()`` right after each timed loop (the GPU is still at
its load clocks), ``stop()`` at the end; nothing runs during the timed loops (no sampling thread).
Other processes' CPU use is /proc/stat's busy time less this process's own CPU time (os.times),
over the row's wall time: a hog started a second before the row shows at once, where the 1-minute
load average would take a minute to climb.
"""

from __future__ import annotations

import os
import platform
import time
from pathlib import Path
from typing import Any

NVML_MISSING = "nvidia-ml-py is not installed (pip install nvidia-ml-py)"
# nvmlClocksEventReason* bits that mean the GPU is held below the clock it could run at.
SLOWDOWN_BITS = {
    0x4: "power cap",
    0x8: "hardware slowdown",
    0x20: "thermal (software)",
    0x40: "thermal (hardware)",
    0x80: "power brake",
}
GPU_IDLE_BIT = 0x1

_nvml_state: dict[str, Any] = {}


def nvml() -> tuple[Any, str]:
    """(the initialised pynvml module, '') or (None, why not), once per process."""
    if "module" not in _nvml_state:
        try:
            import pynvml

            pynvml.nvmlInit()
            _nvml_state.update(module=pynvml, why="")
        except ImportError:
            _nvml_state.update(module=None, why=NVML_MISSING)
        except Exception as exc:  # noqa: BLE001 - NVMLError_LibraryNotFound, DriverNotLoaded, ...
            _nvml_state.update(module=None, why=f"NVML did not start: {type(exc).__name__}: {exc}")
    return _nvml_state["module"], _nvml_state["why"]


def gpu_handle(pynvml: Any) -> Any:
    """The NVML handle of the GPU CUDA calls device 0 (CUDA_VISIBLE_DEVICES' first entry)."""
    first = os.environ.get("CUDA_VISIBLE_DEVICES", "0").split(",")[0].strip()
    if first.startswith(("GPU-", "MIG-")):
        return pynvml.nvmlDeviceGetHandleByUUID(first)
    return pynvml.nvmlDeviceGetHandleByIndex(int(first) if first.isdigit() else 0)


def _try(fn: Any, *args: Any) -> Any:
    try:
        return fn(*args)
    except Exception:  # noqa: BLE001 - a query this GPU or driver does not support
        return None


def _reasons(pynvml: Any, h: Any) -> int | None:
    fn = getattr(pynvml, "nvmlDeviceGetCurrentClocksEventReasons", None) or getattr(
        pynvml, "nvmlDeviceGetCurrentClocksThrottleReasons", None
    )  # the old name on old drivers
    return _try(fn, h) if fn else None


def process_name(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return "?"  # another PID namespace (a container) or gone


def gpu_processes(pynvml: Any, h: Any) -> list[dict[str, Any]] | None:
    """Compute processes on the GPU other than this one (pid, name, MiB)."""
    procs = _try(pynvml.nvmlDeviceGetComputeRunningProcesses, h)
    if procs is None:
        return None
    me = os.getpid()
    return [
        {
            "pid": p.pid,
            "name": process_name(p.pid),
            "mib": round(p.usedGpuMemory / 2**20) if getattr(p, "usedGpuMemory", None) else None,
        }
        for p in procs
        if p.pid != me
    ]


def gpu_reading() -> dict[str, Any]:
    """One reading of GPU 0: clocks (current/max, SM and memory, MHz), temperature (°C), power and
    its limit (W), persistence mode, clock-event reasons, other compute processes; or {'nvml': why not}."""
    pynvml, why = nvml()
    if pynvml is None:
        return {"nvml": why}
    try:
        h = gpu_handle(pynvml)
    except Exception as exc:  # noqa: BLE001 - NVML is optional: its failure is recorded as the reason
        return {"nvml": f"no NVML handle for the GPU: {type(exc).__name__}: {exc}"}
    sm, mem = pynvml.NVML_CLOCK_SM, pynvml.NVML_CLOCK_MEM
    temp_fn = getattr(pynvml, "nvmlDeviceGetTemperatureV", None)
    temp = _try(temp_fn, h, pynvml.NVML_TEMPERATURE_GPU) if temp_fn else None
    if temp is None:
        temp = _try(pynvml.nvmlDeviceGetTemperature, h, pynvml.NVML_TEMPERATURE_GPU)
    power, limit = _try(pynvml.nvmlDeviceGetPowerUsage, h), _try(pynvml.nvmlDeviceGetEnforcedPowerLimit, h)
    return {
        "sm_mhz": _try(pynvml.nvmlDeviceGetClockInfo, h, sm),
        "sm_max_mhz": _try(pynvml.nvmlDeviceGetMaxClockInfo, h, sm),
        "mem_mhz": _try(pynvml.nvmlDeviceGetClockInfo, h, mem),
        "mem_max_mhz": _try(pynvml.nvmlDeviceGetMaxClockInfo, h, mem),
        "temp_c": temp,
        "power_w": power / 1000 if power is not None else None,
        "power_limit_w": limit / 1000 if limit is not None else None,
        "persistence": {1: "on", 0: "off"}.get(_try(pynvml.nvmlDeviceGetPersistenceMode, h)),
        "reasons": _reasons(pynvml, h),
        "processes": gpu_processes(pynvml, h),
    }


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def cpu_governor() -> str | None:
    try:
        return Path("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor").read_text().strip()
    except OSError:
        return None  # a VM or container without cpufreq


def loadavg() -> list[float] | None:
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except OSError:
        return None


def snapshot(device: str) -> dict[str, Any]:
    """The machine's state for the environment record (before and after the run)."""
    snap: dict[str, Any] = {
        "time": round(time.time(), 1),
        "cpu_model": cpu_model(),
        "cpu_governor": cpu_governor(),
        "cpu_count": os.cpu_count(),
        "loadavg": loadavg(),
    }
    if device == "cuda":
        snap["gpu"] = gpu_reading()
    return snap


def busy_cpu_seconds() -> float | None:
    """Seconds of CPU all processes have spent busy since boot (/proc/stat), None where absent."""
    try:
        fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    except OSError:
        return None
    ticks = [int(v) for v in fields[:8]] + [0] * (8 - len(fields[:8]))
    user, nice, system, _idle, _iowait, irq, softirq, steal = ticks
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def own_cpu_seconds() -> float:
    t = os.times()
    return t.user + t.system


class RowWatch:
    """Readings taken around one row's timed loops (never during them)."""

    def __init__(self, device: str) -> None:
        self.device = device
        self.gpu: list[dict[str, Any]] = []
        self._t0 = self._busy0 = self._own0 = 0.0
        self.result: dict[str, Any] = {}

    def start(self) -> None:
        self._t0, self._busy0, self._own0 = time.perf_counter(), busy_cpu_seconds() or 0.0, own_cpu_seconds()
        if self.device == "cuda":
            self.gpu.append(gpu_reading())

    def mark(self) -> None:
        if self.device == "cuda":
            self.gpu.append(gpu_reading())

    def stop(self) -> dict[str, Any]:
        """{'other_cpu_cores', 'cpu_count', 'loadavg', 'gpu': [readings]} (and 'nvml' when it is missing)."""
        wall = time.perf_counter() - self._t0
        busy = busy_cpu_seconds()
        out: dict[str, Any] = {"cpu_count": os.cpu_count() or 1, "loadavg": loadavg(), "wall_s": round(wall, 3)}
        if busy is not None and wall > 0:
            others = (busy - self._busy0) - (own_cpu_seconds() - self._own0)
            out["other_cpu_cores"] = round(max(0.0, others / wall), 3)
        if self.device == "cuda":
            self.mark()
            if "nvml" in self.gpu[-1]:
                out["nvml"] = self.gpu[-1]["nvml"]
            else:
                out["gpu"] = self.gpu
        self.result = out
        return out
