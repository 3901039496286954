"""Modal dialogs: save the results (path prompt) and reopen an earlier results folder."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, OptionList, Static
from textual.widgets.option_list import Option


class SavePathScreen(ModalScreen[Path | None]):
    """Ask for a path and save there. ``save(path)`` does the writing; if it raises OSError the
    error is shown here and the dialog stays open (nothing is lost, try another path)."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="dialog.cancel")]

    def __init__(self, title: str, default: str | Path, save: Callable[[Path], Path]) -> None:
        super().__init__(id="save-dialog")
        self.title_text = title
        self.default = str(default)
        self.save = save

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(f"[b]{self.title_text}[/]", classes="dialog-title")
            yield Input(self.default, id="save-path", select_on_focus=False)
            yield Label("", id="save-error", classes="dialog-error")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Save", variant="primary", id="save", compact=True)
                yield Button("Cancel", id="cancel", compact=True)
            yield Static("[dim]enter saves · escape cancels[/]", classes="dialog-hint")

    def on_mount(self) -> None:
        field = self.query_one("#save-path", Input)
        field.focus()
        field.cursor_position = len(field.value)

    @on(Input.Submitted, "#save-path")
    @on(Button.Pressed, "#save")
    def _save(self) -> None:
        text = self.query_one("#save-path", Input).value.strip()
        error = self.query_one("#save-error", Label)
        if not text:
            error.update("✘ enter a file path")
            return
        try:
            path = self.save(Path(text).expanduser())
        except OSError as exc:
            reason = exc.strerror or str(exc)
            error.update(f"✘ could not write {text}: {reason}. Nothing was lost; try another path.")
            self.query_one("#save-path", Input).add_class("-invalid")
            return
        self.dismiss(path)

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)


def find_results(roots: list[Path], limit: int = 50) -> list[Path]:
    """Folders holding a results.json under the given roots (the roots themselves included), newest first."""
    found: dict[Path, float] = {}
    for root in roots:
        if not root.is_dir():
            continue
        candidates = [root / "results.json", *root.glob("*/results.json"), *root.glob("*/*/results.json")]
        for path in candidates:
            if path.is_file():
                found[path.parent] = path.stat().st_mtime
    return [p for p, _ in sorted(found.items(), key=lambda kv: (-kv[1], str(kv[0])))][:limit]


class OpenResultsScreen(ModalScreen[Path | None]):
    """Pick an earlier run's results folder (any folder with a results.json)."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="dialog.cancel")]

    def __init__(self, roots: list[Path], title: str = "Reopen earlier results") -> None:
        super().__init__(id="open-dialog")
        self.roots = roots
        self.title_text = title

    def compose(self) -> ComposeResult:
        folders = find_results(self.roots)
        with Vertical(classes="dialog"):
            yield Static(f"[b]{self.title_text}[/]", classes="dialog-title")
            options = OptionList(*[Option(str(p), id=str(p)) for p in folders], id="results-list")
            if not folders:
                options.display = False
            yield options
            yield Static(
                "[dim]no results folders found under " + ", ".join(map(str, self.roots)) + "[/]" if not folders else "",
                id="results-none",
            )
            yield Input(placeholder="or type a results folder (with results.json)", id="open-path")
            yield Label("", id="open-error", classes="dialog-error")
            yield Static("[dim]enter opens · escape cancels[/]", classes="dialog-hint")

    def on_mount(self) -> None:
        options = self.query_one("#results-list", OptionList)
        (options if options.display else self.query_one("#open-path", Input)).focus()

    @on(OptionList.OptionSelected, "#results-list")
    def _picked(self, event: OptionList.OptionSelected) -> None:
        self._open(Path(str(event.option.id)))

    @on(Input.Submitted, "#open-path")
    def _typed(self, event: Input.Submitted) -> None:
        if event.value.strip():
            self._open(Path(event.value.strip()).expanduser())

    def _open(self, folder: Path) -> None:
        if folder.is_file() and folder.name == "results.json":
            folder = folder.parent
        if not (folder / "results.json").is_file():
            self.query_one("#open-error", Label).update(f"✘ no results.json in {folder}")
            return
        self.dismiss(folder)

    def action_cancel(self) -> None:
        self.dismiss(None)
