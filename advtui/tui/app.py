"""The terminal explorer: browse a folder, attack from the keyboard, look at SHAP evidence.

The App owns state and bindings; heavy work (loading the model, attacks, SHAP, saving) runs in
thread workers that call the same core functions as the CLI (``advtui.pipeline``) and post
messages back (``advtui.tui.messages``). Torch and the core are imported inside the workers,
so the first frame does not wait for them.

Results are cached per (image, model, settings key); a job's result is filed under the key it
was started with, so moving to another image while a job runs never shows it on the wrong
image, and stepping back shows it at once.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.markup import escape
from rich.text import Text
from textual import on, work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import Footer, Static
from textual.worker import get_current_worker

from advtui.settings import METHODS
from advtui.tui import jobs
from advtui.tui import messages as msg
from advtui.tui.pixels import PixelView
from advtui.tui.screens import ClassPicker, HelpScreen
from advtui.tui.state import (
    DEFAULT_DISPLAY_SIZE,
    MAX_EPS_255,
    STEP_LADDER,
    VIEW_NAMES,
    VIEWS,
    Entry,
    Job,
    TuiConfig,
    load_model_cached,
    one_line,
)
from advtui.tui.view import ViewModel, build_view, result_summary, status_line
from advtui.tui.widgets import (
    MARK_ATTACKED,
    MARK_FAILED,
    MARK_MISSED,
    MARK_PLAIN,
    ColorScale,
    Column,
    ConfidenceTable,
    EvidenceTable,
    ImageList,
    Row,
    StatusLine,
)

if TYPE_CHECKING:
    from advtui.pipeline import AttackSettings

__all__ = ["AdvtuiApp", "TuiConfig"]


class AdvtuiApp(App[int]):
    """``advtui [FOLDER]``: image list, pixel-art views, tables and a status line."""

    CSS_PATH = "advtui.tcss"
    TITLE = "advtui"
    ENABLE_COMMAND_PALETTE = False
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (130, "-wide")]

    BINDINGS = [
        Binding("j,down", "next", "next", show=False),
        Binding("k,up", "previous", "previous", show=False),
        Binding("a", "attack", "attack"),
        Binding("e", "explain", "SHAP"),
        Binding("v", "cycle_view", "view"),
        Binding("m", "cycle_method", "method"),
        Binding("t", "cycle_target", "target"),
        Binding("slash", "pick_class", "class", key_display="/"),
        Binding("plus,equals_sign", "eps_up", "ε up", show=False, key_display="+"),
        Binding("minus", "eps_down", "ε down", show=False, key_display="-"),
        Binding("right_square_bracket", "more_steps", "more steps", show=False, key_display="]"),
        Binding("left_square_bracket", "fewer_steps", "fewer steps", show=False, key_display="["),
        Binding("s", "save", "save"),
        Binding("escape", "cancel", "cancel", key_display="esc"),
        Binding("question_mark", "help", "help", key_display="?"),
        Binding("q", "quit", "quit"),
        Binding("ctrl+c", "quit", "quit", show=False, priority=True),  # as any terminal program
    ]

    def __init__(self, config: TuiConfig | None = None) -> None:
        super().__init__()
        self.config = config if config is not None else TuiConfig()
        self.settings = self.config.settings
        self.entries: list[Entry] = []
        self.current: int | None = None
        self.folder_error: str | None = None
        self.model: Any = None
        self.model_error: str | None = None
        self.explainer: Any = None
        self.explainer_error: str | None = None
        self.detector: Any = None
        self.explainer_ready = threading.Event()
        self.outcomes: dict[tuple, Any] = {}
        self.verdicts: dict[tuple, dict[str, float]] = {}
        self.predictions: dict[tuple[str, str], list[dict]] = {}
        self.job: Job | None = None
        # the last job's result or failure and the (image, model, settings) key it is about;
        # the status line shows it only while that key is the current one
        self.last_event = ""
        self.last_event_key: tuple | None = None
        self.view = VIEWS[0]
        self.saving = False
        self.status_text = ""
        self._job_ids = 0
        self._view_cache: dict[tuple, Any] = {}
        self.explainers = jobs.ExplainerCache(self.config)
        self._bindings_state: tuple | None = None  # check_action per binding, last pushed

    # ------------------------------------------------------------------ layout

    def compose(self) -> ComposeResult:
        with Row(id="body"):
            yield ImageList(id="images")
            with Column(id="main", classes="-view-side"):
                with Row(id="row-images"):
                    yield PixelView(id="p-clean", message="loading…")
                    yield PixelView(id="p-adv", message="loading model…")
                    yield PixelView(id="p-pert")
                with Row(id="row-heat"):
                    yield PixelView(id="p-shap-clean")
                    yield PixelView(id="p-shap-adv")
                    with Vertical(id="legend"):
                        yield ColorScale(id="scale")
                        yield Static(id="legend-note")
                yield ColorScale(id="overlay-scale")
                with Row(id="row-tables"):
                    yield ConfidenceTable(id="confidence")
                    yield EvidenceTable(id="evidence")
        yield StatusLine(id="status")
        yield Footer()

    def on_mount(self) -> None:
        # breakpoints are otherwise applied on the first Resize, after the first frame
        narrow = self.size.width < self.HORIZONTAL_BREAKPOINTS[1][0]
        self.screen.set_class(narrow, "-narrow")
        self.screen.set_class(not narrow, "-wide")
        self.query_one("#confidence").border_title = "confidence (top-5)"
        self.query_one("#evidence").border_title = "SHAP evidence (top class)"
        self.query_one("#legend").border_title = "SHAP colour scale"
        self._open_folder()
        self.update_status()
        # start the heavy imports (torch, the model) once the first frame is on screen
        self.call_after_refresh(self.load_model)

    def _open_folder(self) -> None:
        from advtui.errors import ImageError
        from advtui.images import find_images

        images = self.query_one(ImageList)
        try:
            paths = find_images(self.config.folder)
        except ImageError as exc:
            self.folder_error = str(exc)
            images.border_title = "images"
            self.say(self.folder_error, title="folder", severity="error", timeout=10)
            self.refresh_view()
            return
        self.entries = [Entry(p) for p in paths]
        images.border_title = Text(f"images ({len(paths)})")
        images.set_names([p.name for p in paths])  # highlights 0 → ImageList.Selected
        self.current = 0
        images.focus()
        self.call_after_refresh(self.scan_images)

    # ------------------------------------------------------------------ workers
    # Thin wrappers: the work itself is in advtui.tui.jobs (plain functions, no App).

    @work(thread=True, exclusive=True, exit_on_error=False, group="scan")
    def scan_images(self) -> None:
        jobs.scan_folder(
            [e.path for e in self.entries],
            self.config.input_size or DEFAULT_DISPLAY_SIZE,
            lambda: self.current,
            self.post_message,
            get_current_worker().cancelled_event,
        )

    @work(thread=True, exclusive=True, exit_on_error=False, group="model")
    def load_model(self) -> None:
        try:
            model = load_model_cached(self.config)
        except Exception as exc:  # noqa: BLE001
            self.post_message(msg.ModelFailed(one_line(exc)))
            return
        self.post_message(msg.ModelReady(model))

    @work(thread=True, exclusive=True, exit_on_error=False, group="background")
    def prepare_explainer(self, model: Any) -> None:
        """Check that SHAP can run here (layer, background), warm it up, load the detector."""
        try:
            explainer = self.explainers.get(model, None, self.settings.seed)
        except Exception as exc:  # noqa: BLE001
            self.post_message(msg.ExplainerFailed(one_line(exc)))
            return
        detector, note = None, ""
        if self.config.detector:
            detector, note = jobs.load_detector(self.config.detector)
        self.post_message(msg.ExplainerReady(explainer, detector, note))

    @work(thread=True, exclusive=True, exit_on_error=False, group="predict")
    def predict(self, path: Path) -> None:
        try:
            from advtui.images import load_tensor

            model = self.model
            top5 = model.topk(load_tensor(path, model.input_size)[None], 5)[0]
        except Exception:  # noqa: BLE001 - a file that fails is already marked by the scan
            return
        self.post_message(msg.Predicted(str(path), model.name, top5))

    @work(thread=True, exclusive=True, exit_on_error=False, group="attack")
    def run_job(self, job: Job, path: Path, settings: AttackSettings, explain: bool) -> None:
        jobs.attack_and_explain(
            job,
            path,
            settings,
            model=self.model,
            cached=self.outcomes.get(job.key),
            explain=explain,
            explainer_ready=self.explainer_ready,
            explainer_error=lambda: self.explainer_error,
            explainers=self.explainers,
            nsamples=self.config.nsamples,
            detector=self.detector,
            post=self.post_message,
            stop=get_current_worker().cancelled_event,
        )

    @work(thread=True, exclusive=True, exit_on_error=False, group="save")
    def save(self, outcome: Any, folder: Path, key: tuple | None = None) -> None:
        try:
            from advtui.pipeline import save_outcome

            files = save_outcome(outcome, folder)
        except Exception as exc:  # noqa: BLE001
            self.post_message(msg.SaveFailed(one_line(exc)))
            return
        self.post_message(msg.Saved(str(folder), [str(f) for f in files], key))

    # ------------------------------------------------------------------ messages

    @on(ImageList.Selected)
    def _selected(self, event: ImageList.Selected) -> None:
        self.current = event.index
        self._maybe_predict()
        self.refresh_view()

    def on_image_scanned(self, message: msg.ImageScanned) -> None:
        if not 0 <= message.index < len(self.entries):
            return
        entry = self.entries[message.index]
        entry.image, entry.error = message.image, message.error
        self._update_mark(message.index)
        if message.index == self.current:
            self.refresh_view()

    def on_model_ready(self, message: msg.ModelReady) -> None:
        self.model = message.model
        self.prepare_explainer(self.model)
        self._maybe_predict()
        self.refresh_view()

    def on_model_failed(self, message: msg.ModelFailed) -> None:
        self.model_error = message.message
        self.explainer_error = "no model"
        self.explainer_ready.set()
        self.say(message.message, title="model", severity="error", timeout=15)
        self.refresh_view()

    def on_explainer_ready(self, message: msg.ExplainerReady) -> None:
        self.explainer, self.detector = message.explainer, message.detector
        self.explainer_ready.set()
        if message.note:
            self.say(message.note, title="detector", severity="warning", timeout=10)
        if self.detector is not None:
            self._check_detector_params()
        self.refresh_view()

    def _check_detector_params(self) -> None:
        """Warn when SHAP here runs under other settings than the detector was fitted on."""
        params = getattr(self.detector, "params", None) or {}
        fitted = params.get("fixed", params)
        here = {
            "model": self.model.name if self.model is not None else self.config.model,
            "layer": self.config.layer,
            "nsamples": self.config.nsamples,
            "local_smoothing": self.config.local_smoothing,
        }
        differ = [
            f"{k} {fitted[k]!r} (here {v!r})"
            for k, v in here.items()
            if k in fitted and fitted[k] != v
        ]
        if differ:
            self.say(
                "the detector was fitted with " + ", ".join(differ) + "; its verdicts may be off",
                title="detector",
                severity="warning",
                timeout=12,
            )

    def on_explainer_failed(self, message: msg.ExplainerFailed) -> None:
        self.explainer_error = message.message
        self.explainer_ready.set()
        self.say(f"SHAP unavailable: {message.message}", title="SHAP", severity="error")
        self.refresh_view()

    def on_predicted(self, message: msg.Predicted) -> None:
        self.predictions[(message.path, message.model)] = message.top5
        entry = self.current_entry
        if entry is not None and str(entry.path) == message.path:
            self.refresh_view()

    def on_job_progress(self, message: msg.JobProgress) -> None:
        if self.job is not None and self.job.id == message.job:
            self.job.label, self.job.done, self.job.total = (
                message.label,
                message.done,
                message.total,
            )
            self.update_status()

    def on_job_done(self, message: msg.JobDone) -> None:
        self.outcomes[message.key] = message.outcome
        if message.verdicts:
            self.verdicts[message.key] = message.verdicts
        index = self._index_of(message.key[0])
        if index is not None:
            self._update_mark(index)
        o = message.outcome
        if message.final and self.job is not None and self.job.id == message.job:
            self.job = None
        if message.key == self.current_key:
            self._set_event(message.key, result_summary(o))
        elif message.final:  # the user moved on: say so, but not in this image's status
            self.say(f"{Path(o.image).name}: {result_summary(o)}", title="finished")
        self.refresh_view()

    def on_job_failed(self, message: msg.JobFailed) -> None:
        if self.job is not None and self.job.id == message.job:
            self._set_event(self.job.key, message.message)
            self.job = None
            if not message.cancelled:
                self.say(message.message, title="job failed", severity="error", timeout=10)
        self.refresh_view()

    def on_saved(self, message: msg.Saved) -> None:
        self.saving = False
        self.say(f"saved {len(message.files)} files to {message.folder}", title="saved")
        self._set_event(message.key, f"saved to {message.folder}")
        self.refresh_view()

    def on_notice(self, message: msg.Notice) -> None:
        self.say(message.message, title=message.title, severity=message.severity, timeout=10)

    def on_save_failed(self, message: msg.SaveFailed) -> None:
        self.saving = False
        self.say(message.message, title="error", severity="error", timeout=10)
        self.refresh_view()

    def _set_event(self, key: tuple | None, text: str) -> None:
        self.last_event, self.last_event_key = text, key

    @property
    def current_event(self) -> str:
        """The last event if it is about the current image and settings, else ``""``."""
        if self.last_event_key is None or self.last_event_key != self.current_key:
            return ""
        return self.last_event

    def say(
        self,
        message: str,
        *,
        title: str = "",
        severity: str = "information",
        timeout: float | None = None,
    ) -> None:
        """A notification; file names, labels and error texts are escaped, never markup."""
        self.notify(escape(message), title=escape(title), severity=severity, timeout=timeout)

    # ------------------------------------------------------------------ state helpers

    @property
    def current_entry(self) -> Entry | None:
        if self.current is None or not 0 <= self.current < len(self.entries):
            return None
        return self.entries[self.current]

    def key_for(self, entry: Entry | None, settings: AttackSettings | None = None) -> tuple | None:
        if entry is None or self.model is None:
            return None
        return (str(entry.path), self.model.name, (settings or self.settings).key())

    @property
    def current_key(self) -> tuple | None:
        return self.key_for(self.current_entry)

    @property
    def current_outcome(self) -> Any:
        key = self.current_key
        return None if key is None else self.outcomes.get(key)

    def _index_of(self, path: str) -> int | None:
        for i, e in enumerate(self.entries):
            if str(e.path) == path:
                return i
        return None

    def _update_mark(self, index: int) -> None:
        entry = self.entries[index]
        if entry.error is not None:
            mark = MARK_FAILED
        elif not entry.scanned:
            return
        else:
            mine = [o for k, o in self.outcomes.items() if k[0] == str(entry.path)]
            if any(o.success for o in mine):
                mark = MARK_ATTACKED
            elif mine:
                mark = MARK_MISSED
            else:
                mark = MARK_PLAIN
        self.query_one(ImageList).set_mark(index, mark)

    def _maybe_predict(self) -> None:
        entry = self.current_entry
        if self.model is None or entry is None or entry.error is not None:
            return
        if (str(entry.path), self.model.name) not in self.predictions:
            self.predict(entry.path)

    # ------------------------------------------------------------------ drawing

    def refresh_view(self) -> None:
        """Push the current image's state into every widget (cheap: renders are cached)."""
        try:
            vm = build_view(self, self._view_cache)
            self._apply_view(vm)
        except Exception as exc:  # noqa: BLE001 - never a traceback on screen
            self.say(one_line(exc), title="display error", severity="error")
        self.update_status()
        self._refresh_bindings()

    def _apply_view(self, vm: ViewModel) -> None:
        main = self.query_one("#main")
        for v in VIEWS:
            main.set_class(v == self.view, f"-view-{v}")
        main.set_class(not vm.has_maps, "-no-maps")
        for wid, panel in vm.panels.items():
            view = self.query_one(f"#{wid}", PixelView)
            view.show(panel.image, panel.message)
            view.border_title = panel.title
        self.query_one("#scale", ColorScale).set_scale(vm.scale)
        self.query_one("#overlay-scale", ColorScale).set_scale(vm.scale)
        self.query_one("#legend-note", Static).update(vm.legend)
        self.query_one(ConfidenceTable).set_rows(
            vm.clean_top5, vm.adv_top5, vm.target_index, vm.confidence_note
        )
        self.query_one("#row-tables").set_class(self.detector is not None, "-detector")
        self.query_one(EvidenceTable).set_columns(
            vm.evidence, vm.evidence_note, detector=self.detector is not None, verdicts=vm.verdicts
        )

    def update_status(self) -> None:
        status = self.query_one(StatusLine)
        text = status_line(self, status.size.width)
        self.status_text = text.plain
        status.update(text)

    def _refresh_bindings(self) -> None:
        """Tell the footer which keys are enabled, only when that changed: the footer rebuilds
        all its key widgets on every ``refresh_bindings`` (a few ms of CSS work each time, on
        every image change and job start/end otherwise)."""
        state = tuple(self.check_action(b.action, ()) for b in self.BINDINGS)
        if state != self._bindings_state:
            self._bindings_state = state
            self.refresh_bindings()

    # ------------------------------------------------------------------ actions

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if len(self.screen_stack) > 1:
            return False  # the help or the class picker is open: its own keys only
        entry = self.current_entry
        usable = entry is not None and entry.error is None and self.model is not None
        if action in ("attack", "explain") and entry is not None and entry.error is not None:
            return True if self.job is None else None  # runs, to say why it cannot
        if action == "attack":
            return True if usable and self.job is None and self.current_outcome is None else None
        if action == "explain":
            outcome = self.current_outcome
            done = outcome is not None and bool(outcome.evidence)
            ok = usable and self.job is None and not done and self.explainer_error is None
            return True if ok else None
        if action == "cancel":
            return True if self.job is not None else None
        if action == "pick_class":
            return True if self.model is not None else None
        if action in ("more_steps", "fewer_steps"):
            return True if not self.settings.single_step else None
        if action == "save":
            return True if self.current_outcome is not None and not self.saving else None
        return True

    def action_next(self) -> None:
        self.query_one(ImageList).action_cursor_down()

    def action_previous(self) -> None:
        self.query_one(ImageList).action_cursor_up()

    def _start_job(self, kind: str, explain: bool) -> None:
        entry, key = self.current_entry, self.current_key
        if entry is not None and entry.error is not None:
            # entry.error starts with the file name: "bad.jpg: not an image …"
            self.say(f"cannot {kind} {entry.error}", title=kind, severity="warning", timeout=6)
            return
        if entry is None or key is None or self.job is not None:
            return
        self._job_ids += 1
        self.job = Job(self._job_ids, kind, self.current, key)
        self._set_event(None, "")
        self.run_job(self.job, entry.path, self.settings, explain)
        self.refresh_view()  # panels say what is running (e.g. SHAP on a cached attack)

    def action_attack(self) -> None:
        self._start_job("attack", explain=False)

    def action_explain(self) -> None:
        self._start_job("explain", explain=True)

    def action_cancel(self) -> None:
        if self.job is None:
            return
        self.workers.cancel_group(self, "attack")
        self._set_event(self.job.key, "cancelled")
        self.job = None
        self.refresh_view()

    def _settings_changed(self, settings: AttackSettings) -> None:
        self.settings = settings
        self.refresh_view()

    def action_cycle_method(self) -> None:
        # the adaptive attack needs a detector to attack: in the cycle only when one is loaded
        methods = METHODS + (("adaptive",) if self.detector is not None else ())
        i = methods.index(self.settings.method) if self.settings.method in methods else -1
        self._settings_changed(self.settings.with_(method=methods[(i + 1) % len(methods)]))

    def action_cycle_target(self) -> None:
        from advtui.attacks import TARGET_MODES

        t = self.settings.target
        i = TARGET_MODES.index(t) if t in TARGET_MODES else -1
        self._settings_changed(
            self.settings.with_(target=TARGET_MODES[(i + 1) % len(TARGET_MODES)])
        )

    def _eps_step(self, delta: int) -> None:
        n = round(self.settings.eps * 255) + delta
        n = min(MAX_EPS_255, max(1, n))
        self._settings_changed(self.settings.with_(eps=n / 255))

    def action_eps_up(self) -> None:
        self._eps_step(+1)

    def action_eps_down(self) -> None:
        self._eps_step(-1)

    def action_more_steps(self) -> None:
        bigger = [s for s in STEP_LADDER if s > self.settings.steps]
        if bigger:
            self._settings_changed(self.settings.with_(steps=bigger[0]))

    def action_fewer_steps(self) -> None:
        smaller = [s for s in STEP_LADDER if s < self.settings.steps]
        if smaller:
            self._settings_changed(self.settings.with_(steps=smaller[-1]))

    def action_cycle_view(self) -> None:
        self.view = VIEWS[(VIEWS.index(self.view) + 1) % len(VIEWS)]
        self.say(f"view: {VIEW_NAMES[self.view]}", timeout=1.5)
        self.refresh_view()

    def action_pick_class(self) -> None:
        if self.model is None:
            return
        t = self.settings.target
        current = int(t) if t.isdigit() else None

        def picked(index: int | None) -> None:
            if index is not None:
                self._settings_changed(self.settings.with_(target=str(index)))

        self.push_screen(ClassPicker(self.model.class_names, current), picked)

    def action_save(self) -> None:
        outcome, entry = self.current_outcome, self.current_entry
        if outcome is None or entry is None:
            return
        s = self.settings
        target = s.target if not s.target.isdigit() else f"class{s.target}"
        steps = s.steps_used
        slug = f"{entry.path.stem}-{s.method}-eps{round(s.eps * 255)}-{steps}steps-{target}"
        self.saving = True
        self.save(outcome, self.config.out_dir / slug, self.current_key)
        self._refresh_bindings()

    def action_help(self) -> None:
        self.push_screen(HelpScreen())

    async def action_quit(self) -> None:
        for group in ("attack", "scan", "predict", "background"):
            self.workers.cancel_group(self, group)
        self.exit(0)
