"""The Model screen's inputs: listed from an ONNX graph or a built-in at once, edited in the CLI's syntax,
each problem under its field in the CLI's words, and the RunConfig the form hands over carries them."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import Input

from trt_tui.screenshots import make_app, settle

from .helpers import run, static_text

SIZE = (100, 30)
SEQ_PROBLEM = ("input 'input_ids' [?,seq] has dynamic dims besides the batch (seq): give their sizes, "
               "e.g. --input-shapes input_ids:[128]")


def two_int_inputs_onnx(path: Path, vocab: int = 1000) -> Path:
    """input_ids int64 [batch, seq] through an embedding (vocab x 8) plus attention_mask int64 [batch, seq]."""
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    ids = helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "seq"])
    mask = helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch", "seq"])
    out = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", "seq", 8])
    table = numpy_helper.from_array(np.zeros((vocab, 8), np.float32), "table")
    nodes = [helper.make_node("Gather", ["table", "input_ids"], ["emb"], axis=0),
             helper.make_node("Cast", ["attention_mask"], ["maskf"], to=TensorProto.FLOAT),
             helper.make_node("Unsqueeze", ["maskf", "axes"], ["mask3"]),
             helper.make_node("Mul", ["emb", "mask3"], ["y"])]
    axes = numpy_helper.from_array(np.array([-1], np.int64), "axes")
    graph = helper.make_graph(nodes, "g", [ids, mask], [out], initializer=[table, axes])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)]), path)
    return path


def listed(screen) -> str:
    return screen.query_one("#inputs-list").plain


def error(screen, field: str) -> str:
    label = screen.query_one(f"#{field}-error")
    return static_text(label) if label.has_class("-shown") else ""


def test_an_onnx_file_lists_its_inputs_and_the_shapes_field_gives_the_missing_size():
    path = two_int_inputs_onnx(Path("enc.onnx").resolve())

    async def scenario():
        app = make_app(None)
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            screen = app.screen
            screen.query_one("#model", Input).value = str(path)
            await pilot.pause()
            lines = listed(screen).splitlines()
            assert lines[0].split()[:3] == ["input_ids", "[B,seq=?]", "int64"]
            assert "randint [0, 999] (ids below the embedding table's 1000 rows)" in lines[0]
            assert lines[1].split()[:4] == ["attention_mask", "[B,seq=?]", "int64", "ones"]
            assert SEQ_PROBLEM in error(screen, "input_shapes")
            assert app.form[0] is None and screen.query_one("#input_shapes").has_class("-invalid")
            assert "fix Input shapes first" in static_text(screen.query_one("#model-hint"))

            screen.query_one("#input_shapes", Input).value = "input_ids:[128],attention_mask:[128]"
            await pilot.pause()
            assert error(screen, "input_shapes") == ""
            assert [line.split()[1] for line in listed(screen).splitlines()] == ["[B,seq=128]", "[B,seq=128]"]
            config = app.form[0]
            assert config is not None
            assert config.input_shapes == {"input_ids": (128,), "attention_mask": (128,)}
            assert config.model == str(path)

    run(scenario)


def cli_problem(model: Path, *options: str) -> str:
    """What `trt-tui run --model <model> <options>` says first, after 'trt-tui run: --option 'value': '."""
    from trt_tui.cli import build_parser, config_from_args

    _, lines = config_from_args(build_parser().parse_args(["run", "--model", str(model), *options]))
    return lines[0].split(": ", 2)[2]


def test_bad_dtype_range_and_sweep_show_the_clis_line_under_their_field_and_good_ones_reach_the_config():
    path = two_int_inputs_onnx(Path("enc.onnx").resolve())

    async def scenario():
        app = make_app(None)
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            screen = app.screen
            fields = {name: screen.query_one(f"#{name}", Input) for name in
                      ("model", "input_shapes", "input_dtypes", "val_ranges", "sweep")}
            fields["model"].value = str(path)
            fields["input_shapes"].value = "input_ids:[128] attention_mask:[128]"
            fields["input_dtypes"].value = "input_ids:int8"
            fields["val_ranges"].value = "input_ids:[9,1]"
            fields["sweep"].value = "seq=64,x"
            await pilot.pause()
            shapes = "input_ids:[128] attention_mask:[128]"
            assert error(screen, "input_dtypes") == "✘ " + cli_problem(path, "--input-shapes", shapes, "--input-dtypes",
                                                                      "input_ids:int8")
            assert error(screen, "val_ranges") == "✘ " + cli_problem(path, "--input-shapes", shapes, "--val-range",
                                                                    "input_ids:[9,1]")
            assert error(screen, "sweep") == "✘ " + cli_problem(path, "--input-shapes", shapes, "--sweep", "seq=64,x")
            assert "range [9, 1] is empty" in error(screen, "val_ranges")
            assert app.form[0] is None

            fields["input_dtypes"].value = "attention_mask:bool"
            fields["val_ranges"].value = "input_ids:[0,99]"
            fields["sweep"].value = "seq=64,128"
            await pilot.pause()
            assert not any(error(screen, name) for name in fields)
            config = app.form[0]
            assert config is not None
            assert config.input_dtypes == {"attention_mask": "bool"}
            assert config.val_ranges == {"input_ids": (0.0, 99.0)}
            assert config.sweep == {"seq": (64, 128)}
            lines = listed(screen).splitlines()
            assert "randint [0, 99]" in lines[0] and lines[1].split()[2] == "bool"
            # the sweep's first size is the one in use, as in the run
            assert lines[0].split()[1] == "[B,seq=64]"
            # a sweep over a dim the model lacks: the CLI's words, under Sweep
            fields["sweep"].value = "len=8,16"
            await pilot.pause()
            assert "'len' is not a dynamic dim of this model (its dynamic dims: seq)" in error(screen, "sweep")

    run(scenario)


def test_a_builtin_lists_its_one_float_input_and_input_shape_works_as_before():
    async def scenario():
        app = make_app(None)
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            screen = app.screen
            assert listed(screen).split()[:4] == ["input", "[B,1,28,28]", "float32", "normal"]
            screen.query_one("#input_shape", Input).value = "1,32,32"
            screen.query_one("#val_ranges", Input).value = "input:[0,1]"
            await pilot.pause()
            assert listed(screen).split()[:4] == ["input", "[B,1,32,32]", "float32", "uniform"]
            config = app.form[0]
            assert config is not None and config.input_shape == (1, 32, 32)
            assert config.val_ranges == {"input": (0.0, 1.0)} and config.input_shapes == {}
            # one input by --input-shape and by --input-shapes at once: the CLI's refusal
            screen.query_one("#input_shapes", Input).value = "input:[1,32,32]"
            await pilot.pause()
            assert "give --input-shape (one input) or --input-shapes (by name), not both" in error(
                screen, "input_shapes")

    run(scenario)


def test_a_model_file_with_example_inputs_says_when_they_are_read_and_shows_a_runs_report():
    from trt_tui.core.events import StageFinished

    Path("enc.py").write_text("def build():\n    pass\n\ndef example_inputs(batch_size):\n    pass\n")
    Path("plain.py").write_text("def build():\n    pass\n")

    async def scenario():
        app = make_app(None)
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            screen = app.screen
            model = screen.query_one("#model", Input)
            model.value = "enc.py:build"
            await pilot.pause()
            assert "read from enc.py (its example_inputs) when the run starts" in listed(screen)
            assert app.form[0] is not None  # nothing to give: the file says
            model.value = "plain.py:build"
            await pilot.pause()
            assert "give Input shape (one input) or Input shapes" in listed(screen)
            assert "needs its input shape" in error(screen, "input_shape")
            # a run of enc.py reported its inputs (the model stage's detail): listed from then on
            app.state.begin(app.state.config.__class__(model="enc.py:build"))
            app.state.apply(StageFinished(stage="model", status="ok", seconds=0.1, detail={"inputs": [
                "tokens int64 [B,32] randint [0, 499] (the range of example_inputs)",
                "padding_mask bool [B,32] ones (a mask: no padding)"]}))
            model.value = "enc.py:build"
            await pilot.pause()
            lines = listed(screen).splitlines()
            assert lines[0].split()[:3] == ["tokens", "[B,32]", "int64"]
            assert lines[1].split()[:4] == ["padding_mask", "[B,32]", "bool", "ones"]
            assert "as the last run of this model read them" in lines[2]

    run(scenario)


def test_at_80x24_the_inputs_are_in_view_and_tab_brings_every_input_field_into_view():
    path = two_int_inputs_onnx(Path("enc.onnx").resolve())

    async def scenario():
        app = make_app(None)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            screen = app.screen
            screen.query_one("#model", Input).value = str(path)
            await pilot.pause()
            machine = screen.query_one("#machine").region
            body = screen.query_one("#model-body").region
            listing = screen.query_one("#inputs-list").region
            assert listing.height == 6 and listing.bottom <= machine.y  # name; shape dtype; values at 80 columns
            assert screen.query_one("#model-hint").region.bottom <= 23
            for name in ("input_shapes", "input_dtypes", "val_ranges", "dynamic_dims", "sweep", "calib_data"):
                screen.query_one(f"#{name}", Input).focus()
                await pilot.pause()
                region = screen.query_one(f"#{name}").region
                assert region.height == 1 and body.y <= region.y < body.bottom, name
                await pilot.press("escape")
                assert app.focused.id == "builtin-models"

    run(scenario)


def test_inputs_list_wraps_values_under_the_name_when_a_line_does_not_fit():
    """At 80 columns the form's left side is ~32 cells: the names stay whole and the generator goes on its
    own indented line, cut only at the width; wide enough, one aligned line per input."""
    from trt_tui.widgets.inputs_list import InputRow, InputsList

    widget = InputsList()
    widget.show([InputRow("input_ids", "[B,96]", "int64", "randint [0, 2999] (ids below the table's 3000 rows)"),
                 InputRow("attention_mask", "[B,96]", "int64", "ones (a mask: no padding)")])
    narrow = [line.plain for line in widget.lines(32)]
    assert narrow[0].startswith("input_ids ") and narrow[2].startswith("attention_mask [B,96] int64")
    assert narrow[1].startswith("  randint [0, 2999]") and narrow[1].endswith("…") and narrow[3] == "  ones (a mask: no padding)"
    assert all(len(line) <= 32 for line in narrow)
    wide = [line.plain for line in widget.lines(120)]
    assert len(wide) == 2 and wide[1] == "attention_mask [B,96] int64 ones (a mask: no padding)"


def test_the_profile_field_sets_the_tensorrt_optimization_profile_as_the_cli_does():
    path = two_int_inputs_onnx(Path("enc.onnx").resolve())

    async def scenario():
        app = make_app(None)
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            screen = app.screen
            screen.query_one("#model", Input).value = str(path)
            screen.query_one("#sweep", Input).value = "seq=64,128"
            profile = screen.query_one("#profile", Input)
            profile.value = "seq=16:512"
            await pilot.pause()
            problem = cli_problem(path, "--sweep", "seq=64,128", "--profile", "seq=16:512")
            assert error(screen, "profile") == "✘ " + problem and app.form[0] is None
            profile.value = "seq=16:128:512"
            await pilot.pause()
            assert error(screen, "profile") == "" and app.form[0].profile == {"seq": (16, 128, 512)}
            profile.value = "seq=100:128:120"  # the sweep's 64 falls outside: said under Sweep, as the CLI says it
            await pilot.pause()
            assert app.form[0] is None and (error(screen, "profile") or error(screen, "sweep"))

    run(scenario)


def test_inputs_list_gives_the_name_its_own_line_when_the_shape_is_long():
    """A Hugging Face ONNX at 80 columns: '[B,sequence_length=?]' leaves no room for the name beside it;
    the name goes alone, shape and dtype under it, then the values — nothing wraps, no name is cut."""
    from trt_tui.widgets.inputs_list import InputRow, InputsList

    widget = InputsList()
    widget.show([InputRow("input_ids", "[B,sequence_length=?]", "int64", "randint [0, 2999] (ids)", True),
                 InputRow("attention_mask", "[B,sequence_length=?]", "int64", "ones (a mask: no padding)", True)])
    lines = [line.plain for line in widget.lines(31)]
    assert lines[:3] == ["input_ids", "  [B,sequence_length=?] int64", "  randint [0, 2999] (ids)"]
    assert lines[3] == "attention_mask" and all(len(line) <= 31 for line in lines)
    narrower = [line.plain for line in widget.lines(27)]  # the form's width at 80x24: dtype on its own line
    assert narrower[:4] == ["input_ids", "  [B,sequence_length=?]", "  int64", "  randint [0, 2999] (ids)"]
