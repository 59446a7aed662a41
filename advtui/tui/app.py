"""The terminal explorer: browse a folder, attack from the keyboard, look at SHAP evidence.

The App wires keys, workers and messages to the explorer's state (``app.state``, an
:class:`~advtui.tui.explorer.ExplorerState` that the view model reads); heavy work (loading the model, attacks, SHAP, saving) runs in
thread workers that call the same core functions as the CLI (``advtui.pipeline``) and post
messages back (``advtui.tui.messages``). Torch and the core are imported inside the workers,
so the first frame does not wait for them.

Results are cached per (image, model, settings key); a job's result is filed under the key it
was started with, so moving to another image while a job runs never shows it on the wrong
image, and stepping back shows it at once.

Why this module is ~1,000 lines: it is one Textual App's bindings, workers and message
handlers, in four floors (layout, workers, messages, actions). What is not wiring lives
elsewhere — the state (``explorer``), the view model (``view``), the jobs (``jobs``), the image
list (``imagelist``), the listing walk (``advtui.walk``), true classes (``truths``) — and
splitting the handlers of one App across mixins would make each floor's ``self`` an
untyped guess.
"""

from __future__ import annotations

import functools
import threading
from collections import OrderedDict, deque
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.markup import escape
from rich.text import Text
from textual import on, work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.notifications import SeverityLevel
from textual.widgets import Footer, Static
from textual.worker import Worker, get_current_worker

from advtui import registry, threads
from advtui.names import safe_name
from advtui.settings import METHODS, MODEL_NAMES
from advtui.tui import jobs, torchwork, truths
from advtui.tui import messages as msg
from advtui.tui.explorer import ExplorerState
from advtui.tui.graphics import GraphicsView, choose_graphics, tmux_features, truecolour_hint
from advtui.tui.imagelist import MARK_ATTACKED, MARK_FAILED, MARK_MISSED, MARK_PLAIN, ImageList
from advtui.tui.pixels import PixelView
from advtui.tui.resultcache import bound_the_heap
from advtui.tui.saving import save_folder
from advtui.tui.screens import ClassPicker, HelpScreen
from advtui.tui.state import (
    DECODED_LIMIT,
    DEFAULT_DISPLAY_SIZE,
    MAX_EPS_255,
    NARROW_VIEWS,
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
    ColorScale,
    Column,
    ConfidenceTable,
    EvidenceTable,
    KeyFooter,
    Row,
    StatusLine,
)

if TYPE_CHECKING:
    from advtui.pipeline import AttackSettings

__all__ = ["AdvtuiApp", "TuiConfig"]


def while_running(handler: Callable[[AdvtuiApp, Any], None]) -> Callable[[AdvtuiApp, Any], None]:
    """A worker's message that arrives while the App shuts down is dropped: by then the
    screens are gone, and the handler would fail on a missing widget (a traceback on ``q``
    while a big folder is still being listed)."""

    @functools.wraps(handler)
    def handle(self: AdvtuiApp, message: Any) -> None:
        if self.is_running:
            handler(self, message)

    return handle


