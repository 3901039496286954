"""Samples kept beside the results, speedup CIs, ties, trustworthy accuracy, and comparing two runs."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from trt_tui.core import accuracy, artifacts, compare, results
from trt_tui.core.results import ResultsStore
from trt_tui.format import TABLE_COLUMNS, output_banner

COL = {c.key: c for c in TABLE_COLUMNS}


def timed_row(row_id: str, median: float, seed: int, n: int = 400, spread: float = 0.01, batch: int = 1) -> dict:
    from trt_tui.core import bench

    lat = np.random.default_rng(seed).normal(median, spread * median, n)
    m = bench.Measurement(bench.summarize(lat), None, 1e3 / median, n * median / 1e3, n, 10, latency_samples=lat)
    return {"row_id": row_id, "batch_size": batch, "status": "ok", **m.row_fields(batch), "samples": m.samples()}


def write_run(folder: Path, medians: dict[str, float], seed: int) -> ResultsStore:
    store = ResultsStore(folder)
    for i, (rid, med) in enumerate(medians.items()):
        store.upsert(timed_row(rid, med, seed + i))
    return store


def test_samples_are_kept_beside_the_results_and_reloaded(tmp_path):
    store = write_run(tmp_path, {"pytorch-fp32": 2.0, "onnxruntime-fp32": 1.0}, seed=0)
    data = json.loads(gzip.decompress((tmp_path / artifacts.SAMPLES).read_bytes()))
    assert len(data["rows"]["onnxruntime-fp32"]["latency_ms"]) == 400
    assert "samples" not in json.loads((tmp_path / "results.json").read_text())["rows"][0]  # the rows stay flat
    header = (tmp_path / "results.csv").read_text().splitlines()[0].split(",")
    assert header == list(results.COLUMNS) and "speedup_ci_low" in header
    again = ResultsStore.load(tmp_path)
    assert again.samples["pytorch-fp32"]["latency_ms"] == store.samples["pytorch-fp32"]["latency_ms"]


def test_each_speedup_gets_a_bootstrap_ci_and_the_table_shows_it(tmp_path):
    store = write_run(tmp_path, {"pytorch-fp32": 2.0, "onnxruntime-fp32": 1.0, "onnxruntime-int8": 2.0}, seed=1)
    ort, int8, base = (store.rows[k] for k in ("onnxruntime-fp32", "onnxruntime-int8", "pytorch-fp32"))
    assert ort["speedup_ci_low"] < ort["speedup_vs_pytorch"] < ort["speedup_ci_high"]
    assert 1.9 < ort["speedup_ci_low"] and ort["speedup_ci_high"] < 2.1
    assert (ort["speedup_best_ci_low"], ort["speedup_best_ci_high"]) == (ort["speedup_ci_low"], ort["speedup_ci_high"])
    assert base["speedup_ci_low"] is None  # the reference itself: 1.0 by definition
    text = COL["speedup_vs_pytorch"].cell(ort, wide=True)
    assert text.startswith("2.0") and "× (" in text and "–" in text
    assert int8["speedup_ci_low"] < 1.0 < int8["speedup_ci_high"]
    assert COL["speedup_vs_pytorch"].cell(int8).startswith("≈1.0")  # no difference the data can tell
    assert not COL["speedup_vs_pytorch"].cell(ort).startswith("≈")


def test_a_callers_copy_without_samples_keeps_the_childs_ci(tmp_path):
    child = write_run(tmp_path, {"pytorch-fp32": 2.0, "onnxruntime-fp32": 1.0}, seed=2)
    caller = ResultsStore(None)
    for row in child.rows.values():  # what the row events carry
        caller.upsert(dict(row))
    assert caller.rows["onnxruntime-fp32"]["speedup_ci_low"] == child.rows["onnxruntime-fp32"]["speedup_ci_low"]


def test_rows_whose_p50_intervals_overlap_are_a_tie(tmp_path):
    store = write_run(tmp_path, {"pytorch-fp32": 2.0, "onnxruntime-fp32": 1.0, "onnxruntime-int8": 1.0005,
                                 "pytorch-fp16": 1.5}, seed=3)
    assert store.best in ("onnxruntime-fp32", "onnxruntime-int8")
    assert store.ties() == [r for r in ("onnxruntime-fp32", "onnxruntime-int8") if r != store.best]
    assert "tie" in store.best_rule and json.loads((tmp_path / "results.json").read_text())["best_ties"] == store.ties()


def test_a_nan_reference_makes_accuracy_na_and_says_so():
    ref = [np.array([[1.0, np.nan], [0.5, 0.2]])]
    out = [np.array([[1.0, 0.0], [0.5, 0.2]])]
    fields = accuracy.compare(ref, out)
    fields.update(accuracy.trust_fields(ref, fields))
    assert fields["top1_agreement"] is None and fields["max_abs_err"] is None
    assert "reference outputs hold 1 NaN and 0 Inf" in fields["accuracy_na"] and fields["output_warning"]
    assert COL["top1_agreement"].cell(fields) == "n/a" and COL["max_abs_err"].cell(fields) == "n/a"
    assert output_banner([fields]) == [f"⚠ accuracy n/a: {fields['accuracy_na']}"]


def test_an_all_zero_reference_is_a_vacuous_comparison():
    ref = [np.zeros((4, 10))]
    fields = accuracy.compare(ref, [np.zeros((4, 10))])
    assert fields["top1_agreement"] == 1.0  # what the table said before: 100 % agreement with nothing
    fields.update(accuracy.trust_fields(ref, fields))
    assert fields["top1_agreement"] is None and "all zero" in fields["accuracy_na"] and not fields["output_warning"]


def test_nan_in_a_variant_where_the_reference_has_none_is_a_warning():
    ref = [np.ones((2, 3))]
    out = [np.array([[1.0, np.inf, 1.0], [np.nan, 1.0, 1.0]])]
    fields = accuracy.compare(ref, out)
    fields.update(accuracy.trust_fields(ref, fields))
    assert fields["output_warning"] == "this row's outputs hold 1 NaN and 1 Inf where the reference has none"
    assert fields["accuracy_na"] == "" and fields["max_abs_err"] == 0.0
    assert output_banner([fields]) == ["⚠ 1 row output NaN/Inf where the reference has none"]


@pytest.fixture
def three_runs(tmp_path):
    a = write_run(tmp_path / "a", {"pytorch-fp32": 2.0, "onnxruntime-fp32": 1.0, "onnxruntime-int8": 0.8}, seed=10)
    b = write_run(tmp_path / "b", {"pytorch-fp32": 2.0, "onnxruntime-fp32": 0.8, "onnxruntime-int8": 0.96}, seed=20)
    same = write_run(tmp_path / "same", {"pytorch-fp32": 2.002, "onnxruntime-fp32": 0.999, "onnxruntime-int8": 0.801},
                     seed=30)
    return tmp_path, a, b, same


def test_compare_gives_faster_slower_and_same_within_noise(three_runs):
    root, *_ = three_runs
    changes = {c.row_id: c for c in compare.compare(compare.load(root / "a"), compare.load(root / "b"))}
    assert changes["pytorch-fp32"].verdict == compare.SAME
    assert changes["onnxruntime-fp32"].verdict == compare.FASTER and changes["onnxruntime-fp32"].high < 1
    assert changes["onnxruntime-int8"].verdict == compare.SLOWER and changes["onnxruntime-int8"].low > 1
    assert changes["onnxruntime-int8"].low < 1.2 < changes["onnxruntime-int8"].high
    assert compare.fmt_change(changes["onnxruntime-int8"]).startswith(("+19.", "+20.")) and "%…+" in compare.fmt_change(changes["onnxruntime-int8"])
    same = compare.compare(compare.load(root / "a"), compare.load(root / "same" / "results.json"))
    assert {c.verdict for c in same} == {compare.SAME}


def test_without_samples_the_recorded_intervals_decide(three_runs):
    root, *_ = three_runs
    (root / "b" / artifacts.SAMPLES).unlink()
    changes = {c.row_id: c for c in compare.compare(compare.load(root / "a"), compare.load(root / "b"))}
    assert changes["onnxruntime-int8"].verdict == compare.SLOWER and changes["pytorch-fp32"].verdict == compare.SAME


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "trt_tui.cli", *args], capture_output=True, text=True, timeout=120,
                          check=False)


def test_compare_command_exit_status(three_runs):
    root, *_ = three_runs
    a, b, same = (str(root / n) for n in ("a", "b", "same"))
    shown = cli("compare", a, b)
    assert shown.returncode == 0, shown.stderr
    assert "slower" in shown.stdout and "faster" in shown.stdout and "1 slower beyond noise: onnxruntime-int8" in shown.stdout
    assert cli("compare", a, b, "--fail-on-regression").returncode == 1
    assert cli("compare", a, same, "--fail-on-regression").returncode == 0
    assert cli("compare", a, b, "--fail-on-regression", "--min-change", "25").returncode == 0
    data = json.loads(cli("compare", a, b, "--json").stdout)
    assert {d["row_id"]: d["verdict"] for d in data}["onnxruntime-fp32"] == "faster"
    missing = cli("compare", a, str(root / "nowhere"))
    assert missing.returncode == 2 and "cannot read" in missing.stderr


def test_a_verdict_on_a_row_either_run_flagged_as_noisy_says_so(tmp_path):
    """A host-bound row on a busy CPU: bimodal latencies give a tight median CI in each run, yet the two runs
    can differ by several per cent; the verdict keeps its word and carries the runs' noise warnings."""
    from trt_tui.core import noise

    a = write_run(tmp_path / "a", {"pytorch-fp32": 2.0, "pytorch-fp16": 1.0}, seed=40)
    b = write_run(tmp_path / "b", {"pytorch-fp32": 2.0, "pytorch-fp16": 0.94}, seed=50)
    rng = np.random.default_rng(0)
    lat = np.where(rng.random(400) < 0.2, 1.7, 0.94) * rng.normal(1, 0.01, 400)  # a fifth of them slowed down
    warning = noise.noise_warning(lat, None, {}, ci_target=0.01, stopped_by="count", device="cpu")
    assert warning.startswith("unstable timing (")
    b.upsert({**b.rows["pytorch-fp16"], "noise_warning": warning})
    changes = {c.row_id: c for c in compare.compare(compare.load(tmp_path / "a"), compare.load(tmp_path / "b"))}
    flagged, quiet = changes["pytorch-fp16"], changes["pytorch-fp32"]
    assert flagged.verdict == compare.FASTER and flagged.noise == {"B": warning} and quiet.noise == {}
    assert compare.noise_note(flagged) == (
        "pytorch-fp16 b1: unstable timing in B: the verdict may be the machine's, not the change's")
    assert compare.noise_note(quiet) == ""
    shown = cli("compare", str(tmp_path / "a"), str(tmp_path / "b"))
    assert "faster ⚠" in shown.stdout and "⚠ pytorch-fp16 b1: unstable timing in B" in shown.stdout
    data = {d["row_id"]: d for d in json.loads(cli("compare", str(tmp_path / "a"), str(tmp_path / "b"), "--json").stdout)}
    assert data["pytorch-fp16"]["noise_warnings"] == {"B": warning} and data["pytorch-fp32"]["noise_warnings"] == {}
