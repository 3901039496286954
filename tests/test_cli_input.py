"""`trt-tui run`'s settings are checked in the caller, before any process starts: any text is a valid
config or one line per problem naming the option and the value, exit status 2 — never a traceback,
never a child. In-process (cli.main), fast; one fresh interpreter checks that torch is not imported."""

from __future__ import annotations

import contextlib
import io
import os
import re
import subprocess
import sys
from pathlib import Path
from unittest import mock

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from trt_tui import cli
from trt_tui.core.config import RUN_STAGES, RunConfig
from trt_tui.core.rows import ALL_IDS
from trt_tui.core.models import BUILTINS
from trt_tui.core.validate import opset_range, parse_shape, shown


class Spawned(Exception):
    """Raised where the CLI would start its child: the config got through."""

    def __init__(self, config: RunConfig) -> None:
        self.config = config


def spawn(config: RunConfig, *args, **kwargs):
    raise Spawned(config)


def no_process(*args, **kwargs):
    raise AssertionError(f"a process was started during validation: {args!r}")


def run_main(argv: list[str]) -> tuple[int | RunConfig, str]:
    """cli.main in-process: (exit status, stderr), or (the RunConfig it would start, stderr)."""
    err = io.StringIO()
    with contextlib.ExitStack() as stack:
        stack.enter_context(mock.patch("trt_tui.child_job.JobProcess", side_effect=spawn))
        for target in ("subprocess.Popen", "os.fork", "os.posix_spawn", "os.posix_spawnp"):
            stack.enter_context(mock.patch(target, side_effect=no_process))
        stack.enter_context(contextlib.redirect_stderr(err))
        stack.enter_context(contextlib.redirect_stdout(io.StringIO()))
        try:
            code: int | RunConfig = cli.main(argv)
        except SystemExit as exc:
            code = int(exc.code or 0)
        except Spawned as spawned:
            code = spawned.config
    return code, err.getvalue()


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("models")
    out = {
        "good": d / "good.py", "syntax": d / "syntax.py", "empty": d / "empty.py", "star": d / "star.py",
        "onnx": d / "m.onnx", "npy": d / "calib.npy",
    }
    out["good"].write_text("import torch\n\ndef make():\n    return torch.nn.Flatten()\n\nif True:\n    alias = make\n")
    out["syntax"].write_text("def make(:\n")
    out["empty"].write_text("")
    out["star"].write_text("from os.path import *\n")
    out["onnx"].write_bytes(b"not checked before the child")
    out["npy"].write_bytes(b"")
    return out


def run_options() -> list[tuple[str, object]]:
    """(option string, its action) for every option of `trt-tui run` but --help."""
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    run = sub.choices["run"]
    return [(a.option_strings[0], a) for a in run._actions if a.option_strings and a.dest != "help"]


OPTIONS = run_options()


def values_for(option: str, action, files: dict[str, Path]) -> st.SearchStrategy[str]:
    anything = st.text(max_size=12)
    numbers = st.one_of(st.integers(-3, 10**11).map(str), st.floats(allow_nan=True, allow_infinity=True).map(str),
                        st.sampled_from(["1_000", " 7 ", "+3", "0x10", "1e3", "", "٣"]))
    sep = st.sampled_from([",", "x", ",,", " ", ";", "×", ", ", "X"])
    shapes = st.tuples(st.lists(st.integers(-1, 300), min_size=0, max_size=4), sep).map(
        lambda t: t[1].join(str(d) for d in t[0]))
    names = lambda allowed: st.lists(st.sampled_from([*allowed, "nope", " "]), max_size=4).map(",".join)  # noqa: E731
    models = st.sampled_from([*BUILTINS, f"{files['good']}:make", f"{files['good']}:alias", f"{files['good']}:nope",
                              f"{files['syntax']}:make", f"{files['empty']}:make", f"{files['star']}:make",
                              f"{files['good']}:1x", f"{files['good']}", str(files["onnx"]), "missing.onnx",
                              "missing.py:make", "~nosuchuser/m.onnx", "~nosuchuser/m.py:make"])
    if getattr(action, "choices", None):
        return st.one_of(st.sampled_from(list(action.choices)), anything)
    special = {
        "--model": models, "--input-shape": shapes, "--rows": names(ALL_IDS), "--stages": names(RUN_STAGES),
        "--calib-data": st.sampled_from([str(files["npy"]), "missing.npy", "a\0b"]), "--out": st.sampled_from(["out", "a\0b", ""]),
    }
    return st.one_of(special.get(option, numbers), anything)


