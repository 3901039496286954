"""Keys as a keyboard user meets them: where the focus is at launch and after each step, and the app's
keys from every screen and focus state (the sequences a new user types, not only the happy path)."""

from __future__ import annotations

from textual.widgets import DataTable, Input, SelectionList

from trt_tui.screens.base import RunScreen
from trt_tui.screens.benchmark import BenchmarkScreen
from trt_tui.screens.build import BuildScreen
from trt_tui.screens.dialogs import OpenResultsScreen, SavePathScreen
from trt_tui.screens.export import ExportScreen
from trt_tui.screens.help import HelpScreen
from trt_tui.screens.model import ModelScreen
from trt_tui.screenshots import make_app, run_all_and_wait, settle, wait_until

from .helpers import MLP, run, static_text

SIZE = (100, 30)
SCREENS = {"1": ModelScreen, "2": ExportScreen, "3": BuildScreen, "4": BenchmarkScreen}


def held_app():
    """An app whose jobs replay the MLP run and hold after its first event, as a long run would."""
    return make_app(MLP, stop=lambda event: True)


async def wait_job(pilot, running: bool) -> None:
    app = pilot.app
    await wait_until(pilot, lambda: (app.job is not None) == running and (running or app.state.finished is not None))


def test_launch_down_down_enter_then_r_runs_the_third_model():
    async def scenario():
        app = held_app()
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            assert isinstance(app.focused, DataTable) and app.focused.id == "builtin-models"
            await pilot.press("down", "down", "enter")
            third = app.catalog[2].name
            assert app.screen.query_one("#model", Input).value == third
            assert app.focused.id == "builtin-models"  # enter leaves the focus where r runs
            hint = static_text(app.screen.query_one("#model-hint"))
            assert hint.startswith(f"r runs {third}")
            await pilot.press("r")
            await wait_job(pilot, True)
            assert app.state.config.model == third
            await pilot.press("c")
            await wait_job(pilot, False)

    run(scenario)


def test_tab_order_and_every_field_gives_the_focus_back_on_enter_and_escape():
    async def scenario():
        app = held_app()
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            order = []
            for _ in range(16):
                await pilot.press("tab")
                order.append(app.focused.id)
            assert order == ["model", "batch_size", "input_shape", "input_shapes", "input_dtypes", "val_ranges",
                             "dynamic_dims", "sweep", "profile", "iterations", "warmup", "calibrator", "calib_data", "rows",
                             "builtin-models", "model"]
            for key in ("enter", "escape"):
                for field in ("model", "batch_size", "input_shapes", "sweep", "calib_data"):
                    app.screen.query_one(f"#{field}", Input).focus()
                    await pilot.pause()
                    assert "enter or esc when done" in static_text(app.screen.query_one("#model-hint"))
                    await pilot.press(key)
                    assert app.focused.id == "builtin-models", (field, key)

    run(scenario)


def test_r_in_a_field_types_r_then_enter_and_r_runs():
    """A model path with an 'r' in it types; the run starts only from outside the field (or ctrl+r)."""

    async def scenario():
        app = held_app()
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            await pilot.press("tab")  # into the Model field
            model = app.screen.query_one("#model", Input)
            assert app.focused is model
            await pilot.press("ctrl+u", *"resnet18")  # 'r' and digits are text here
            assert model.value == "resnet18" and app.job is None
            assert isinstance(app.screen, ModelScreen)  # '1' typed, no screen switch
            await pilot.press("enter")
            assert app.focused.id == "builtin-models"
            await pilot.press("r")
            await wait_job(pilot, True)
            assert app.state.config.model == "resnet18"
            await pilot.press("c")
            await wait_job(pilot, False)

            # ctrl+r runs from inside a field; coming back to the Model screen lands on the list
            await pilot.press("1")
            batch = app.screen.query_one("#batch_size", Input)
            batch.focus()
            await pilot.press("ctrl+r")
            await wait_job(pilot, True)
            await pilot.press("c")
            await wait_job(pilot, False)
            await pilot.press("1")
            assert isinstance(app.screen, ModelScreen) and app.focused.id == "builtin-models"

    run(scenario)


