"""An ``advtui eval`` output folder, read for browsing: lazy rows, columns, scores, views.

:func:`open_run` reads the small files (run.json, summary.json, progress.json,
oof_scores.npz) and nothing of results.jsonl; :meth:`RunIndex.scan` then indexes
results.jsonl in batches (byte offsets of its lines and a few numeric columns per row, a few
dozen bytes a row), so a 50,000-row run opens as fast as a 100-row one and its memory stays
bounded: a row's full JSON is read from its offset when it is shown (:meth:`RunIndex.row`,
an LRU). Sorting and filtering work on the columns and the out-of-fold scores
(:mod:`advtui.eval.scores`).

Torch-free and Textual-free: the explorer's results view (``advtui OUT``) is built on it.
"""

from __future__ import annotations

import json
import math
import threading
import time
from array import array
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from advtui.errors import AdvtuiError
from advtui.names import safe_name

RESULTS = "results.jsonl"
RUN_JSON = "run.json"
SUMMARY = "summary.json"
PROGRESS = "progress.json"
POOLED = "pooled"
#: What marks a folder as an eval output folder.
MARKERS = (RESULTS, RUN_JSON, SUMMARY)
#: results.jsonl is indexed 64 kB first (a screen of rows at once), then in growing chunks.
FIRST_CHUNK = 1 << 16
MAX_CHUNK = 1 << 20
#: Seconds the indexing thread sleeps after each chunk it reports: parsing JSON holds the
#: GIL, and the explorer's UI thread needs it to paint the rows already indexed.
YIELD = 0.005
#: Filters of the verdict column (the focused detector's).
VERDICTS = ("all rows", "missed only", "false alarms only")


class RunError(AdvtuiError):
    """The folder is not a readable eval run."""


def is_run_folder(path: str | Path) -> bool:
    """Whether ``path`` is a folder holding results.jsonl, run.json or summary.json."""
    p = Path(path)
    try:
        return p.is_dir() and any((p / m).is_file() for m in MARKERS)
    except OSError:
        return False


def _read_json(path: Path) -> tuple[dict | None, str | None]:
    if not path.exists():
        return None, None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        return None, f"{path.name}: unreadable ({type(exc).__name__})"
    return (data, None) if isinstance(data, dict) else (None, f"{path.name}: not an object")


class _Codes:
    """Strings as small ints (variants, views, ε texts): one list, one dict."""

    def __init__(self) -> None:
        self.names: list[str] = []
        self._index: dict[str, int] = {}

    def code(self, name: str | None) -> int:
        if name is None:
            return -1
        i = self._index.get(name)
        if i is None:
            i = self._index[name] = len(self.names)
            self.names.append(name)
        return i


#: Numeric columns kept per row: name → array typecode.
COLUMNS = {
    "variant": "i",
    "view": "i",
    "eps": "i",  # code of eps_255 (-1: clean)
    "position": "i",
    "success": "b",  # -1: not an attack row
    "ok": "b",  # status ok
    "pred": "i",
    "conf": "d",
    "clean_conf": "d",
    "mean_shap": "d",
}


