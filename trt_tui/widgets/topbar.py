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
    status: reactive[str] = reactive("idle")  # always shown whole: the stage and its elapsed time
    detail: reactive[str] = reactive("")  # cut first (then dropped) when the line is too narrow
    running: reactive[bool] = reactive(False)

    def __init__(self, active: str, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.set_reactive(TopBar.active, active)

    def render(self) -> Content:
        width = self.size.width or 100
        brand = Content.from_markup("[b] trt-tui [/b]")
        tabs: list[Content] = []
        digits: list[Content] = []  # the inactive tabs at their narrowest
        for key, name, title in SCREEN_TABS:
            if name == self.active:
                tab = Content.from_markup("[reverse b] $key $title [/]", key=key, title=title)
                tabs.append(tab)
                digits.append(tab)
            else:
                tabs.append(Content.from_markup(" [b]$key[/b] [dim]$title[/dim] ", key=key, title=title))
                digits.append(Content.from_markup(" [b]$key[/b] ", key=key))
        marker = "[b $warning]●[/]" if self.running else "[dim]○[/]"
        head = Content.from_markup(f"{marker} [b]$status[/b]", status=self.status)
        detail = Content.from_markup(" [dim]·[/] $detail", detail=self.detail) if self.detail else Content("")
        # The status (stage and elapsed time) is never cut while something else can give way: first the
        # detail is cut, then the app's name goes, then the inactive tabs shrink to their digit.
        left = Content("").join([brand, *tabs])
        if left.cell_length + 1 + head.cell_length + detail.cell_length + 1 > width:
            left = Content("").join(tabs)
        if left.cell_length + 1 + head.cell_length + 1 > width:
            left = Content("").join(digits)
        room = width - left.cell_length - 1 - head.cell_length - 1
        right = head
        if self.detail and room >= 8:
            if detail.cell_length > room:
                detail = detail.truncate(room, ellipsis=True)
            right = Content.assemble(head, detail)
        if right.cell_length > width - left.cell_length - 2:
            right = right.truncate(max(0, width - left.cell_length - 2), ellipsis=True)
        gap = max(1, width - left.cell_length - right.cell_length - 1)
        return Content.assemble(left, " " * gap, right, " ")