@st.composite
def argvs(draw, files: dict[str, Path]) -> list[str]:
    chosen = draw(st.lists(st.sampled_from(OPTIONS), unique_by=lambda o: o[0], max_size=6))
    argv = ["run"]
    for option, action in chosen:
        if action.nargs == 0:  # a flag
            argv.append(option)
        else:
            argv.append(f"{option}={draw(values_for(option, action, files))}")
    return argv


def given_values(argv: list[str]) -> dict[str, str]:
    return dict(a.split("=", 1) for a in argv[1:] if "=" in a)


def test_every_option_is_covered():
    names = {o for o, _ in OPTIONS}
    assert {"--model", "--input-shape", "--batch-size", "--iterations", "--warmup", "--max-seconds", "--calib-samples",
            "--workspace-mib", "--opset", "--seed", "--rows", "--stages", "--calib-data", "--out"} <= names
    assert set(cli.OPTION.values()) <= names  # every checked field has its option


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_text_is_a_config_or_one_line_per_problem(files, data):
    argv = data.draw(argvs(files))
    result, err = run_main(argv)
    given = given_values(argv)
    event("valid: would start" if isinstance(result, RunConfig) else "refused")
    if isinstance(result, RunConfig):  # started: the config is valid, and nothing was said
        assert result.problems() == {} and err == ""
        return
    assert result == 2, (argv, result, err)
    lines = err.splitlines()
    assert lines and err.endswith("\n") and len(lines) <= len(argv), (argv, err)
    for line in lines:
        m = re.match(r"trt-tui run: (?:argument )?(--[a-z0-9-]+)", line)
        assert m, (argv, line)
        option = m.group(1).split("/")[0]
        if option in given and not line.startswith("trt-tui run: argument"):
            assert line.startswith(f"trt-tui run: {option} {shown(given[option])}: "), (argv, line)
        elif option in given:  # argparse's own (an invalid choice): the value is quoted in it
            assert repr(given[option]) in line, (argv, line)


# -- the cases seen ----------------------------------------------------------------------------------
@pytest.mark.parametrize("text", ["3,x,4", "3,,4", "x3", "3,4,", "-3,4", "3.5", "0,4", "3;4", "3,a,4", "", "3 4"])
def test_bad_shapes_are_refused(text):
    code, err = run_main(["run", f"--input-shape={text}"])
    assert code == 2
    assert err == f"trt-tui run: --input-shape {shown(text)}: must be positive integers separated by commas (or x), e.g. 3,224,224\n"


@pytest.mark.parametrize("text,shape", [("3,224,224", (3, 224, 224)), ("3x224x224", (3, 224, 224)),
                                        (" 1, 28, 28 ", (1, 28, 28)), ("16", (16,))])
def test_good_shapes(text, shape):
    assert parse_shape(text) == shape


@pytest.mark.parametrize("option,value,why", [
    ("--max-seconds", "0", "must be a number > 0"), ("--max-seconds", "nan", "must be a number > 0"),
    ("--max-seconds", "-inf", "must be a number > 0"), ("--iterations", "0", "must be a whole number >= 1"),
    ("--iterations", "2.5", "must be a whole number >= 1"), ("--warmup", "-1", "must be a whole number >= 0"),
    ("--calib-samples", "0", "must be a whole number >= 1"), ("--workspace-mib", "0", "must be a whole number >= 1"),
    ("--batch-size", "0", "must be a whole number >= 1"), ("--seed", "-1", "must be a whole number >= 0"),
    ("--iterations", "10000000000", "must be at most 1,000,000,000"),
])
def test_numbers_have_their_range(option, value, why):
    code, err = run_main(["run", f"{option}={value}"])
    assert (code, err) == (2, f"trt-tui run: {option} {shown(value)}: {why}\n")


