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


STUB_DIR = Path(tempfile.gettempdir()) / "trt-tui-tensorrt-stubs"  # stable, so mypy's cache stays warm


def patch_stub(text: str) -> str:
    text = re.sub(r"(\(|, )in: ", r"\1in_: ", text)  # `in` is a keyword
    return text.replace(  # a non-default parameter after defaults
        "power: Weights = None, channel_axis: int)", "power: Weights = None, channel_axis: int = ...)"
    )


def prepare_stub_dir(dest: Path = STUB_DIR) -> Path:
    """Copy the stubs into ``dest``, patching what does not parse; unchanged files are left alone."""
    for name, src in find_stubs().items():
        for pyi in src.rglob("*.pyi"):
            target = dest / name / pyi.relative_to(src)
            text = patch_stub(pyi.read_text())
            if not target.is_file() or target.read_text() != text:
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(text)
    return dest


def run_mypy(args: list[str], stub_dir: Path | None, tag: str = "pkg") -> subprocess.CompletedProcess[str]:
    """One cache per (tag, stubs or not): alternating options would otherwise re-analyse torch each time."""
    env = dict(os.environ)
    env.pop("MYPYPATH", None)
    if stub_dir is not None:
        env["MYPYPATH"] = str(stub_dir)
    cache = ROOT / ".mypy_cache" / f"trt-{tag}-{'stubs' if stub_dir else 'nostubs'}"
    cmd = [sys.executable, "-m", "mypy", "--config-file", str(ROOT / "pyproject.toml"), "--cache-dir", str(cache), *args]
    return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)


needs_mypy = pytest.mark.skipif(importlib.util.find_spec("mypy") is None, reason="mypy not installed")


@needs_mypy
def test_mypy_trt_package() -> None:
    """Passes with the stubs when they are installed (and without them, where tensorrt is Any).
    Also run by hand: python tests/trt/test_mypy.py --follow-imports=silent scripts/rtx_build_check.py"""
    stub_dir = prepare_stub_dir() if find_stubs() else None
    res = run_mypy(["trt_tui/core/trt"], stub_dir)
    assert res.returncode == 0, res.stdout + res.stderr


@needs_mypy
def test_stubs_are_really_used(tmp_path: Path) -> None:
    if set(find_stubs()) != set(STUB_PACKAGES):
        pytest.skip(f"tensorrt-stubs not installed ({STUBS_HINT})")
    stub_dir = prepare_stub_dir()
    probe = tmp_path / "probe_trt_types.py"
    probe.write_text(
        "from typing import TYPE_CHECKING, Any\n"
        "import tensorrt\n"
        "reveal_type(tensorrt.Builder)\n"
        "tensorrt.Builder(42)\n"  # must be an error: Builder wants an ILogger
        "if TYPE_CHECKING:\n"
        "    import tensorrt as T\n"
        "def build(trt: Any) -> None:  # the pattern trt_tui/core/trt uses: module is Any, objects typed\n"
        "    b: T.Builder = trt.Builder(None)\n"
        "    b.build_serialized_network('net')\n"  # must be an error: missing config argument
    )
    res = run_mypy([str(probe)], stub_dir, tag="probe")
    out = res.stdout + res.stderr
    assert "tensorrt_bindings.tensorrt.ILogger" in out, out
    assert 'Argument 1 to "Builder" has incompatible type "int"' in out, out
    assert 'Missing positional argument "config" in call to "build_serialized_network"' in out, out
    # without our MYPYPATH the same probe sees only Any: the installed stubs are invisible to mypy
    res_plain = run_mypy([str(probe)], None, tag="probe")
    assert 'Revealed type is "Any"' in res_plain.stdout + res_plain.stderr


if __name__ == "__main__":
    sd = prepare_stub_dir() if find_stubs() else None
    print(f"MYPYPATH={sd}" if sd else f"tensorrt-stubs not found ({STUBS_HINT}); tensorrt will be Any")
    r = run_mypy(sys.argv[1:] or ["trt_tui/core/trt"], sd, tag="cli")
    print(r.stdout + r.stderr, end="")
    sys.exit(r.returncode)