class AdvtuiApp(App[int]):
    """``advtui [FOLDER]``: image list, pixel-art views, tables and a status line."""

    CSS_PATH = "advtui.tcss"
    TITLE = "advtui"
    ENABLE_COMMAND_PALETTE = False
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (130, "-wide")]

    BINDINGS = [
        Binding("j,down", "next", "next", show=False),
        Binding("k,up", "previous", "previous", show=False),
        # help and quit first: on a narrow footer the keys at the end are cut, and help lists them
        Binding("question_mark", "help", "help", key_display="?"),
        Binding("q", "quit", "quit"),
        Binding("a", "attack", "attack"),
        Binding("e", "explain", "explain"),
        Binding("x", "cycle_explainer", "explainer", show=False),
        Binding("v", "cycle_view", "view"),
        Binding("m", "cycle_method", "method"),
        Binding("t", "cycle_target", "target"),
        Binding("c", "pick_class", "class"),
        Binding("plus,equals_sign", "eps_up", "ε up", show=False, key_display="+"),
        Binding("minus", "eps_down", "ε down", show=False, key_display="-"),
        Binding("right_square_bracket", "more_steps", "more steps", show=False, key_display="]"),
        Binding("left_square_bracket", "fewer_steps", "fewer steps", show=False, key_display="["),
        Binding("s", "save", "save"),
        Binding("b", "eps_grid", "ε grid"),
        Binding("w", "wrong_only", "misclassified only", show=False),
        Binding("r", "results", "results", show=False),  # an eval run's rows (tui/results.py)
        Binding("escape", "cancel", "cancel", key_display="esc"),
        Binding("ctrl+c", "quit", "quit", show=False, priority=True),  # as any terminal program
    ]

    def __init__(self, config: TuiConfig | None = None) -> None:
        super().__init__()
        self.config = config if config is not None else TuiConfig()
        # before the App runs: textual-image asks the terminal while it still can
        self.graphics = choose_graphics(self.config.graphics)
        self.colour_hint: str | None = None  # the truecolour hint, once shown
        #: what the view shows (advtui.tui.explorer): the actions and handlers below change it
        self.state = ExplorerState.start(self.config)
        self.state.no_color = bool(self.no_color)
        self.explainer_ready = threading.Event()
        bound_the_heap()  # a job's freed tensors go back to the OS (advtui.tui.resultcache)
        self._job_ids = 0
        self._view_cache: dict[tuple, Any] = {}
        #: (title, message) of the latest notifications, as shown (newest last)
        self.notices: deque[tuple[str, str]] = deque(maxlen=100)
        self.explainers = jobs.ExplainerCache(
            self.config,
            note=self._background_note,
        )
        self._recheck_pending = False  # a timer will look at the listing again
        self._bindings_state: tuple | None = None  # check_action per binding, last pushed
        # the listing: metadata for every file, decoded crops only in an LRU near the cursor
        self.listing = jobs.Listing()
        self._decoded: OrderedDict[int, None] = OrderedDict()
        self._paths: dict[str, int] = {}
        self._wake_loader = threading.Event()
        self._loader: Worker | None = None
        self._exiting = False
        self._labels_said: tuple | None = None  # what labelling left out, told once
        self._list_done: bool | None = None  # the list's title: None before the first batch
        self.results_screen: Any = None  # the eval run's rows, kept while the app runs

    # ------------------------------------------------------------------ layout

    def compose(self) -> ComposeResult:
        with Row(id="body"):
            yield ImageList(id="images")
            with Column(id="main", classes="-view-side"):
                with Row(id="row-images"):
                    yield self._picture("p-clean", "loading…")
                    yield self._picture("p-adv", "loading model…")
                    yield self._picture("p-pert")
                with Row(id="row-heat"):
                    yield self._picture("p-shap-clean")
                    yield self._picture("p-shap-adv")
                    with Vertical(id="legend"):
                        yield ColorScale(id="scale")
                        yield Static(id="legend-note")
                yield ColorScale(id="overlay-scale")
                with Row(id="row-tables"):
                    yield ConfidenceTable(id="confidence")
                    yield EvidenceTable(id="evidence")
        yield StatusLine(id="status")
        yield KeyFooter(keep=("help", "cancel"))  # help lists the keys left out

    def _picture(self, id: str, message: str = "") -> PixelView:
        if self.graphics.mode == "halfblock":
            return PixelView(id=id, message=message)
        return GraphicsView(
            self.graphics.mode, id=id, message=message, passthrough=self.graphics.passthrough
        )

    @property
    def display_text(self) -> str:
        """How pictures are drawn, for the help screen: ``half-blocks, 256 colours dithered
        (auto: tmux passes no graphics)``."""
        depth = {"truecolor": "truecolour", "256": "256 colours, dithered"}.get(
            self.console.color_system or "", "16 colours, dithered"
        )
        if self.graphics.mode != "halfblock":
            return f"{self.graphics.label} ({self.graphics.reason})"
        return f"{self.graphics.label}, {depth} ({self.graphics.reason})"

    def on_mount(self) -> None:
        # breakpoints are otherwise applied on the first Resize, after the first frame
        narrow = self.size.width < self.HORIZONTAL_BREAKPOINTS[1][0]
        self.screen.set_class(narrow, "-narrow")
        self.screen.set_class(not narrow, "-wide")
        self._fit_static_titles()
        self.query_one(Footer).compact = narrow
        self._open_folder()
        self.update_status()
        # start the heavy imports (torch, the model) once the first frame is on screen
        self.call_after_refresh(self.load_model)
        self.call_after_refresh(self.check_colours)
        if self.config.run is not None:  # `advtui OUT`: the run's rows first
            self.call_after_refresh(self.action_results)

    @work(thread=True, exclusive=True, exit_on_error=False, group="colours")
    def check_colours(self) -> None:
        """Once per session: at 256/16 colours, say how to get truecolour (tmux is asked)."""
        system = self.console.color_system
        if system not in ("256", "standard"):
            if self.graphics.hint:  # truecolour, in tmux that blocks graphics: say how
                self.post_message(
                    msg.Notice(self.graphics.hint, title="colours", severity="information")
                )
            return
        dithered = self.graphics.mode == "halfblock"
        hint = truecolour_hint(system, features=tmux_features(), dithered=dithered)
        if hint and self.graphics.hint:
            hint = f"{hint} {self.graphics.hint}"
        if hint:
            self.post_message(msg.Notice(hint, title="colours", severity="information"))

    #: Static border titles, longest first: each box shows the longest that fits.
    def _static_titles(self) -> dict[str, tuple[str, ...]]:
        """Each panel's title, longest first: the widest that fits is shown."""
        label = self.state.explainer_label
        return {
            "#confidence": ("confidence (top-5)", "top-5"),
            "#evidence": (f"{label} evidence (top class)", f"{label} evidence", "evidence"),
            "#legend": (f"{label} colour scale", "colour scale", "scale"),
        }

    def _fit_static_titles(self) -> None:
        for selector, variants in self._static_titles().items():
            box = self.query_one(selector)
            room = box.outer_size.width - 6 if box.outer_size.width else 10**6
            box.border_title = next((v for v in variants if len(v) <= room), variants[-1])
        if self.state.detector is not None and self.config.detector:
            from advtui.names import safe_name

            box = self.query_one(EvidenceTable)
            room = box.outer_size.width - 6 if box.outer_size.width else 10**6
            where = safe_name(self.config.detector)
            variants = (
                f"P(adversarial) by the SHAP-LR detector from {where}",
                "P(adversarial) by the SHAP-LR detector",
                "SHAP-LR detector",
            )
            fits = next((v for v in variants if len(v) <= room), variants[-1])
            box.border_subtitle = Text(fits)  # a Text: the folder name is never markup

    def on_resize(self) -> None:
        self.query_one(Footer).compact = self.size.width < self.HORIZONTAL_BREAKPOINTS[1][0]
        self.call_after_refresh(self._fit_static_titles)
        self.call_after_refresh(self.update_status)
        self.call_after_refresh(self._update_list_title)

    def _open_folder(self) -> None:
        """Start the walk; the list fills in as it proceeds (the first frame does not wait)."""
        images = self.query_one(ImageList)
        images.border_title = Text("images (listing…)")
        images.set_items(self.state.entries)
        images.focus()
        self.list_images()

    @while_running
    def on_list_grew(self, message: msg.ListGrew) -> None:
        found, skipped, more = self.listing.take()
        images = self.query_one(ImageList)
        if found:
            start = len(self.state.entries)
            self.state.entries.extend(found)
            for i, e in enumerate(found, start):
                self._paths[e.key] = i
            images.grew()
            self._select_initial(start)
        if skipped:
            shown = "; ".join(skipped[:3]) + (
                f" (+{len(skipped) - 3} more)" if len(skipped) > 3 else ""
            )
            self.say(shown, title="skipped", severity="warning", timeout=8)
        if more:
            self.post_message(msg.ListGrew())
            return
        done = self.listing.done or self.listing.error is not None
        self._update_list_title(done)
        if not done and not self._recheck_pending:
            # the walk posts only when a file arrives: on a stalled folder (a slow network
            # mount) the files found so far still show, checked again shortly (one timer)
            self._recheck_pending = True
            self.set_timer(4 * jobs.Listing.INTERVAL, self._recheck_listing)
        if done and not self.state.listed:
            self.state.listed = True
            self._walk_finished()

    def _recheck_listing(self) -> None:
        self._recheck_pending = False
        self.post_message(msg.ListGrew())

    def _select_initial(self, start: int) -> None:
        """Select the first image, or the one named on the command line once it is listed."""
        want = self.config.select
        images = self.query_one(ImageList)
        if want is not None and images.highlighted is None:
            index = self._paths.get(str(want))
            if index is None and start == 0:
                index = next((i for i, e in enumerate(self.state.entries) if e.path == want), None)
            if index is not None:
                images.highlighted = index
        elif want is None and images.highlighted is None and self.state.entries:
            images.highlighted = 0
        self._want_near()

    def _walk_finished(self) -> None:
        error = self.listing.error
        images = self.query_one(ImageList)
        if images.highlighted is None and self.state.entries:  # the file to select was not listed
            images.highlighted = 0
        if not self.state.entries:
            from advtui.images import IMAGE_EXTENSIONS

            where = self.config.list_file or self.config.folder
            self.state.folder_error = error or (
                f"{where}: no images found (looked for {', '.join(sorted(IMAGE_EXTENSIONS))})"
            )
            self.say(self.state.folder_error, title="folder", severity="error", timeout=10)
            self.refresh_view()
            return
        if error:
            self.say(error, title="folder", severity="error", timeout=10)
        self._resolve_truths()

    def _class_names(self) -> tuple[str, ...] | None:
        """The model's class names; before it has loaded, those of the built-in model it will
        be (every built-in model is ImageNet-1k), so an ImageNet tree shows its true classes as
        soon as it is listed. None for a model file until it has loaded."""
        if self.state.model is not None:
            return tuple(self.state.model.class_names)
        if self.config.classifier is None and self.config.model in MODEL_NAMES:
            from advtui.imagenet import imagenet_classes

            return imagenet_classes()
        return None

    def _resolve_truths(self) -> None:
        """True classes (:mod:`advtui.labels`, eval's rule: ``--labels``, WordNet-id class
        folders, file names that start with a WordNet id) and ✓/✗ for the images the model
        has predicted; needs the walk finished and the class names (run again when the model
        has loaded: its names are the ones that count)."""
        from advtui.labels import unmapped_message

        names = self._class_names()
        if not self.state.listed or names is None:
            return
        report = truths.apply_labels(self.state.entries, names, self.state.labels)
        for e in self.state.entries:
            self._set_verdict(e)
        if self.state.model is not None:  # the model's classes decide: say what is left out, once
            lines = report.lines("no true class")
            given = self.config.labels is not None  # read, or being read: it may name them
            unmapped = None if given else unmapped_message(report, len(names))
            said = (tuple(lines), unmapped)
            if said != self._labels_said:
                self._labels_said = said
                for line in lines:
                    self.say(line, title="labels", severity="warning", timeout=10)
                if unmapped:
                    self.say(unmapped, title="classes", severity="warning", timeout=10)
        self.query_one(ImageList).refresh_all()
        self._update_list_title()
        self.call_after_refresh(self._update_list_title)  # the list widens for its classes

    def _set_verdict(self, entry: Entry) -> None:
        if entry.label is None or self.state.model is None:
            return
        entry.verdict = truths.verdict(
            entry.label, self.state.predictions.get((str(entry.path), self.state.model.name))
        )

    def _update_list_title(self, done: bool | None = None) -> None:
        """``images (N)``, and the running top-1 / top-5 accuracy of what has been predicted
        (the longest title that fits the list's border)."""
        images = self.query_one(ImageList)
        if done is not None:
            self._list_done = done
        elif self._list_done is None:
            return  # nothing listed yet: the title still says "listing…"
        done = self._list_done
        count = f"{len(self.state.entries):,}{'' if done else '…'}"
        score = (0, 0, 0)
        if self.state.model is not None:
            score = truths.accuracy(
                self.state.entries, self._paths, self.state.predictions, self.state.model.name
            )
        images.set_title_variants(truths.list_titles(count, score))

    def _want_near(self) -> None:
        """Tell the loader what the user looks at now (current image, rows on screen)."""
        self._wanted = (self.state.current, self.query_one(ImageList).visible_items())
        self._wake_loader.set()
        if self._loader is None or self._loader.is_finished:
            self._loader = self.load_images()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        # a loader that ended just as it was asked for more: start another one
        if event.worker is self._loader and event.worker.is_finished:
            if self._wake_loader.is_set() and not self._exiting:
                self._loader = self.load_images()

    # ------------------------------------------------------------------ workers
    # Thin wrappers: the work itself is in advtui.tui.jobs (plain functions, no App).

    @work(thread=True, exclusive=True, exit_on_error=False, group="list")
    def list_images(self) -> None:
        jobs.list_images(
            self.config, self.listing, self.post_message, get_current_worker().cancelled_event
        )

    @work(thread=True, exclusive=True, exit_on_error=False, group="scan")
    def load_images(self) -> None:
        jobs.load_near(
            self.state.entries,
            lambda: getattr(self, "_wanted", (None, [])),
            lambda: self.state.job is not None,
            self._wake_loader,
            self.config.input_size or DEFAULT_DISPLAY_SIZE,
            self.post_message,
            get_current_worker().cancelled_event,
        )

    @work(thread=True, exclusive=True, exit_on_error=False, group="model")
    def load_model(self) -> None:
        try:
            model = torchwork.run(load_model_cached, self.config)
        except Exception as exc:  # noqa: BLE001
            self.post_message(msg.ModelFailed(one_line(exc)))
            return
        self.post_message(msg.ModelReady(model))
        if self.config.labels is not None:
            try:
                from advtui.labels import read_labels

                labels = read_labels(self.config.labels, model.class_names)
            except Exception as exc:  # noqa: BLE001
                self.post_message(msg.LabelsRead(None, one_line(exc)))
                return
            self.post_message(msg.LabelsRead(labels))

    @work(thread=True, exclusive=True, exit_on_error=False, group="background")
    def prepare_explainer(self, model: Any, load_detector: bool = True) -> None:
        """Check that the explainer can run here (layer, background), warm it up, load the
        detector (``load_detector=False``: keep the loaded one — the explainer was cycled)."""
        worker = get_current_worker()
        try:
            # a tree's root may hold no images itself: warm up on the current image's folder
            entry = self.state.current_entry
            image = entry.path if entry is not None and self.config.background is None else None
            explainer = torchwork.run(
                self.explainers.get,
                model,
                image,
                self.state.settings.seed,
                self.state.explainer_name,
            )
        except Exception as exc:  # noqa: BLE001
            if not worker.is_cancelled:  # else x was pressed again: a newer check is running
                self.post_message(msg.ExplainerFailed(one_line(exc)))
            return
        if worker.is_cancelled:
            return
        detector, note = (None, "") if load_detector else (self.state.detector, "")
        if load_detector and self.config.detector:
            detector, note = jobs.load_detector(self.config.detector)
        self.post_message(msg.ExplainerReady(explainer, detector, note))

    @work(thread=True, exclusive=True, exit_on_error=False, group="predict")
    def predict(self, path: Path) -> None:
        try:
            from advtui.images import load_tensor

            model = self.state.model
            if model is None:
                return
            top5 = torchwork.run(lambda: model.topk(load_tensor(path, model.load_size)[None], 5)[0])
        except Exception:  # noqa: BLE001 - a file that fails is already marked by the scan
            return
        self.post_message(msg.Predicted(str(path), model.name, top5))

    @work(thread=True, exclusive=True, exit_on_error=False, group="attack")
    def run_job(self, job: Job, path: Path, settings: AttackSettings, explain: bool) -> None:
        jobs.attack_and_explain(
            job,
            path,
            settings,
            model=self.state.model,
            cached=self.state.outcomes.get(job.key),
            explain=explain,
            explainer_ready=self.explainer_ready,
            explainer_error=lambda: self.state.explainer_error,
            explainers=self.explainers,
            nsamples=self.config.nsamples,
            detector=self.state.detector,
            post=self.post_message,
            stop=get_current_worker().cancelled_event,
            explainer=self.state.explainer_name,
        )

    @work(thread=True, exclusive=True, exit_on_error=False, group="save")
    def save(self, outcome: Any, folder: Path, key: tuple | None = None) -> None:
        try:
            from advtui.pipeline import save_outcome

            files = torchwork.run(save_outcome, outcome, folder)
        except Exception as exc:  # noqa: BLE001
            self.post_message(msg.SaveFailed(one_line(exc)))
            return
        self.post_message(msg.Saved(str(folder), [str(f) for f in files], key))

    # ------------------------------------------------------------------ messages

    @on(ImageList.Selected)
    def _selected(self, event: ImageList.Selected) -> None:
        self.state.current = event.index
        if event.index in self._decoded:
            self._decoded.move_to_end(event.index)
        self._want_near()
        self._maybe_predict()
        self.refresh_view()

    @while_running
    def on_image_scanned(self, message: msg.ImageScanned) -> None:
        if not 0 <= message.index < len(self.state.entries):
            return
        entry = self.state.entries[message.index]
        entry.image, entry.error = message.image, message.error
        entry.checked = message.error is None
        if message.image is not None:  # an LRU of decoded crops; metadata for the rest
            self._decoded[message.index] = None
            self._decoded.move_to_end(message.index)
            while len(self._decoded) > DECODED_LIMIT:
                old, _ = self._decoded.popitem(last=False)
                if old == self.state.current:
                    self._decoded[old] = None
                    continue
                self.state.entries[old].image = None
        self._update_mark(message.index)
        if message.index == self.state.current:
            self.refresh_view()

    @on(ImageList.Viewed)
    def _viewed(self) -> None:
        self._want_near()

    @while_running
    def on_model_ready(self, message: msg.ModelReady) -> None:
        # torch is imported now: this (UI) thread's tensor ops run serially, so that no idle
        # OpenMP team of its own slows the workers' attacks and explanations (advtui.threads)
        threads.keep_this_thread_serial()
        self.state.model = message.model
        self.prepare_explainer(self.state.model)
        self._resolve_truths()
        self._maybe_predict()
        self.refresh_view()

    @while_running
    def on_model_failed(self, message: msg.ModelFailed) -> None:
        self.state.model_error = message.message
        self.state.explainer_error = "no model"
        self.explainer_ready.set()
        self.say(message.message, title="model", severity="error", timeout=15)
        self.refresh_view()

    @while_running
    def on_explainer_ready(self, message: msg.ExplainerReady) -> None:
        self.state.explainer, self.state.detector = message.explainer, message.detector
        self.explainer_ready.set()
        if message.note:
            self.say(message.note, title="detector", severity="warning", timeout=10)
        if self.state.detector is not None:
            self._check_detector_params()
        self._fit_static_titles()
        self.refresh_view()

    def _check_detector_params(self) -> None:
        """Warn when SHAP here runs under other settings than the detector was fitted on."""
        params = getattr(self.state.detector, "params", None) or {}
        fitted = params.get("fixed", params)
        here = {
            "explainer": self.state.explainer_name,
            "model": self.state.model.name if self.state.model is not None else self.config.model,
            "layer": self.config.layer,
            "nsamples": self.config.nsamples,
            "local_smoothing": self.config.local_smoothing,
        }
        flags = {
            "model": "--model",
            "layer": "--layer",
            "nsamples": "--nsamples",
            "local_smoothing": "--local-smoothing",
        }
        flags["explainer"] = "--explainer"
        fitted = {"explainer": "shap"} | fitted  # runs before --explainer were SHAP
        differ = [k for k, v in here.items() if k in fitted and fitted[k] != v]
        if differ:

            def flag(k: str) -> str:
                value = fitted[k]
                return f"without {flags[k]}" if value is None else f"{flags[k]} {value}"

            fitted_with = ", ".join(f"{flag(k)} (here {here[k]})" for k in differ)
            restart = " ".join(flag(k) for k in differ if fitted[k] is not None)
            fix = f"restart with {restart}" if restart else "restart " + fitted_with
            self.say(
                f"the detector was fitted with {fitted_with}: {fix} for calibrated verdicts",
                title="detector",
                severity="warning",
                timeout=12,
            )

    @while_running
    def on_explainer_failed(self, message: msg.ExplainerFailed) -> None:
        self.state.explainer_error = message.message
        self.explainer_ready.set()
        label = self.state.explainer_label
        self.say(f"{label} unavailable: {message.message}", title=label, severity="error")
        self.refresh_view()

    @while_running
    def on_labels_read(self, message: msg.LabelsRead) -> None:
        if message.error:
            self.say(message.error, title="labels", severity="error", timeout=10)
            return
        self.state.labels = message.labels
        self._resolve_truths()

    @while_running
    def on_predicted(self, message: msg.Predicted) -> None:
        self.state.predictions[(message.path, message.model)] = message.top5
        index = self._paths.get(message.path)
        if index is not None and self.state.entries[index].label is not None:
            self._set_verdict(self.state.entries[index])
            self.query_one(ImageList).verdict_changed(index)
            self._update_list_title()
        entry = self.state.current_entry
        if entry is not None and str(entry.path) == message.path:
            self.refresh_view()

    @while_running
    def on_job_progress(self, message: msg.JobProgress) -> None:
        if self.state.job is not None and self.state.job.id == message.job:
            same_line = self.state.job.label == message.label  # a step more of one bar
            self.state.job.label, self.state.job.done, self.state.job.total = (
                message.label,
                message.done,
                message.total,
            )
            # a running job's line is fitted to the width (status_line): a step of its bar
            # never changes the line's height, so no layout pass (a reflow of the whole
            # screen per step cost the attack on the torch thread ~20 % in CPU and GIL)
            self.update_status(layout=not same_line)

    @while_running
    def on_job_done(self, message: msg.JobDone) -> None:
        self.call_after_refresh(self._want_near)  # the job is over: read ahead again
        # without a detector the raw attributions feed nothing more: not kept
        self.state.outcomes.store(
            message.key, message.outcome, drop_attributions=self.state.detector is None
        )
        if message.verdicts:
            self.state.verdicts[message.key] = message.verdicts
        index = self._index_of(message.key[0])
        if index is not None:
            self._update_mark(index)
        o = message.outcome
        if message.final and self.state.job is not None and self.state.job.id == message.job:
            self.state.job = None
        if message.key == self.state.current_key:
            self.state.set_event(message.key, result_summary(o))
        elif message.final:  # the user moved on: say so, but not in this image's status
            self.say(f"{Path(o.image).name}: {result_summary(o)}", title="finished")
        self.refresh_view()

    @while_running
    def on_job_failed(self, message: msg.JobFailed) -> None:
        self.call_after_refresh(self._want_near)  # the job is over: read ahead again
        if self.state.job is not None and self.state.job.id == message.job:
            self.state.set_event(self.state.job.key, message.message)
            self.state.job = None
            if not message.cancelled:
                self.say(message.message, title="job failed", severity="error", timeout=10)
        self.refresh_view()

    @while_running
    def on_saved(self, message: msg.Saved) -> None:
        self.state.saving = False
        self.say(f"saved {len(message.files)} files to {message.folder}", title="saved")
        self.state.set_event(message.key, f"saved to {message.folder}")
        self.refresh_view()

    @while_running
    def on_notice(self, message: msg.Notice) -> None:
        timeout = 10
        if message.title == "colours":
            if self.colour_hint is not None:
                return  # once per session
            self.colour_hint, timeout = message.message, 20
        self.say(message.message, title=message.title, severity=message.severity, timeout=timeout)

    @while_running
    def on_save_failed(self, message: msg.SaveFailed) -> None:
        self.state.saving = False
        self.say(message.message, title="error", severity="error", timeout=10)
        self.refresh_view()

    def _background_note(self, line: str) -> None:
        """Which background files SHAP skipped (one line, from the explainer's thread)."""
        self.post_message(msg.Notice(line, title="SHAP background"))

    def say(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
    ) -> None:
        """A notification; file names, labels and error texts are data: control characters
        escaped (:func:`advtui.names.safe_name`: no terminal escape sequence, no OSC 52), and
        never markup."""
        shown, heading = escape(safe_name(message)), escape(safe_name(title))
        self.notices.append((heading, shown))
        self.notify(shown, title=heading, severity=severity, timeout=timeout)

    # ------------------------------------------------------------------ state helpers

    def _index_of(self, path: str) -> int | None:
        return self._paths.get(path)

    def _update_mark(self, index: int) -> None:
        entry = self.state.entries[index]
        if entry.error is not None:
            mark = MARK_FAILED
        elif not entry.scanned:
            return
        else:
            mine = self.state.outcomes.successes(str(entry.path))  # evicted results too
            if any(mine):
                mark = MARK_ATTACKED
            elif mine:
                mark = MARK_MISSED
            else:
                mark = MARK_PLAIN
        self.query_one(ImageList).set_mark(index, mark)

    def _maybe_predict(self) -> None:
        entry = self.state.current_entry
        if self.state.model is None or entry is None or entry.error is not None:
            return
        if (str(entry.path), self.state.model.name) not in self.state.predictions:
            self.predict(entry.path)

    # ------------------------------------------------------------------ drawing

    def refresh_view(self) -> None:
        """Push the current image's state into every widget (cheap: renders are cached)."""
        try:
            vm = build_view(self.state, self._view_cache)
            self._apply_view(vm)
        except Exception as exc:  # noqa: BLE001 - never a traceback on screen
            self.say(one_line(exc), title="display error", severity="error")
        self.update_status()
        self._refresh_bindings()

    def _apply_view(self, vm: ViewModel) -> None:
        main = self.query_one("#main")
        for v in NARROW_VIEWS:
            main.set_class(v == self.state.view, f"-view-{v}")
        main.set_class(not vm.has_maps, "-no-maps")
        for wid, panel in vm.panels.items():
            view = self.query_one(f"#{wid}", PixelView)
            view.show(panel.image, panel.message)
            view.set_titles(panel.titles)
        self.query_one("#scale", ColorScale).set_scale(vm.scale)
        self.query_one("#overlay-scale", ColorScale).set_scale(vm.scale)
        self.query_one("#legend-note", Static).update(vm.legend)
        self.query_one(ConfidenceTable).set_rows(
            vm.clean_top5, vm.adv_top5, vm.target_index, vm.confidence_note
        )
        self.query_one("#row-tables").set_class(self.state.detector is not None, "-detector")
        self.query_one(EvidenceTable).set_columns(
            vm.evidence,
            vm.evidence_note,
            detector=self.state.detector is not None,
            verdicts=vm.verdicts,
            headers=vm.evidence_headers,
            placeholders=vm.evidence_placeholders,
        )

    def update_status(self, layout: bool = True) -> None:
        status = self.query_one(StatusLine)
        text = status_line(self.state, status.content_size.width or self.size.width - 2)
        self.state.status_text = text.plain
        status.update(text, layout=layout)

    def _refresh_bindings(self) -> None:
        """Tell the footer which keys are enabled, only when that changed: the footer rebuilds
        all its key widgets on every ``refresh_bindings`` (a few ms of CSS work each time, on
        every image change and job start/end otherwise)."""
        state = tuple(
            self.check_action(b.action, ()) for b in self.BINDINGS if isinstance(b, Binding)
        )
        if state != self._bindings_state:
            self._bindings_state = state
            self.refresh_bindings()

    # ------------------------------------------------------------------ actions

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if len(self.screen_stack) > 1:
            return False  # the help or the class picker is open: its own keys only
        entry = self.state.current_entry
        usable = entry is not None and entry.error is None and self.state.model is not None
        if action in ("attack", "explain") and entry is not None and entry.error is not None:
            return True if self.state.job is None else None  # runs, to say why it cannot
        if action == "attack":
            return (
                True
                if usable and self.state.job is None and self.state.current_outcome is None
                else None
            )
        if action == "explain":
            outcome = self.state.current_outcome
            done = (
                outcome is not None
                and bool(outcome.evidence)
                and (outcome.explainer or "shap") == self.state.explainer_name
            )
            ok = (
                usable
                and self.state.job is None
                and not done
                and self.state.explainer_error is None
            )
            return True if ok else None
        if action == "cancel":
            return True if self.state.job is not None else None
        if action == "pick_class":
            return True if self.state.model is not None else None
        if action in ("more_steps", "fewer_steps"):
            return True if not self.state.settings.single_step else None
        if action == "save":
            return (
                True if self.state.current_outcome is not None and not self.state.saving else None
            )
        if action == "eps_grid":  # an attack without ε runs it too, to say why there is no grid
            return True if usable and self.state.job is None else None
        return True

    def action_next(self) -> None:
        self.query_one(ImageList).action_cursor_down()

    def action_previous(self) -> None:
        self.query_one(ImageList).action_cursor_up()

    def _start_job(self, kind: str, explain: bool) -> None:
        entry, key = self.state.current_entry, self.state.current_key
        if entry is not None and entry.error is not None:
            # entry.error starts with the file name: "bad.jpg: not an image …"
            self.say(f"cannot {kind} {entry.error}", title=kind, severity="warning", timeout=6)
            return
        if entry is None or key is None or self.state.job is not None or self.state.current is None:
            return
        self._job_ids += 1
        self.state.job = Job(self._job_ids, kind, self.state.current, key)
        self.state.set_event(None, "")
        self.run_job(self.state.job, entry.path, self.state.settings, explain)
        self.refresh_view()  # panels say what is running (e.g. SHAP on a cached attack)

    def action_attack(self) -> None:
        self._start_job("attack", explain=False)

    def action_explain(self) -> None:
        self._start_job("explain", explain=True)

    def action_cancel(self) -> None:
        if self.state.job is None:
            return
        self.workers.cancel_group(self, "attack")
        self.state.set_event(self.state.job.key, "cancelled")
        self.state.job = None
        self.refresh_view()

    def _settings_changed(self, settings: AttackSettings) -> None:
        self.state.settings = settings
        self.refresh_view()

    def action_cycle_method(self) -> None:
        # the adaptive attack needs a detector to attack: in the cycle only when one is loaded
        methods = tuple(self.config.methods or METHODS) + (
            (registry.detector_attack(),) if self.state.detector is not None else ()
        )
        i = (
            methods.index(self.state.settings.method)
            if self.state.settings.method in methods
            else -1
        )
        self._settings_changed(self.state.settings.with_(method=methods[(i + 1) % len(methods)]))

    def _explainer_titles(self) -> None:
        self._fit_static_titles()

    def action_cycle_explainer(self) -> None:
        """Next explainer of the registry; ``e`` then explains with it (maps already made keep
        their method's name until then)."""
        names = list(registry.EXPLAINERS)
        i = names.index(self.state.explainer_name) if self.state.explainer_name in names else -1
        self.state.explainer_name = names[(i + 1) % len(names)]
        self._explainer_titles()
        self.say(f"explainer: {self.state.explainer_label}", timeout=1.5)
        if self.state.model is not None:  # check it can run here; say so if not
            self.explainer_ready.clear()
            self.state.explainer_error = None
            self.prepare_explainer(self.state.model, load_detector=False)
        self.refresh_view()

    def action_cycle_target(self) -> None:
        from advtui.attacks import TARGET_MODES

        t = self.state.settings.target
        i = TARGET_MODES.index(t) if t in TARGET_MODES else -1
        self._settings_changed(
            self.state.settings.with_(target=TARGET_MODES[(i + 1) % len(TARGET_MODES)])
        )

    def _eps_step(self, delta: int) -> None:
        n = round(self.state.settings.eps * 255) + delta
        n = min(MAX_EPS_255, max(0, n))  # 0 = no attack, as --eps 0 (advtui.settings)
        self._settings_changed(self.state.settings.with_(eps=n / 255))

    def action_eps_up(self) -> None:
        self._eps_step(+1)

    def action_eps_down(self) -> None:
        self._eps_step(-1)

    def action_more_steps(self) -> None:
        bigger = [s for s in STEP_LADDER if s > self.state.settings.steps]
        if bigger:
            self._settings_changed(self.state.settings.with_(steps=bigger[0]))

    def action_fewer_steps(self) -> None:
        smaller = [s for s in STEP_LADDER if s < self.state.settings.steps]
        if smaller:
            self._settings_changed(self.state.settings.with_(steps=smaller[-1]))

    @property
    def narrow(self) -> bool:
        return self.screen.has_class("-narrow")

    def action_cycle_view(self) -> None:
        views = NARROW_VIEWS if self.narrow else VIEWS
        current = views.index(self.state.view) if self.state.view in views else 0
        self.state.view = views[(current + 1) % len(views)]
        self.say(f"view: {VIEW_NAMES[self.state.view]}", timeout=1.5)
        self.refresh_view()

    def action_pick_class(self) -> None:
        if self.state.model is None:
            return
        t = self.state.settings.target
        current = int(t) if t.isdigit() else None

        def picked(index: int | None) -> None:
            if index is not None:
                self._settings_changed(self.state.settings.with_(target=str(index)))

        self.push_screen(ClassPicker(self.state.model.class_names, current), picked)

    def action_save(self) -> None:
        outcome, entry = self.state.current_outcome, self.state.current_entry
        if outcome is None or entry is None:
            return
        s = self.state.settings
        target = s.target if not s.target.isdigit() else f"class{s.target}"
        steps = s.steps_used
        slug = f"{s.method}-eps{round(s.eps * 255)}-{steps}steps-{target}"
        self.state.saving = True  # a folder of its own: unique per path, bounded, never reused
        self.save(
            outcome, save_folder(self.config.out_dir, entry.path, slug), self.state.current_key
        )
        self._refresh_bindings()

    def action_eps_grid(self) -> None:
        """``b``: the current image attacked at a row of budgets (advtui.tui.gridscreen)."""
        from advtui.tui.gridscreen import open_grid

        open_grid(self)

    def action_wrong_only(self) -> None:
        """Show only the misclassified images (✗: predicted, top-1 not the true class), or all
        of them again."""
        images = self.query_one(ImageList)
        images.set_wrong_only(not images.wrong_only)
        if images.wrong_only and not any(e.label is not None for e in self.state.entries):
            self.say("no true classes here: nothing to call misclassified", timeout=4)
        elif images.wrong_only and not images.rows:
            self.say("no misclassified image among those predicted yet", timeout=4)

    def action_results(self) -> None:
        from advtui.tui.results import show_results

        show_results(self)

    def use_config_explainer(self) -> None:
        """``config``'s explanation settings changed (an eval row's): explainers built anew."""
        self.explainers = jobs.ExplainerCache(self.config, note=self.explainers.note)
        self.explainer_ready.clear()
        self.state.explainer_error = None
        if self.state.model is not None:
            self.prepare_explainer(self.state.model, load_detector=False)

    def action_help(self) -> None:
        self.push_screen(HelpScreen(self.display_text))

    async def action_quit(self) -> None:
        self._exiting = True
        for group in ("attack", "list", "scan", "predict", "background"):
            self.workers.cancel_group(self, group)
        self.exit(0)
