"""mypy on trt_tui/core/trt against tensorrt-stubs.

tensorrt-stubs 10.13 installs bare ``tensorrt/__init__.pyi`` and ``tensorrt_bindings/*.pyi`` without a
``py.typed`` marker, so mypy skips them ("missing library stubs or py.typed marker") and, with
``ignore_missing_imports``, silently types ``tensorrt`` as Any. The stubs also contain syntax errors
(parameters named ``in``). So we copy them into a temporary MYPYPATH folder, patch those lines, and
prove they are in use (``reveal_type``, and a wrong call must fail).

Run outside pytest: ``python tests/trt/test_mypy.py``.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import site
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
STUB_PACKAGES = ("tensorrt", "tensorrt_bindings")
STUBS_HINT = "pip install --no-deps tensorrt-stubs==10.13.0.35.1"


def find_stubs() -> dict[str, Path]:
    """Installed stub package folders (those holding .pyi files), by package name."""
    found: dict[str, Path] = {}
    roots = [*site.getsitepackages(), site.getusersitepackages(), *sys.path]
    for name in STUB_PACKAGES:
        for root in roots:
            cand = Path(root) / name
            if (cand / "__init__.pyi").is_file():
                found[name] = cand
                break
    return found


def prepare_stub_dir(dest: Path) -> Path:
    """Copy the stubs into ``dest`` and patch what does not parse; returns ``dest`` for MYPYPATH."""
    for name, src in find_stubs().items():
        shutil.copytree(src, dest / name, ignore=shutil.ignore_patterns("__pycache__"), dirs_exist_ok=True)
    for pyi in dest.rglob("*.pyi"):
        text = pyi.read_text()
        fixed = re.sub(r"(\(|, )in: ", r"\1in_: ", text)  # `in` is a keyword
        fixed = fixed.replace(  # a non-default parameter after defaults
            "power: Weights = None, channel_axis: int)", "power: Weights = None, channel_axis: int = ...)"
        )
        if fixed != text:
            pyi.write_text(fixed)
    return dest


def run_mypy(args: list[str], stub_dir: Path | None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    if stub_dir is not None:
        env["MYPYPATH"] = str(stub_dir)
    cmd = [sys.executable, "-m", "mypy", "--config-file", str(ROOT / "pyproject.toml"), *args]
    return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)


needs_mypy = pytest.mark.skipif(importlib.util.find_spec("mypy") is None, reason="mypy not installed")


@needs_mypy
def test_mypy_trt_package(tmp_path: Path) -> None:
    """Passes with the stubs when they are installed (and without them, where tensorrt is Any)."""
    stub_dir = prepare_stub_dir(tmp_path / "stubs") if find_stubs() else None
    res = run_mypy(["trt_tui/core/trt"], stub_dir)
    assert res.returncode == 0, res.stdout + res.stderr
    # the GPU check script too (other modules it imports are checked by their owners)
    res = run_mypy(["--follow-imports=silent", "scripts/rtx_build_check.py"], stub_dir)
    assert res.returncode == 0, res.stdout + res.stderr


@needs_mypy
def test_stubs_are_really_used(tmp_path: Path) -> None:
    if set(find_stubs()) != set(STUB_PACKAGES):
        pytest.skip(f"tensorrt-stubs not installed ({STUBS_HINT})")
    stub_dir = prepare_stub_dir(tmp_path / "stubs")
    probe = tmp_path / "probe_trt_types.py"
    probe.write_text(
        "import tensorrt\n"
        "from trt_tui.core.trt import builder\n"
        "reveal_type(tensorrt.Builder)\n"
        "reveal_type(builder.BuildResult)\n"
        "tensorrt.Builder(42)\n"  # must be an error: Builder wants an ILogger
    )
    res = run_mypy([str(probe)], stub_dir)
    out = res.stdout + res.stderr
    assert "tensorrt_bindings.tensorrt.ILogger" in out, out
    assert 'Argument 1 to "Builder" has incompatible type "int"' in out, out
    # and without our MYPYPATH the same probe sees only Any: the stubs are invisible to mypy
    res_plain = run_mypy([str(probe)], None)
    assert 'Revealed type is "Any"' in res_plain.stdout + res_plain.stderr


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as d:
        sd = prepare_stub_dir(Path(d) / "stubs") if find_stubs() else None
        print(f"MYPYPATH={sd}" if sd else f"tensorrt-stubs not found ({STUBS_HINT}); tensorrt will be Any")
        r = run_mypy(sys.argv[1:] or ["trt_tui/core/trt"], sd)
        print(r.stdout + r.stderr, end="")
        sys.exit(r.returncode)
