"""The CLI end to end on the CPU: every figure with its uncertainty, --iterations auto, the machine's
state, --against, and the exit statuses."""

from __future__ import annotations

import gzip
import json

import numpy as np
import pytest

from tests.core.test_compare import write_run
from tests.test_cli import run_cli
from trt_tui import cli
from trt_tui.core import artifacts, bench


@pytest.fixture(scope="module")
def auto_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("stats")
    write_run(root / "fast", {"pytorch-fp32": 1e-4, "onnxruntime-fp32": 1e-4}, seed=0)  # an impossibly fast "earlier" run
    out = root / "run"
    proc = run_cli("run", "--model", "mlp", "--rows", "pytorch-fp32,onnxruntime-fp32", "--exporter", "torchscript",
                   "--warmup", "5", "--iterations", "auto", "--ci-target", "5%", "--max-seconds", "2",
                   "--out", str(out), "--against", str(root / "fast"), "--fail-on-regression")
    return proc, out


def test_auto_iterations_stop_on_the_ci_or_the_time_and_say_which(auto_run):
    _, out = auto_run
    rows = {r["row_id"]: r for r in json.loads((out / "results.json").read_text())["rows"]}
    for r in rows.values():
        assert r["status"] == "ok" and r["stopped_by"] in ("ci", "time")
        half = (r["latency_p50_ci_high_ms"] - r["latency_p50_ci_low_ms"]) / 2 / r["latency_p50_ms"]
        if r["stopped_by"] == "ci":
            assert half <= 0.05 and r["iterations"] >= bench.AUTO_MIN_ITERATIONS
        else:
            assert "--max-seconds ended the loop" in r["noise_warning"]


def test_every_figure_has_its_uncertainty_and_the_samples_are_kept(auto_run):
    proc, out = auto_run
    data = json.loads((out / "results.json").read_text())
    rows = {r["row_id"]: r for r in data["rows"]}
    ort = rows["onnxruntime-fp32"]
    assert ort["latency_p50_ci_low_ms"] <= ort["latency_p50_ms"] <= ort["latency_p50_ci_high_ms"]
    assert ort["latency_cov"] > 0 and ort["latency_iqr_ms"] >= 0 and ort["other_cpu_cores"] is not None
    assert ort["speedup_ci_low"] <= ort["speedup_vs_pytorch"] <= ort["speedup_ci_high"]
    assert isinstance(ort["noise_warning"], str) and ort["accuracy_na"] == ""
    samples = json.loads(gzip.decompress((out / artifacts.SAMPLES).read_bytes()))["rows"]
    assert len(samples["onnxruntime-fp32"]["latency_ms"]) == ort["iterations"]
    assert float(np.median(samples["onnxruntime-fp32"]["latency_ms"])) == pytest.approx(ort["latency_p50_ms"], abs=1e-5)
    for when in ("machine_before", "machine_after"):
        assert data["env"][when]["cpu_count"] and "loadavg" in data["env"][when]
    assert "machine (before→after): " in proc.stdout and " of " in proc.stdout
    assert "\n   machine " in proc.stderr  # the environment line at the start, with the state before
    for r in rows.values():  # the CLI's footer carries each row's warning
        if r["noise_warning"]:
            assert f"⚠ {r['row_id']}: {r['noise_warning']}" in proc.stdout


def test_against_an_earlier_run_and_fail_on_regression(auto_run):
    proc, _ = auto_run
    assert "B against A" in proc.stdout and "2 slower beyond noise" in proc.stdout
    assert proc.returncode == cli.EXIT_REGRESSION == 4, proc.stderr[-2000:]


def test_exit_statuses():
    ok, failed, skipped = {"status": "ok"}, {"status": "failed"}, {"status": "skipped"}
    assert cli.run_status("ok", [ok, skipped], False) == 0
    assert cli.run_status("ok", [ok, failed], False) == 3  # finished, but a row failed
    assert cli.run_status("ok", [ok], True) == 4
    assert cli.run_status("failed", [ok], True) == 1 and cli.run_status("crashed", [], False) == 1
    assert cli.run_status("cancelled", [ok], False) == 130


def test_auto_and_ci_target_options():
    args = cli.build_parser().parse_args(["run", "--iterations", "auto", "--ci-target", "0.5%"])
    cfg, problems = cli.config_from_args(args)
    assert not problems and cfg.auto_iterations and cfg.ci_target == pytest.approx(0.005)
    args = cli.build_parser().parse_args(["run", "--ci-target", "150"])
    assert cli.config_from_args(args)[1] == [
        "trt-tui run: --ci-target 150: must be a percentage above 0 and below 100, e.g. 1%"]


def test_the_medians_do_not_move():
    """P1: the p50 is numpy's median of the same samples, whatever else summarize adds."""
    x = np.random.default_rng(0).lognormal(0, 1, 999)
    s = bench.summarize(x)
    assert s["p50"] == float(np.percentile(x, 50)) == float(np.median(x))
    assert s["p50_ci_low"] < s["p50"] < s["p50_ci_high"]