@dataclass
class RunIndex:
    """One run folder; rows are indexed by :meth:`scan` (in a worker), read by :meth:`row`."""

    folder: Path
    params: dict = field(default_factory=dict)
    summary: dict | None = None
    progress: dict | None = None
    problems: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.path = self.folder / RESULTS
        self._offsets = array("q")
        self.cols: dict[str, array[Any]] = {k: array(t) for k, t in COLUMNS.items()}
        self.variants, self.views, self.eps_codes = _Codes(), _Codes(), _Codes()
        self.bad_lines: list[int] = []
        #: class index → name, as the rows name them (pred_label, target_label)
        self.class_names: dict[int, str] = {}
        self.scanned_bytes = 0
        self.complete = False
        self.partial = False
        self._lock = threading.Lock()
        self._scan_lock = threading.Lock()
        self._cache: OrderedDict[int, dict] = OrderedDict()
        self._blocks: list | None = None  # oof_scores.npz, read after the first rows

    @property
    def scores_loaded(self) -> bool:
        return self._blocks is not None

    @property
    def blocks(self) -> list:
        """The out-of-fold score blocks (:class:`advtui.eval.scores.Block`), read on first use
        ([] without oof_scores.npz; a damaged one adds a line to ``problems``)."""
        if self._blocks is None:
            from advtui.eval.scores import ScoresError, read_scores

            try:
                blocks = read_scores(self.folder)
            except ScoresError as exc:
                blocks = []
                self.problems.append(str(exc))
            self._blocks = blocks
        return self._blocks

    # ------------------------------------------------------------------ what the run is
    @property
    def fixed(self) -> dict:
        return dict(self.params.get("fixed") or {})

    @property
    def state(self) -> str:
        """``finished``, ``running`` (progress.json says so), or ``no summary yet``."""
        running = (self.progress or {}).get("state") == "running"
        if running:
            return "running"
        return "finished" if self.summary is not None else "no summary yet"

    @property
    def modes(self) -> list[str]:
        targets = self.params.get("targets") or []
        return [str(t) for t in targets] or [v for v in self.variants.names if v != "clean"]

    @property
    def eps_list(self) -> list[str]:
        return [str(e) for e in self.params.get("eps") or []] or list(self.eps_codes.names)

    @property
    def primary_eps(self) -> str | None:
        p = self.params.get("primary_eps")
        return str(p) if p else (self.eps_list[0] if self.eps_list else None)

    @property
    def detectors(self) -> list[str]:
        """The detectors with scores ([] until they are read: :attr:`blocks`)."""
        names: list[str] = []
        for b in self._blocks or []:
            names += [d for d in b.detectors if d not in names]
        return names

    def block(self, eps: str | None, variant: str):
        for b in self.blocks:
            if b.eps == eps and b.variant == variant:
                return b
        return None

    # ------------------------------------------------------------------ rows
    def __len__(self) -> int:
        return len(self._offsets)

    def scan(
        self,
        stop: threading.Event | None = None,
        progress: Callable[[int, int], None] | None = None,
        chunk: int = FIRST_CHUNK,
    ) -> None:
        """Index results.jsonl from where the last scan stopped: offsets and columns, a
        ``chunk`` of bytes first (the first screen of rows), four times more each time up
        to :data:`MAX_CHUNK`; ``progress(bytes done, bytes total)`` after each. A
        partial last line (a run still writing) waits for the next scan; a line that is not
        a row is counted in :attr:`bad_lines` and shown as unreadable."""
        with self._scan_lock:  # one scan at a time (a reload while one runs waits for it)
            self._scan(stop, progress, chunk)

    def _scan(self, stop, progress, chunk: int) -> None:
        try:
            size = self.path.stat().st_size
        except OSError as exc:
            raise RunError(f"{safe_name(self.path)}: {exc.strerror or 'unreadable'}") from None
        with open(self.path, "rb") as fh:
            fh.seek(self.scanned_bytes)
            while self.scanned_bytes < size and not (stop is not None and stop.is_set()):
                data = fh.read(min(chunk, size - self.scanned_bytes))
                if not data:
                    break
                end = data.rfind(b"\n") + 1
                if end == 0:  # no full line in this chunk
                    if len(data) < chunk:
                        break  # the partial last line of a running run
                    chunk *= 2
                    fh.seek(self.scanned_bytes)
                    continue
                self._index_lines(data[:end], self.scanned_bytes)
                self.scanned_bytes += end
                chunk = min(MAX_CHUNK, max(chunk, 4 * chunk))
                fh.seek(self.scanned_bytes)
                if progress is not None:
                    progress(self.scanned_bytes, size)
                    time.sleep(YIELD)  # the UI thread takes the GIL and paints what we have
                stopped = stop is not None and stop.is_set()
                if not self.scores_loaded and not stopped:  # the first rows are on their way
                    self.blocks  # noqa: B018 - reads them
        # done: every complete line indexed (a partial last line is a row still being written)
        self.complete = not (stop is not None and stop.is_set())
        self.partial = self.scanned_bytes < size and self.complete

    def _index_lines(self, data: bytes, base: int) -> None:
        start = 0
        rows: list[tuple[int, dict | None]] = []
        for line in data.split(b"\n")[:-1]:
            try:
                row = json.loads(line)
                if not isinstance(row, dict) or "variant" not in row:
                    raise ValueError
            except ValueError:
                row = None
            rows.append((base + start, row))
            start += len(line) + 1
        with self._lock:
            c = self.cols
            for off, row in rows:
                if row is None:
                    self.bad_lines.append(len(self._offsets))
                    row = {}
                self._offsets.append(off)
                c["variant"].append(self.variants.code(str(row.get("variant", "?"))))
                c["view"].append(self.views.code(str(row.get("view", "?"))))
                c["eps"].append(self.eps_codes.code(row.get("eps_255")))
                c["position"].append(_int(row.get("position"), -1))
                succ = row.get("success")
                c["success"].append(-1 if succ is None else int(bool(succ)))
                c["ok"].append(int(row.get("status") == "ok"))
                c["pred"].append(_int(row.get("pred"), -1))
                c["conf"].append(_num(row.get("confidence")))
                c["clean_conf"].append(_num(row.get("clean_confidence")))
                c["mean_shap"].append(_num((row.get("evidence") or {}).get("mean_shap")))
                for k, name in (("pred", "pred_label"), ("target", "target_label")):
                    if isinstance(row.get(k), int) and row.get(name):
                        self.class_names.setdefault(row[k], str(row[name]))

    def row(self, i: int) -> dict:
        """Row ``i`` (line ``i`` of results.jsonl) parsed; ``{}`` for a line that is not a row."""
        with self._lock:
            hit = self._cache.get(i)
            if hit is not None:
                self._cache.move_to_end(i)
                return hit
            start = self._offsets[i]
            end = self._offsets[i + 1] if i + 1 < len(self._offsets) else self.scanned_bytes
        with open(self.path, "rb") as fh:
            fh.seek(start)
            line = fh.read(end - start)
        try:
            row = json.loads(line)
            row = row if isinstance(row, dict) else {}
        except ValueError:
            row = {}
        with self._lock:
            self._cache[i] = row
            if len(self._cache) > 512:
                self._cache.popitem(last=False)
        return row

    def column(self, name: str) -> np.ndarray:
        """A numeric column of the rows indexed so far (a copy)."""
        with self._lock:
            return np.array(self.cols[name], dtype=np.float64 if COLUMNS[name] == "d" else np.int64)

    # ------------------------------------------------------------------ scores
    def scores(self, mode: str | None, eps: str | None) -> tuple[np.ndarray, np.ndarray]:
        """(scores, caught) of shape (rows, detectors): each adversarial row's out-of-fold
        scores from its own ε's block of ``mode`` (None: all modes pooled); clean rows' from
        block (``eps`` or the primary ε, ``mode``). NaN / -1 where a row was not scored;
        caught 1/0 at the detector's 5 %-FPR threshold."""
        n, dets = len(self), self.detectors if self.scores_loaded else []
        score = np.full((n, len(dets)), np.nan)
        caught = np.full((n, len(dets)), -1, dtype=np.int8)
        variant = mode or POOLED
        clean_eps = eps or self.primary_eps
        for b in self._blocks or []:
            if b.variant != variant:
                continue
            cols = [dets.index(d) for d in b.detectors]
            keep = b.y == 1 if b.eps != clean_eps else np.ones(len(b.y), bool)
            keep &= (b.line >= 0) & (b.line < n)
            lines = b.line[keep]
            score[np.ix_(lines, cols)] = b.score[keep]
            got = b.caught()[keep].astype(np.int8)
            got[~np.isfinite(b.score[keep])] = -1
            caught[np.ix_(lines, cols)] = got
        return score, caught

    def labels(self) -> dict[str, list[str]]:
        """The code lists of the string columns."""
        return {
            "variant": list(self.variants.names),
            "view": list(self.views.names),
            "eps": list(self.eps_codes.names),
        }


