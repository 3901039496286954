"""Child-process entry points: `python -m trt_tui.jobs run --config JSON` writes JSON events on stdout."""
