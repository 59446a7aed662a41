"""Modal screens: the ``?`` help and the ``c`` target-class picker."""

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

from advtui import registry
from advtui.names import safe_name
from advtui.settings import METHODS, TARGET_MODES

#: (keys, what they do) — the help screen; the Footer shows the most used of them.
KEYS: tuple[tuple[str, str], ...] = (
    ("j / ↓", "next image"),
    ("k / ↑", "previous image"),
    ("g / G, Home / End", "first / last image (PgUp / PgDn: a screen at a time)"),
    ("/ (in the list)", "filter the list by name or true class; Enter keeps it, Esc clears it"),
    (
        "w",
        "show only the misclassified images (✗ after the true class: the top-1 is not it; ✓: it is); w again: all",
    ),
    ("a", "attack the image with the current settings"),
    ("e", "heatmaps + evidence of the chosen explainer for both images (attacks first)"),
    (
        "x",
        "cycle explainer: " + " → ".join(s.label for s in registry.EXPLAINERS.values()),
    ),
    (
        "v",
        "cycle views: side by side / heatmap over image / perturbation (below 130 columns also a SHAP page; each view shows its own table)",
    ),
    ("m", "cycle method: " + " → ".join(registry.attack_spec(m).label for m in METHODS)),
    ("t", "cycle target mode: " + " → ".join(TARGET_MODES)),
    ("c", "choose a target class by typing its name (Enter takes an exact or unique match)"),
    ("+ / -", "ε up / down by 1/255"),
    ("] / [", "more / fewer attack steps (BIM, PGD)"),
    ("s", "save the current result (PNGs + result.json) under the output folder"),
    ("b", "ε grid: the attack at a row of budgets, the first success marked"),
    (
        "r",
        "an eval run's rows and plots (`advtui OUT`, or --detector OUT); Enter on a row "
        "reproduces it here",
    ),
    ("Esc", "cancel the running attack or explain job"),
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

    def __init__(self, display: str = "") -> None:
        super().__init__()
        self.display_text = display

    def compose(self) -> ComposeResult:
        keys = Table(box=None, padding=(0, 2), show_header=False)
        keys.add_column(style="bold cyan", no_wrap=True)
        keys.add_column()
        methods = getattr(getattr(self.app, "config", None), "methods", None)
        for k, what in KEYS:
            if k == "m" and methods:  # --methods: the cycle the user chose
                what = "cycle method: " + " → ".join(registry.attack_spec(m).label for m in methods)
            keys.add_row(k, what)
        marks = Table(box=None, padding=(0, 2), show_header=False)
        marks.add_column(style="bold", no_wrap=True)
        marks.add_column()
        for k, what in MARKS:
            marks.add_row(k, what)
        colours = Text.assemble(
            "Heatmaps (SHAP, IG, saliency, SmoothGrad): ",
            ("red", "#ff0051"),
            " = evidence for the predicted class, ",
            ("blue", "#008bfb"),
            " = against, white ≈ 0. The perturbation is amplified around mid-grey so its largest change is black or white.",
        )
        with VerticalScroll(id="help-box"):
            yield Static(Text("advtui — keys", style="bold"))
            yield Static(keys)
            yield Static(Text("Image list", style="bold"), classes="help-title")
            yield Static(marks)
            yield Static(colours, classes="help-colours")
            if self.display_text:
                yield Static(
                    Text.assemble(("Pictures: ", "bold"), self.display_text),
                    classes="help-colours",
                )
            yield Static(Text("Esc, q or ? closes this help.", style="dim"))

    def action_dismiss(self) -> None:  # type: ignore[override]
        self.dismiss(None)


class ClassPicker(ModalScreen[int | None]):
    """Type part of a class name; Enter resolves it as the command line's ``--target`` does.

    An exact name, an index or a query that matches one class only is taken; an ambiguous query
    ("ele") keeps the picker open and says so. A match chosen with ↑/↓ (or a click) is taken as
    chosen. Returns the class index, or None on Esc.
    """

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
        self.moved = False  # the user moved the highlight since the query last changed

    def compose(self) -> ComposeResult:
        with Vertical(id="picker-box"):
            yield Static(
                Text(f"Target class ({len(self.class_names)} classes) — type, ↑/↓, Enter"),
                classes="picker-title",
            )
            yield Input(placeholder="class name or index…", id="picker-input")
            yield Static(id="picker-note")
            yield OptionList(id="picker-options")

    @property
    def note(self) -> str:
        """What the picker says under the input (e.g. that the query is ambiguous)."""
        return str(self.query_one("#picker-note", Static).render())

    def _say(self, text: str) -> None:
        self.query_one("#picker-note", Static).update(Text(text, style="yellow"))

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
            [
                Option(Text.assemble((f"{i:>4} ", "dim"), safe_name(name)), id=str(i))
                for i, name in matches
            ]
        )
        if matches:
            options.highlighted = 0
        self.moved = False

    @on(Input.Changed)
    def _changed(self, event: Input.Changed) -> None:
        self._fill(event.value)
        self.query_one("#picker-note", Static).update("")

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        from advtui.errors import AttackError

        options = self.query_one(OptionList)
        option = options.highlighted_option
        if self.moved and option is not None and option.id is not None:
            self.dismiss(int(option.id))
            return
        query = event.value.strip()
        if not query:
            self._say("type part of a class name or its index")
            return
        try:
            from advtui.attacks.targets import resolve_class

            index = resolve_class(query, self.class_names)
        except AttackError as exc:
            self._say(f"{exc} — keep typing, or pick one with ↑/↓ and Enter")
            return
        self.dismiss(index)

    @on(OptionList.OptionSelected)
    def _selected(self, event: OptionList.OptionSelected) -> None:
        if event.option.id is not None:
            self.dismiss(int(event.option.id))

    def action_cursor_down(self) -> None:
        self.query_one(OptionList).action_cursor_down()
        self.moved = True

    def action_cursor_up(self) -> None:
        self.query_one(OptionList).action_cursor_up()
        self.moved = True

    def action_cancel(self) -> None:
        self.dismiss(None)