def _int(v, default: int) -> int:
    try:
        return int(v)
    except (TypeError, ValueError):
        return default


def _num(v) -> float:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return math.nan
    return f


def open_run(folder: str | Path) -> RunIndex:
    """The run in ``folder``: its small files read, results.jsonl not yet indexed (call
    :meth:`RunIndex.scan`). Raises RunError when the folder holds no results.jsonl; damaged
    small files are listed in ``problems`` (one line each) and the rest still opens."""
    p = Path(folder).expanduser()
    if not is_run_folder(p):
        raise RunError(f"{safe_name(p)}: not an advtui eval output folder (no {RESULTS})")
    if not (p / RESULTS).is_file():
        raise RunError(f"{safe_name(p)}: no {RESULTS} yet (the run has written no row)")
    run = RunIndex(p)
    params, why = _read_json(p / RUN_JSON)
    run.params = params or {}
    run.problems += [why] if why else []
    run.summary, why = _read_json(p / SUMMARY)
    run.problems += [why] if why else []
    run.progress, _ = _read_json(p / PROGRESS)
    return run


def view_order(
    run: RunIndex,
    score: np.ndarray,
    caught: np.ndarray,
    *,
    mode: str | None = None,
    eps: str | None = None,
    detector: int = 0,
    verdict: str = VERDICTS[0],
    sort: str = "row",
    descending: bool = False,
) -> np.ndarray:
    """The row indices to show, filtered (target mode and its clean rows; ε; the focused
    ``detector``'s verdict: missed = a scored adversarial row it did not catch, false alarm =
    a scored clean row it flagged) and sorted by ``sort`` (a column, ``row``, ``photo`` or
    ``score:N``); NaN last either way, ties in file order."""
    n = min(len(run), len(score))
    idx = np.arange(n)
    var = run.column("variant")[:n]
    names = run.variants.names
    clean = np.asarray([v == "clean" for v in names] + [False], dtype=bool)[var]
    keep = np.ones(n, bool)
    if mode is not None:
        keep &= clean | (var == (names.index(mode) if mode in names else -2))
    if eps is not None:
        code = run.eps_codes.names.index(eps) if eps in run.eps_codes.names else -2
        keep &= clean | (run.column("eps")[:n] == code)
    if verdict != VERDICTS[0] and caught.shape[1]:
        got = caught[:n, detector]
        keep &= (~clean & (got == 0)) if verdict == VERDICTS[1] else (clean & (got == 1))
    idx = idx[keep]
    if sort == "row":
        key = idx.astype(np.float64)
    elif sort == "photo":
        key = run.column("position")[idx] * 1000.0 + run.column("view")[idx]
    elif sort.startswith("score:"):
        key = score[idx, int(sort[6:])]
    else:
        key = run.column(sort)[idx].astype(np.float64)
    key = np.where(np.isfinite(key), -key if descending else key, np.inf)
    return idx[np.argsort(key, kind="stable")]


def photo_folder(run_folder: str | Path) -> Path:
    """The folder a run's photos came from (run.json ``folder``, relative to where eval ran,
    or to the run folder's parent); the run folder itself when it is not found."""
    run = Path(run_folder).expanduser()
    params, _ = _read_json(run / RUN_JSON)
    folder = str((params or {}).get("folder") or "")
    if folder:
        for cand in (Path(folder).expanduser(), run.parent / folder):
            try:
                if cand.is_dir():
                    return cand
            except OSError:
                continue
    return run