def test_opset_within_what_the_exporter_writes():
    low, high = opset_range("torchscript")
    assert low <= 17 <= high and opset_range("dynamo")[1] >= high  # read from the installed torch.onnx
    code, err = run_main(["run", "--exporter=torchscript", f"--opset={high + 1}"])
    assert (code, err) == (2, f"trt-tui run: --opset {high + 1}: the installed torchscript exporter writes opsets "
                              f"from {low} to {high}\n")
    assert isinstance(run_main(["run", "--exporter=torchscript", f"--opset={high}"])[0], RunConfig)


def test_a_user_model_is_checked_before_anything_starts(files):
    """The syntax error and the missing --input-shape are both reported, at once, by the caller."""
    code, err = run_main(["run", f"--model={files['syntax']}:make"])
    assert code == 2
    assert err.splitlines() == [
        f"trt-tui run: --model {files['syntax']}:make: syntax error in {files['syntax']} line 1: invalid syntax",
        "trt-tui run: --input-shape: a user model (file.py:factory) needs its input shape per sample: 3,224,224 for "
        "one input, or --input-shapes input_ids:[128] by name (token ids become int64), or example_inputs(batch_size) "
        "in the file",
    ]
    code, err = run_main(["run", f"--model={files['good']}:build", "--input-shape=3,2,2"])
    assert (code, err) == (2, f"trt-tui run: --model {files['good']}:build: {files['good']} has no function 'build' "
                              "(functions there: make)\n")
    code, err = run_main(["run", "--model=missing.py:make", "--input-shape=3,2,2"])
    assert (code, err) == (2, "trt-tui run: --model missing.py:make: model file not found: missing.py\n")
    ok, err = run_main(["run", f"--model={files['good']}:alias", "--input-shape=1x2x2"])  # bound under an `if`
    assert isinstance(ok, RunConfig) and ok.input_shape == (1, 2, 2) and err == ""
    ok, _ = run_main(["run", f"--model={files['star']}:anything", "--input-shape=2"])  # `import *`: cannot tell
    assert isinstance(ok, RunConfig)


def test_unknown_rows_and_choices_are_one_line():
    code, err = run_main(["run", "--rows=pytorch-fp99", "--batch-size=0"])
    assert code == 2 and err.splitlines() == [
        "trt-tui run: --batch-size 0: must be a whole number >= 1",
        f"trt-tui run: --rows pytorch-fp99: unknown rows: pytorch-fp99 (choose among {', '.join(ALL_IDS)})",
    ]
    code, err = run_main(["run", "--device", "gpu"])
    assert code == 2 and err == ("trt-tui run: argument --device: invalid choice: 'gpu' (choose from 'auto', 'cuda', "
                                 "'cpu') (see trt-tui run --help)\n")


def test_help_names_every_default_and_version(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["run", "--help"])
    assert exc.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "(default: mlp)" in text and "(default: 500)" in text and "(default: 50)" in text
    for option, action in OPTIONS:
        assert re.search(re.escape(option) + r"\b[^()]*?.*?\(default: [^)]+\)", text), option
    assert text.count("(default:") == len(OPTIONS)
    with pytest.raises(SystemExit) as exc:
        cli.main(["--version"])
    assert exc.value.code == 0
    assert re.match(r"trt-tui \d+\.\d+\.\d+ \(Python 3\.\d+\.\d+, torch \S+, onnxruntime \S+, TensorRT ",
                    capsys.readouterr().out)


def test_validation_imports_no_torch():
    """The checks run in the caller, which never imports torch (the app's process must stay light)."""
    code = ("import sys; from trt_tui import cli; rc = cli.main(['run', '--iterations=0', '--model=x.py:f']); "
            "assert rc == 2, rc; bad = [m for m in ('torch', 'onnx', 'onnxruntime', 'tensorrt') if m in sys.modules]; "
            "print(bad)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PYTHONPATH": str(Path(cli.__file__).parent.parent)})
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"
