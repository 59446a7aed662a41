"""The paper's detector, fitted and saved: sorted SHAP values → logistic regression.

The fitted logistic regression is saved as JSON (coefficients, scaler mean/scale, feature
spec, the parameters it was fitted under) — never a pickle — and :func:`load_detector`
reads it back for the TUI's live verdict and the adaptive attack. A :class:`SavedDetector` is
a finished model that scores attributions; the registry's detectors
(:class:`advtui.detect.base.Detector`) are what eval fits and cross-validates.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from advtui.detect.cv import check_rows, make_classifier
from advtui.detect.features import FEATURE_KIND, N_QUANTILES, sorted_features
from advtui.errors import DetectorError
from advtui.names import json_safe

DETECTOR_FILE = "detector.json"
DETECTOR_FORMAT = 1


# ----------------------------------------------------------------------------- saved detector


@dataclass
class SavedDetector:
    """A fitted logistic regression on standardised sorted-attribution quantiles.

    ``score(attribution)`` = sigmoid(w · (f − mean)/scale + b) with ``f`` =
    :func:`sorted_features` of the attribution; ``params`` records what it was fitted under
    (model, layer, nsamples, protocol, …) so a caller can warn on a mismatch.
    """

    coef: np.ndarray
    intercept: float
    mean: np.ndarray
    scale: np.ndarray
    n_quantiles: int = N_QUANTILES
    params: dict = field(default_factory=dict)

    def score_features(self, features: np.ndarray) -> np.ndarray:
        """P(adversarial) for feature rows (N, n_quantiles) or one row."""
        f = np.asarray(features, dtype=np.float64)
        single = f.ndim == 1
        f = np.atleast_2d(f)
        if f.shape[1] != len(self.coef):
            raise DetectorError(f"expected {len(self.coef)} features per row, got {f.shape[1]}")
        z = ((f - self.mean) / self.scale) @ self.coef + self.intercept
        p = 0.5 * (1.0 + np.tanh(0.5 * z))  # a sigmoid that cannot overflow
        return p[0] if single else p

    def score(self, attribution: np.ndarray) -> float:
        """Probability that the image whose top-class attribution (C, h, w) this is was attacked."""
        return float(self.score_features(sorted_features(attribution, self.n_quantiles)))

    def to_dict(self) -> dict:
        return {
            "format": DETECTOR_FORMAT,
            "kind": "logistic-regression",
            "features": {"kind": FEATURE_KIND, "n_quantiles": self.n_quantiles},
            "coef": [float(v) for v in self.coef],
            "intercept": float(self.intercept),
            "scaler": {
                "mean": [float(v) for v in self.mean],
                "scale": [float(v) for v in self.scale],
            },
            "params": self.params,
        }

    def save(self, folder: str | os.PathLike[str]) -> Path:
        from advtui.images import atomic_write_bytes

        path = Path(folder) / DETECTOR_FILE
        atomic_write_bytes(path, (json.dumps(json_safe(self.to_dict()), indent=1) + "\n").encode())
        return path


def fit_detector(X: np.ndarray, y: np.ndarray, params: dict | None = None) -> SavedDetector:
    """Fit the saved detector (standardise + balanced logistic regression) on all rows."""
    X, y = check_rows(X, y)
    if len(np.unique(y)) < 2:
        raise DetectorError("need both clean and adversarial rows to fit a detector")
    pipe = make_classifier("lr", 0).fit(X, y)
    scaler, lr = pipe[0], pipe[-1]
    return SavedDetector(
        coef=lr.coef_[0].astype(np.float64),
        intercept=float(lr.intercept_[0]),
        mean=scaler.mean_.astype(np.float64),
        scale=scaler.scale_.astype(np.float64),
        n_quantiles=X.shape[1],
        params=dict(params or {}),
    )


def load_detector(dir_path: str | os.PathLike[str]) -> SavedDetector:
    """Read ``DIR/detector.json`` (or the file itself); DetectorError with a one-line reason."""
    p = Path(dir_path).expanduser()
    path = p / DETECTOR_FILE if p.is_dir() else p
    if not path.exists():
        raise DetectorError(f"{path}: no detector here (run `advtui eval FOLDER --out {p}` first)")
    try:
        d = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DetectorError(f"{path}: unreadable detector ({type(exc).__name__})") from None
    try:
        if d.get("format") != DETECTOR_FORMAT or d["features"]["kind"] != FEATURE_KIND:
            raise DetectorError(f"{path}: unsupported detector format")
        n = int(d["features"]["n_quantiles"])
        coef = np.asarray(d["coef"], dtype=np.float64)
        mean = np.asarray(d["scaler"]["mean"], dtype=np.float64)
        scale = np.asarray(d["scaler"]["scale"], dtype=np.float64)
        intercept = float(d["intercept"])
        params = dict(d.get("params") or {})
    except DetectorError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError):
        raise DetectorError(f"{path}: malformed detector (missing or bad fields)") from None
    if not (len(coef) == len(mean) == len(scale) == n) or n < 1:
        raise DetectorError(f"{path}: malformed detector (coefficient lengths disagree)")
    if not (np.isfinite(coef).all() and np.isfinite(mean).all() and np.isfinite(intercept)):
        raise DetectorError(f"{path}: malformed detector (non-finite values)")
    if not (np.isfinite(scale).all() and (scale > 0).all()):
        raise DetectorError(f"{path}: malformed detector (scale must be positive)")
    return SavedDetector(coef, intercept, mean, scale, n, params)
