"""Modal screens: the ``?`` help and the ``/`` target-class picker."""

from __future__ import annotations

from collections.abc import Sequence

from rich.table import Table
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

#: (keys, what they do) — the help screen; the Footer shows the most used of them.
KEYS: tuple[tuple[str, str], ...] = (
    ("j / ↓", "next image"),
    ("k / ↑", "previous image"),
    ("g / G, Home / End", "first / last image (PgUp / PgDn: a screen at a time)"),
    ("/ (in the list)", "filter the list by name or true class; Enter keeps it, Esc clears it"),
    ("a", "attack the image with the current settings"),
    ("e", "SHAP heatmaps + evidence for the clean and adversarial image (attacks first if needed)"),
    ("v", "cycle views: side by side / heatmap over image / perturbation"),
    ("m", "cycle method: FGSM → BIM → PGD"),
    ("t", "cycle target mode: untargeted → random → runner-up → nearest"),
    ("/", "choose a target class by typing its name"),
    ("+ / -", "ε up / down by 1/255"),
    ("] / [", "more / fewer attack steps (BIM, PGD)"),
    ("s", "save the current result (PNGs + result.json) under the output folder"),
    ("Esc", "cancel the running attack or SHAP job"),
    ("?", "this help"),
    ("q, ctrl+c", "quit"),
)

MARKS = (
    ("✗", "file failed to load (the reason shows when selected)"),
    ("●", "attacked, the attack succeeded"),
    ("○", "attacked, the attack did not succeed"),
    ("·", "not read yet (files are scanned only near the cursor and on screen)"),
    ("", "no mark: readable, not attacked yet"),
)


class HelpScreen(ModalScreen[None]):
    """All keys, the list marks and the colour conventions."""

    BINDINGS = [
        Binding("escape,q,question_mark", "dismiss", "close", show=True),
    ]

    def compose(self) -> ComposeResult:
        keys = Table(box=None, padding=(0, 2), show_header=False)
        keys.add_column(style="bold cyan", no_wrap=True)
        keys.add_column()
        for k, what in KEYS:
            keys.add_row(k, what)
        marks = Table(box=None, padding=(0, 2), show_header=False)
        marks.add_column(style="bold", no_wrap=True)
        marks.add_column()
        for k, what in MARKS:
            marks.add_row(k, what)
        colours = Text.assemble(
            "SHAP heatmaps: ",
            ("red", "#ff0051"),
            " = evidence for the predicted class, ",
            ("blue", "#008bfb"),
            " = against, white ≈ 0. The perturbation is amplified ×(0.5/ε) around mid-grey.",
        )
        with VerticalScroll(id="help-box"):
            yield Static(Text("advtui — keys", style="bold"))
            yield Static(keys)
            yield Static(Text("Image list", style="bold"), classes="help-title")
            yield Static(marks)
            yield Static(colours, classes="help-colours")
            yield Static(Text("Esc, q or ? closes this help.", style="dim"))

    def action_dismiss(self) -> None:  # type: ignore[override]
        self.dismiss(None)


class ClassPicker(ModalScreen[int | None]):
    """Type part of a class name; Enter picks the highlighted match (returns its index)."""

    BINDINGS = [
        Binding("escape", "cancel", "cancel", show=True),
        Binding("down", "cursor_down", "next match", show=False),
        Binding("up", "cursor_up", "previous match", show=False),
    ]
    LIMIT = 50

    def __init__(self, class_names: Sequence[str], current: int | None = None) -> None:
        super().__init__()
        self.class_names = list(class_names)
        self.current = current

    def compose(self) -> ComposeResult:
        with Vertical(id="picker-box"):
            yield Static(
                Text(f"Target class ({len(self.class_names)} classes) — type, ↑/↓, Enter"),
                classes="picker-title",
            )
            yield Input(placeholder="class name…", id="picker-input")
            yield OptionList(id="picker-options")

    def on_mount(self) -> None:
        field = self.query_one(Input)
        if self.current is not None and 0 <= self.current < len(self.class_names):
            field.value = self.class_names[self.current]  # Input.Changed fills the list
        else:
            self._fill("")
        field.focus()
        # the current target is selected: typing replaces it, Enter keeps it
        self.call_after_refresh(field.select_all)

    def _fill(self, query: str) -> None:
        from advtui.attacks.targets import class_matches

        options = self.query_one(OptionList)
        options.clear_options()
        matches = class_matches(query, self.class_names, limit=self.LIMIT)
        options.add_options(
            [Option(Text.assemble((f"{i:>4} ", "dim"), name), id=str(i)) for i, name in matches]
        )
        if matches:
            options.highlighted = 0

    @on(Input.Changed)
    def _changed(self, event: Input.Changed) -> None:
        self._fill(event.value)

    @on(Input.Submitted)
    def _submitted(self) -> None:
        options = self.query_one(OptionList)
        option = options.highlighted_option
        if option is not None and option.id is not None:
            self.dismiss(int(option.id))

    @on(OptionList.OptionSelected)
    def _selected(self, event: OptionList.OptionSelected) -> None:
        if event.option.id is not None:
            self.dismiss(int(event.option.id))

    def action_cursor_down(self) -> None:
        self.query_one(OptionList).action_cursor_down()

    def action_cursor_up(self) -> None:
        self.query_one(OptionList).action_cursor_up()

    def action_cancel(self) -> None:
        self.dismiss(None)
