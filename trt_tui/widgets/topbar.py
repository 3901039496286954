"""The one-line bar at the top of every screen: the screens as tabs, and what the run is doing."""

from __future__ import annotations

from textual.content import Content
from textual.reactive import reactive
from textual.widget import Widget

SCREEN_TABS: tuple[tuple[str, str, str], ...] = (
    ("1", "model", "Model"),
    ("2", "export", "Export"),
    ("3", "build", "Build"),
    ("4", "benchmark", "Benchmark"),
)


class TopBar(Widget):
    """Tabs on the left (the active one highlighted), run status on the right."""

    DEFAULT_CSS = """
    TopBar {
        height: 1;
        width: 1fr;
        background: $panel;
        color: $foreground;
    }
    """

    active: reactive[str] = reactive("model")
    status: reactive[str] = reactive("idle")
    running: reactive[bool] = reactive(False)

    def __init__(self, active: str, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.set_reactive(TopBar.active, active)

    def render(self) -> Content:
        parts: list[Content] = [Content.from_markup("[b] trt-tui [/b]")]
        for key, name, title in SCREEN_TABS:
            if name == self.active:
                parts.append(Content.from_markup(f"[reverse b] $key $title [/]", key=key, title=title))
            else:
                parts.append(Content.from_markup(f" [b]$key[/b] [dim]$title[/dim] ", key=key, title=title))
        left = Content("").join(parts)
        marker = "[b $warning]●[/]" if self.running else "[dim]○[/]"
        right = Content.from_markup(f"{marker} $status ", status=self.status)
        width = self.size.width or 100
        room = width - left.cell_length - 1
        if right.cell_length > room:
            right = right.truncate(max(0, room), ellipsis=True)
        gap = max(1, width - left.cell_length - right.cell_length)
        return Content.assemble(left, " " * gap, right)
