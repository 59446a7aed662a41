"""The explorer's result cache: an LRU with a byte budget, so a long session stays bounded.

Every attack (and explanation) the explorer runs is kept under its (image, model, settings)
key so that stepping back shows it at once. Kept without bound, a long stay grew by every
result (issue 22: ~0.5 MB an attack, more with maps). :class:`ResultCache` counts the bytes
of each result's arrays and evicts the least recently used results past
:data:`DEFAULT_BUDGET`; a result that was evicted is simply computed again when asked for
(``a`` on it attacks again). The newest result is always kept, whatever its size.

Results are kept compact: the clean and adversarial images are on the 8-bit grid (loaded
photos are; the attack base rounds its result), so all but the :data:`HOT` most recently used
results hold them as uint8 (a quarter of float32's bytes; :func:`pack`), and :meth:`get` turns
them back into the same float tensors bit for bit (:func:`unpack`) — an image off the grid stays
float. The results in use keep one float object, which the pictures' cache recognises.
Stored results drop what feeds nothing more: without a detector the raw attributions are used
by nothing once the evidence and the pixel maps are made, so :meth:`ResultCache.store` drops
them (with a ``--detector`` they stay: they are what its verdicts were computed from); the
images and pixel maps stay (the pictures, ``s`` and ``e`` on a cached attack use them). What each
image's results were (attacked, missed) outlives eviction, so the list's marks do not change.
Textual-free.
"""

from __future__ import annotations

import dataclasses
from collections import OrderedDict
from collections.abc import Iterator
from typing import Any

#: bytes of arrays the cache may hold: ≈ 150 attacks or 60 explained results at 224×224
#: (0.3 MB a packed attack: the clean and adversarial uint8 images; 0.7 MB with its pixel maps)
DEFAULT_BUDGET = 48 * 2**20
#: results kept unpacked (float images), most recently used first: the current one and the
#: one the user just came from
HOT = 2
#: what a result costs beside its arrays (top-5 lists, evidence, settings)
OVERHEAD = 16 * 1024


def _nbytes(value: Any) -> int:
    if value is None:
        return 0
    if hasattr(value, "nbytes") and not callable(value.nbytes):  # numpy
        return int(value.nbytes)
    if hasattr(value, "element_size") and hasattr(value, "numel"):  # torch
        return int(value.element_size() * value.numel())
    if isinstance(value, dict):
        return sum(_nbytes(v) for v in value.values())
    return 0


def outcome_bytes(outcome: Any) -> int:
    """The bytes an outcome's arrays hold (images, maps, attributions) plus :data:`OVERHEAD`."""
    fields = ("x", "x_adv", "maps", "attributions")
    return OVERHEAD + sum(_nbytes(getattr(outcome, f, None)) for f in fields)


_IMAGES = ("x", "x_adv")


def _to_grid(t: Any) -> Any:
    """``t`` as uint8 when it lies exactly on the 8-bit grid (float ``k/255``), else None."""
    import torch

    if not isinstance(t, torch.Tensor) or not t.is_floating_point():
        return None
    u8 = (t * 255.0).round().clamp(0, 255).to(torch.uint8)
    return u8 if torch.equal(_from_grid(u8, t.dtype), t) else None


def _from_grid(u8: Any, dtype: Any) -> Any:
    return u8.to(dtype) / 255.0  # the attack base's own rounding: round(v·255)/255


def pack(outcome: Any) -> tuple[Any, dict]:
    """``outcome`` with its images on the 8-bit grid as uint8, and what :func:`unpack` needs
    ({field: float dtype}); an outcome with nothing to pack comes back as it is."""
    if not dataclasses.is_dataclass(outcome) or isinstance(outcome, type):
        return outcome, {}
    small, dtypes = {}, {}
    for name in _IMAGES:
        value: Any = getattr(outcome, name, None)
        u8 = _to_grid(value)
        if u8 is not None:  # a float tensor, then
            small[name], dtypes[name] = u8, value.dtype
    return (dataclasses.replace(outcome, **small), dtypes) if small else (outcome, {})


def unpack(outcome: Any, dtypes: dict) -> Any:
    """The float outcome :func:`pack` was given (its images equal bit for bit)."""
    if not dtypes:
        return outcome
    big = {name: _from_grid(getattr(outcome, name), dt) for name, dt in dtypes.items()}
    return dataclasses.replace(outcome, **big)


def slim(outcome: Any) -> Any:
    """``outcome`` without its raw attributions."""
    if (
        getattr(outcome, "attributions", None)
        and dataclasses.is_dataclass(outcome)
        and not isinstance(outcome, type)
    ):
        return dataclasses.replace(outcome, attributions={})
    return outcome


