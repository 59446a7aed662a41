"""The resumable results store of ``advtui eval``.

Layout of the output folder:

* ``results.jsonl`` — one JSON object per (image, variant, ε) row, appended and fsynced a
  complete line at a time. A trailing partial line (a kill mid-write) is cut off on open.
* ``features.bin`` — the rows' feature vectors (float32, fixed width), appended and fsynced
  *before* the row that points at them (``row["f"]`` is the vector's index), so every row
  that exists has its features; vectors no row points at are cut off on open.
* ``features.npz`` — the same vectors with their row metadata, rewritten atomically
  (temp + rename) whenever a run ends, Ctrl-C included; ``--resume`` rebuilds it after a
  kill. This is the file to refit detectors from.
* ``penultimate.bin`` — each feature vector's row also has the model's penultimate features
  (float32, the Mahalanobis detector's input) at the same index, written before the
  attribution features; absent when the model has no final linear layer.
* ``run.json`` — the parameters that produced the rows; ``--resume`` refuses to mix runs
  whose parameters differ in anything that changes a row.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from advtui import registry
from advtui.errors import AdvtuiError
from advtui.eval.rows import Row, RowKey
from advtui.images import atomic_write_bytes
from advtui.names import json_safe

RESULTS = "results.jsonl"
FEATURES_BIN = "features.bin"
FEATURES_NPZ = "features.npz"
PENULTIMATE_BIN = "penultimate.bin"
RUN_JSON = "run.json"


class StoreError(AdvtuiError):
    """The results folder cannot be used (exists without --resume, corrupt, mismatched run)."""


def row_key(row: Row) -> RowKey:
    """What identifies a row: (image, variant, ε as text or None for clean rows)."""
    return (row["image"], row["variant"], row.get("eps_255"))


def _fsync_append(path: Path, data: bytes) -> None:
    try:
        with open(path, "ab") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
    except OSError as exc:
        if exc.filename is None:  # a full disk names no file: name the one being written
            raise OSError(exc.errno, exc.strerror or str(exc), str(path)) from None
        raise


class ResultsStore:
    """Append-only rows + feature vectors, recoverable after a kill at any point."""

    def __init__(
        self,
        folder: str | os.PathLike[str],
        n_features: int,
        params: dict,
        *,
        resume: bool,
        n_penultimate: int = 0,
    ) -> None:
        self.folder = Path(folder)
        self.n_features = int(n_features)
        self.n_penultimate = int(n_penultimate)
        self.penultimate_bin = self.folder / PENULTIMATE_BIN
        self.rows: list[Row] = []
        #: each row's line in results.jsonl (0-based, blank lines counted): the rows are
        #: re-sorted into plan order before the summary, the oof-scores file points at lines
        self.line_of: dict[RowKey, int] = {}
        self._lines = 0
        self.dropped_partial = False
        self.folder.mkdir(parents=True, exist_ok=True)
        self.results = self.folder / RESULTS
        self.bin = self.folder / FEATURES_BIN
        existing = self.results.exists() and self.results.stat().st_size > 0
        if existing and not resume:
            raise StoreError(
                f"{self.folder} already holds {RESULTS}; pass --resume to continue it or choose another --out"
            )
        self._check_params(params, existing)
        if existing:
            self._recover()
        else:
            for p in (self.results, self.bin, self.penultimate_bin):
                p.write_bytes(b"")
        self.done: set[RowKey] = {row_key(r) for r in self.rows}
        self.n_vectors = self.bin.stat().st_size // self._row_bytes

    @property
    def _row_bytes(self) -> int:
        return 4 * self.n_features

    # ------------------------------------------------------------------ open / recover
    def _check_params(self, params: dict, existing: bool) -> None:
        path = self.folder / RUN_JSON
        if existing and path.exists():
            try:
                old = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, json.JSONDecodeError):
                raise StoreError(
                    f"{path}: unreadable; cannot check that --resume continues the same run"
                ) from None
            fixed, now = old.get("fixed", {}), json_safe(params["fixed"])
            diffs = [
                (k, fixed.get(k), now.get(k))
                for k in sorted(set(fixed) | set(now))
                if fixed.get(k) != now.get(k)
            ]
            if diffs:
                raise StoreError(mismatch_message(diffs))
        atomic_write_bytes(path, (json.dumps(json_safe(params), indent=1) + "\n").encode())

    def _recover(self) -> None:
        data = self.results.read_bytes()
        end = data.rfind(b"\n") + 1
        if end < len(data):  # a kill mid-line: drop the partial line
            self.dropped_partial = True
            with open(self.results, "r+b") as fh:
                fh.truncate(end)
                fh.flush()
                os.fsync(fh.fileno())
        for n, line in enumerate(data[:end].splitlines(), 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                row_key(row)
            except (json.JSONDecodeError, KeyError, TypeError):
                raise StoreError(
                    f"{self.results}: line {n} is not a result row; the store is damaged"
                ) from None
            self.rows.append(row)
            self.line_of[row_key(row)] = n - 1
        self._lines = data[:end].count(b"\n")
        used = max((f for r in self.rows if (f := r.get("f")) is not None), default=-1) + 1
        size = self.bin.stat().st_size if self.bin.exists() else 0
        if size < used * self._row_bytes:
            raise StoreError(f"{self.bin}: holds fewer feature vectors than {RESULTS} refers to")
        if size != used * self._row_bytes:  # vectors written before a kill, rows never were
            with open(self.bin, "r+b") as fh:
                fh.truncate(used * self._row_bytes)
                fh.flush()
                os.fsync(fh.fileno())
        if self.n_penultimate:
            width = 4 * self.n_penultimate
            size = self.penultimate_bin.stat().st_size if self.penultimate_bin.exists() else 0
            if size < used * width:
                raise StoreError(
                    f"{self.penultimate_bin}: holds fewer vectors than {RESULTS} refers to"
                )
            if size != used * width:
                with open(self.penultimate_bin, "r+b") as fh:
                    fh.truncate(used * width)
                    fh.flush()
                    os.fsync(fh.fileno())

    # ------------------------------------------------------------------ writing
    def append(
        self, row: Row, features: np.ndarray | None = None, penultimate: np.ndarray | None = None
    ) -> Row:
        """Write ``penultimate`` and ``features`` (if any) then ``row`` durably; returns the
        stored row (``f`` set). A store with ``n_penultimate`` needs ``penultimate`` with every
        vector."""
        row = json_safe(dict(row))
        if features is not None and self.n_penultimate:
            pen = np.asarray(penultimate if penultimate is not None else [], dtype="<f4").ravel()
            if pen.size != self.n_penultimate:
                raise StoreError(
                    f"penultimate vector of {pen.size} values, store expects {self.n_penultimate}"
                )
            _fsync_append(self.penultimate_bin, pen.tobytes())
        if features is not None:
            vec = np.asarray(features, dtype="<f4").ravel()
            if vec.size != self.n_features:
                raise StoreError(
                    f"feature vector of {vec.size} values, store expects {self.n_features}"
                )
            _fsync_append(self.bin, vec.tobytes())
            row["f"] = self.n_vectors
            self.n_vectors += 1
        else:
            row["f"] = None
        line = json.dumps(row, separators=(",", ":"), allow_nan=False) + "\n"
        _fsync_append(self.results, line.encode())
        self.rows.append(row)
        self.line_of[row_key(row)] = self._lines
        self._lines += 1
        self.done.add(row_key(row))
        return row

    # ------------------------------------------------------------------ reading
    def features(self, indices: Iterable[int] | None = None) -> np.ndarray:
        """Feature vectors (memory-mapped file, copied for ``indices``)."""
        if self.n_vectors == 0:
            return np.zeros((0, self.n_features), dtype=np.float32)
        mm = np.memmap(self.bin, dtype="<f4", mode="r", shape=(self.n_vectors, self.n_features))
        if indices is None:
            return np.array(mm, dtype=np.float32)
        return np.array(mm[np.fromiter(indices, dtype=np.int64)], dtype=np.float32)

    def penultimate(self, indices: Iterable[int]) -> np.ndarray | None:
        """Penultimate vectors of feature indices (None if the store keeps none)."""
        if not self.n_penultimate:
            return None
        idx = np.fromiter(indices, dtype=np.int64)
        if self.n_vectors == 0 or len(idx) == 0:
            return np.zeros((len(idx), self.n_penultimate), dtype=np.float32)
        mm = np.memmap(
            self.penultimate_bin,
            dtype="<f4",
            mode="r",
            shape=(self.n_vectors, self.n_penultimate),
        )
        return np.array(mm[idx], dtype=np.float32)

    def _mapped(self, path: Path, width: int) -> np.ndarray:
        """All vectors of ``path`` as a read-only memory map (an empty array when none)."""
        if self.n_vectors == 0:
            return np.zeros((0, width), dtype=np.float32)
        return np.memmap(path, dtype="<f4", mode="r", shape=(self.n_vectors, width))

    def write_npz(self) -> Path:
        """Rewrite ``features.npz`` atomically from the rows that have features."""
        rows = [r for r in self.rows if r.get("f") is not None]
        index = [f for r in rows if (f := r.get("f")) is not None]
        whole = index == list(range(self.n_vectors))  # the usual case: the files as they are
        feats = self._mapped(self.bin, self.n_features) if whole else self.features(index)

        def col(name, dtype, default=np.nan):
            return np.asarray(
                [default if r.get(name) is None else r[name] for r in rows], dtype=dtype
            )

        ev = [r.get("evidence") or {} for r in rows]
        extra: dict[str, Any] = {}
        if self.n_penultimate:
            extra["penultimate"] = (
                self._mapped(self.penultimate_bin, self.n_penultimate)
                if whole
                else self.penultimate(index)
            )
        path = self.folder / FEATURES_NPZ
        # streamed into the temporary file: the run's vectors are in memory once, never also
        # as a compressed copy
        with atomic_file(path) as fh:
            np.savez_compressed(
                fh,
                features=feats,
                row=np.asarray(_positions(self.rows, rows), dtype=np.int64),
                image=np.asarray([r["image"] for r in rows], dtype=str),
                group=np.asarray([r["group"] for r in rows], dtype=str),
                variant=np.asarray([r["variant"] for r in rows], dtype=str),
                eps=col("eps", np.float64),
                adversarial=np.asarray([r["variant"] != "clean" for r in rows], dtype=bool),
                pred=col("pred", np.int64, -1),
                confidence=col("confidence", np.float64),
                logit=col("logit", np.float64),
                mean_shap=np.asarray([e.get("mean_shap", np.nan) for e in ev], dtype=np.float64),
                squeeze=col("squeeze", np.float64),
                **extra,
                quantiles=np.linspace(0.0, 1.0, self.n_features),
            )
        return path


@contextlib.contextmanager
def atomic_file(path: Path) -> Iterator[BinaryIO]:
    """A temporary file beside ``path``, fsynced and renamed onto it when the block ends
    (removed if it raises): :func:`advtui.images.atomic_write_bytes` for a writer that
    streams, so the bytes are never all in memory."""
    import tempfile

    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        with os.fdopen(fd, "w+b") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


#: run.json's fixed params set by a flag: the flag that restores the stored value.
FLAGS = {
    "model": "--model",
    "input_size": "--input-size",
    "method": "--method",
    "attack_args": "--attack-arg",
    "alpha": "--alpha",
    "steps": "--steps",
    "early_stop": "--early-stop",
    "nsamples": "--nsamples",
    "layer": "--layer",
    "local_smoothing": "--local-smoothing",
    "background": "--background",
    "explainer": "--explainer",
    "baseline": "--baseline",
    "noise_std": "--noise-std",
    "views": "--views",
    "seed": "--seed",
    "protocol": "--protocol",
    "labels": "--labels",
    "adaptive_weight": "--adaptive-weight",
    "eot": "--eot",
    "transfer_to": "--transfer-to",
}
#: run.json's fixed params that record a rule of the code, not a flag: a stored run whose
#: rule differs (or that predates it) was written by another advtui version and its rows
#: would not match this version's, so it cannot be continued. Value: what the rule says.
RULES = {
    "random_start": "PGD's random start",
    "background_policy": "the SHAP background",
    "shap_seed": "the SHAP seed",
    "n_quantiles": "the feature length",
    "row_extras": "the per-row detector inputs (squeezing, penultimate features)",
}


def _flag_value(key: str, value) -> str:
    """A stored value as a command-line argument (α as k/255 when a whole number of levels)."""
    if key == "alpha" and isinstance(value, float):
        levels = value * 255
        if abs(levels - round(levels)) < 1e-9:
            return f"{round(levels)}/255"
    return repr(value) if isinstance(value, float) else str(value)


def _arg_text(key: str, value) -> str:
    """A stored ``--attack-arg`` value as its command-line text (a tuple as ``1,2``)."""
    if isinstance(value, (list, tuple)):
        return ",".join(_flag_value(key, v) for v in value)
    return _flag_value(key, value)


def mismatch_message(diffs: list[tuple[str, object, object]]) -> str:
    """One line naming every (param, stored, now) mismatch and the flags that match the stored
    run, or, when a rule of the code changed, that the run cannot be continued."""
    import shlex

    if any(k == "method" for k, _old, _new in diffs):  # PGD ↔ another method: not a rule
        diffs = [d for d in diffs if d[0] != "random_start"]
    listed = ", ".join(f"{k} {old!r} (now {new!r})" for k, old, new in diffs)
    rules = [RULES.get(k, k) for k, _old, _new in diffs if k in RULES or k not in FLAGS]
    if rules:
        return (
            f"--resume: the stored run was written by another advtui version ({', '.join(rules)} "
            f"changed since; {listed}); its rows cannot be continued: use another --out"
        )
    passes, drops = [], []
    for k, old, _new in diffs:
        flag = FLAGS[k]
        if k == "method" and old == registry.SEED_ATTACK:
            continue  # --protocol seed implies its BIM
        if isinstance(old, dict):  # --attack-arg: one flag per stored pair
            passes += [f"{flag} {shlex.quote(f'{a}={_arg_text(a, v)}')}" for a, v in old.items()]
        elif old is None or old is False:
            drops.append(flag)
        elif old is True:
            passes.append(flag)
        else:
            passes.append(f"{flag} {shlex.quote(_flag_value(k, old))}")
    todo = []
    if passes:
        todo.append("pass " + " ".join(passes))
    if drops:
        todo.append("drop " + " ".join(drops))
    return (
        f"--resume: the stored run differs in {listed}; {' and '.join(todo)}, or use another --out"
    )


def _positions(all_rows: list[Row], subset: list[Row]) -> list[int]:
    where = {id(r): i for i, r in enumerate(all_rows)}
    return [where[id(r)] for r in subset]