def test_an_invalid_field_says_what_to_fix_and_r_does_not_run():
    async def scenario():
        app = held_app()
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            app.screen.query_one("#model", Input).focus()
            await pilot.press("ctrl+u", *"nosuch", "enter")
            assert "fix Model first: unknown model 'nosuch'" in static_text(app.screen.query_one("#model-hint"))
            await pilot.press("r")
            await pilot.pause()
            assert app.job is None and isinstance(app.screen, ModelScreen)

    run(scenario)


def focus_states(screen) -> list:
    """None (nothing focused) and every widget a user can move the focus to, fields apart."""
    widgets = [w for w in screen.focus_chain if not isinstance(w, Input)]
    return [None] + widgets


RUN_ALL = ("export", "quantize", "build", "benchmark")
# key -> what it must do: show a screen, open a dialog, or start a job with these stages
APP_KEYS = (("2", ExportScreen), ("4", BenchmarkScreen), ("question_mark", HelpScreen), ("o", OpenResultsScreen),
            ("e", SavePathScreen), ("j", SavePathScreen), ("r", RUN_ALL), ("x", ("export",)),
            ("b", ("quantize", "build")), ("m", ("benchmark",)))


def test_the_app_keys_act_from_every_screen_and_focus_state():
    """Every app key from every screen; the focus states of each screen take turns (each gets some)."""

    async def scenario():
        # jobs hold at the first result row: e/j always have a row to save, c has a job to cancel
        app = make_app(MLP, stop=lambda event: event.type == "row")
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            await pilot.press("r")
            await wait_job(pilot, True)
            await pilot.press("c")
            await wait_job(pilot, False)
            covered: dict[str, set] = {}
            for digit, cls in SCREENS.items():
                await pilot.press(digit)
                assert isinstance(app.screen, cls)
                states = focus_states(app.screen)
                assert len(states) <= len(APP_KEYS)
                for n, (key, effect) in enumerate(APP_KEYS):
                    target = states[n % len(states)]
                    where = (cls.__name__, getattr(target, "id", None) or type(target).__name__, key)
                    app.screen.set_focus(target)
                    await pilot.pause()
                    await pilot.press(key)
                    if isinstance(effect, tuple):
                        await wait_job(pilot, True)
                        assert app.state.config.stages == effect, where
                        await pilot.press("c")
                        await wait_job(pilot, False)
                        assert app.state.finished.status == "cancelled", where
                    else:
                        await pilot.pause()
                        assert isinstance(app.screen, effect), where
                        if not issubclass(effect, RunScreen):  # a dialog: escape closes it
                            await pilot.press("escape")
                            assert isinstance(app.screen, cls), where
                    if not isinstance(app.screen, cls):
                        await pilot.press(digit)
                    covered.setdefault(cls.__name__, set()).add(where[1])
            assert all(len(v) >= 2 for v in covered.values()), covered

    run(scenario)


def test_help_closes_on_an_app_key_and_the_key_acts():
    async def scenario():
        app = held_app()
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            await pilot.press("question_mark")
            assert isinstance(app.screen, HelpScreen)
            await pilot.press("3")
            await pilot.pause()
            assert isinstance(app.screen, BuildScreen)
            await pilot.press("question_mark")
            await pilot.press("r")
            await wait_job(pilot, True)
            assert not isinstance(app.screen, HelpScreen)
            await pilot.press("c")
            await wait_job(pilot, False)
            await pilot.press("question_mark", "question_mark")  # ? toggles it
            assert not isinstance(app.screen, HelpScreen)

    run(scenario)


def test_a_screen_key_pressed_elsewhere_says_where_it_works():
    async def scenario():
        app = held_app()
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            await pilot.press("s")
            await pilot.pause()
            assert any("press 4" in n.message for n in app._notifications)
            await pilot.press("l")
            await pilot.pause()
            assert any("press 3" in n.message for n in app._notifications)

    run(scenario)


def test_space_in_the_rows_list_toggles_a_row_and_r_still_runs():
    async def scenario():
        app = held_app()
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            rows = app.screen.query_one("#rows", SelectionList)
            rows.focus()
            await pilot.press("space")
            assert "pytorch-fp32" not in rows.selected
            await pilot.press("r")
            await wait_job(pilot, True)
            assert "pytorch-fp32" not in app.state.config.rows
            await pilot.press("c")
            await wait_job(pilot, False)

    run(scenario)