class ResultCache:
    """key → outcome, least recently used evicted past ``budget`` bytes (the newest stays)."""

    def __init__(self, budget: int | None = None) -> None:
        self.budget = int(DEFAULT_BUDGET if budget is None else budget)
        self._items: OrderedDict[tuple, Any] = OrderedDict()
        self._sizes: dict[tuple, int] = {}
        self._success: dict[tuple, bool] = {}  # every key ever stored → its result's success
        self._packed: dict[tuple, dict] = {}  # key → unpack's dtypes, for the packed results
        self.bytes = 0
        self.evicted = 0

    def store(self, key: tuple, outcome: Any, *, drop_attributions: bool) -> None:
        """Keep ``outcome`` under ``key``, without its raw attributions if asked (:func:`slim`)."""
        self[key] = slim(outcome) if drop_attributions else outcome

    def __setitem__(self, key: tuple, outcome: Any) -> None:
        if key in self._items:
            self._forget(key)
        self._put(key, outcome)
        self._cool()
        while self.bytes > self.budget and len(self._items) > 1:
            old = next(iter(self._items))
            self._forget(old)
            self.evicted += 1

    def _put(self, key: tuple, outcome: Any, dtypes: dict | None = None) -> None:
        """File ``outcome`` (packed when ``dtypes`` says how) as the most recently used."""
        size = outcome_bytes(outcome)
        self._items[key] = outcome
        self._sizes[key] = size
        if dtypes:
            self._packed[key] = dtypes
        self._success[key] = bool(getattr(outcome, "success", False))
        self.bytes += size

    def _forget(self, key: tuple) -> None:
        self.bytes -= self._sizes.pop(key)
        del self._items[key]
        self._packed.pop(key, None)

    def _cool(self) -> None:
        """Pack the unpacked results past the :data:`HOT` most recently used."""
        for i, key in enumerate(reversed(list(self._items))):
            if i >= HOT and key not in self._packed:
                small, dtypes = pack(self._items[key])
                if dtypes:
                    self._replace(key, small, dtypes)

    def _replace(self, key: tuple, outcome: Any, dtypes: dict) -> None:
        """Swap ``key``'s stored form in place (its position in the LRU order unchanged)."""
        self.bytes -= self._sizes[key]
        self._items[key] = outcome
        self._sizes[key] = outcome_bytes(outcome)
        self.bytes += self._sizes[key]
        if dtypes:
            self._packed[key] = dtypes
        else:
            self._packed.pop(key, None)

    def get(self, key: tuple | None, default: Any = None) -> Any:
        """The result under ``key`` (now the most recently used), or ``default``; its images
        are float tensors (a packed result is unpacked once and kept so while it is in use)."""
        if key is None or key not in self._items:
            return default
        self._items.move_to_end(key)
        dtypes = self._packed.get(key)
        if dtypes:
            self._replace(key, unpack(self._items[key], dtypes), {})
            self._cool()
        return self._items[key]

    def __getitem__(self, key: tuple) -> Any:
        if key not in self._items:
            raise KeyError(key)
        return self.get(key)

    def __contains__(self, key: object) -> bool:
        return key in self._items

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[tuple]:
        return iter(list(self._items))

    def items(self) -> list[tuple[tuple, Any]]:
        """(key, outcome) of every result held now, oldest first (no reordering), as stored:
        a packed result's ``x``/``x_adv`` are uint8 — for its float images, :meth:`get` it."""
        return list(self._items.items())

    def values(self) -> list[Any]:
        """Every result held now, as stored (see :meth:`items`)."""
        return list(self._items.values())

    def successes(self, path: str) -> list[bool]:
        """Whether each result ever stored for image ``path`` succeeded (evicted ones too)."""
        return [ok for k, ok in self._success.items() if k[0] == path]


def give_back_memory() -> None:
    """Return the C heap's free memory to the OS (glibc ``malloc_trim``; elsewhere nothing).

    An attack or SHAP job allocates and frees hundreds of MB of tensors in its worker thread.
    glibc keeps freed memory in per-thread arenas and raises its mmap threshold after large
    frees, so each new worker thread's job left its working set resident: RSS climbed by a
    job's working set per new arena, to 3.4 GB in a long session. Trimming after each job
    keeps RSS near what one job needs."""
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        trim = libc.malloc_trim
    except (OSError, AttributeError):
        return
    trim(0)


def bound_the_heap() -> None:
    """Make glibc serve every allocation of 1 MB or more with its own mapping (returned to the
    OS when freed) and keep at most two arenas, for the rest of the process: a job's big
    tensors then never stay resident after it (see :func:`give_back_memory`). Nothing where
    the C library is not glibc."""
    import ctypes
    import ctypes.util

    m_mmap_threshold, m_arena_max = -3, -8  # glibc's mallopt parameter numbers
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return
    mallopt(m_mmap_threshold, 1 << 20)
    mallopt(m_arena_max, 2)
