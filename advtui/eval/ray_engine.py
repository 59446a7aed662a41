"""The ``--engine ray`` of ``advtui eval``: rows computed by a pool of Ray actors.

Ray Data maps :class:`_RowActor` over the items still to do (``map_batches`` with an
``ActorPoolStrategy``): each actor builds one model from a picklable factory (on the GPU Ray
gives it, with the CPU threads it reserved) and runs :class:`advtui.eval.loop.ImageRows` on
each batch of items, the same code the in-process engine runs. Rows stream back to the driver,
where :func:`advtui.eval.loop.run_eval` — the one writer — appends them to ``results.jsonl``;
so ``--resume``, atomic rows, per-image seeds and the summary are those of a single-process
run (rows arrive in completion order; the summary sorts them into plan order).

Workers report their state (loading, working on which batch, rows done) to a small board
actor that the driver polls for the progress display and ``progress.json``.

Ray is an optional dependency: ``pip install "advtui[ray]"``.
"""

from __future__ import annotations

import logging
import math
import os
import pickle
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from advtui.eval.dataset import EvalError

if TYPE_CHECKING:
    from advtui.eval.config import EvalConfig
    from advtui.eval.dataset import Item
    from advtui.eval.progress import Tracker
    from advtui.eval.rows import RowKey, RowOut

INSTALL_HINT = '--engine ray needs Ray: pip install "advtui[ray]" (or pip install "ray[data]>=2.9")'
#: How often the driver polls the workers' board (seconds).
POLL_EVERY = 0.5


def require_ray():
    """The ``ray`` module with Ray Data, or an :class:`EvalError` saying how to install it."""
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError:
        raise EvalError(INSTALL_HINT) from None
    return ray


@dataclass
class RayEngine:
    """Where and how wide to run.

    ``model_factory`` builds the model inside each actor and must pickle (e.g.
    ``functools.partial(advtui.models.load_model, "resnet50", device="auto")``; a TorchScript
    path works for any model). ``workers`` defaults to one per GPU (``gpus_per_worker`` each)
    or, without GPUs, one per CPU; ``threads`` (torch threads per worker) defaults to the
    cluster's CPUs split between the workers. ``address`` joins an existing cluster
    (``ray://host:10001`` or ``host:6379``); without it a local Ray is started on the CPUs
    this process may use and stopped at the end. ``gpus_per_worker`` None: 1 when the cluster
    has GPUs and ``device`` is not ``cpu``, else 0.
    """

    model_factory: Callable
    workers: int | None = None
    gpus_per_worker: float | None = None
    threads: int | None = None
    address: str | None = None
    device: str = "auto"

    name = "ray"

    def check(self) -> None:
        """Cheap checks before any model is loaded (flags, Ray importable)."""
        if self.workers is not None and self.workers < 1:
            raise EvalError(f"--workers must be at least 1 (got {self.workers})")
        if self.gpus_per_worker is not None and self.gpus_per_worker < 0:
            raise EvalError(f"--gpus-per-worker must be ≥ 0 (got {self.gpus_per_worker})")
        if self.threads is not None and self.threads < 1:
            raise EvalError(f"--threads must be at least 1 (got {self.threads})")
        require_ray()

    # ------------------------------------------------------------------ driver
    def plan(self, resources: dict, node_cpus: float) -> tuple[int, float, int]:
        """(workers, GPUs per worker, threads per worker) for a cluster with ``resources``
        whose largest node has ``node_cpus`` CPUs."""
        gpus, cpus = float(resources.get("GPU", 0)), float(resources.get("CPU", 1))
        g = self.gpus_per_worker
        if g is None:
            g = 1.0 if gpus > 0 and self.device != "cpu" else 0.0
        if g == 0 and self.device == "cuda":
            raise EvalError(
                "--device cuda with --engine ray: the Ray cluster has no GPUs to give the "
                "workers (or --gpus-per-worker is 0)"
            )
        if g > 0 and gpus < g:
            raise EvalError(
                f"--gpus-per-worker {g:g}: the Ray cluster has {gpus:g} GPUs; "
                "use --gpus-per-worker 0 to run on CPUs"
            )
        workers = self.workers
        if workers is None:
            workers = int(gpus // g) if g > 0 else int(cpus // (self.threads or 1))
        workers = max(1, workers)
        threads = self.threads or max(1, int(cpus // workers))
        threads = max(1, min(threads, int(node_cpus) or 1))
        return workers, g, threads

    def rows(
        self,
        model,
        cfg: EvalConfig,
        items: list[Item],
        done: set[RowKey],
        stop: threading.Event | None,
        tracker: Tracker,
    ) -> Iterator[RowOut]:
        """``(row, features, penultimate)`` of ``items`` (those not yet complete), as workers
        finish them."""
        if not items:
            return
        ray = require_ray()
        started = self._connect(ray)
        poller = board = batches = None
        try:
            import ray.data

            _quiet()
            node_cpus = max(
                (n.get("Resources", {}).get("CPU", 0) for n in ray.nodes() if n.get("Alive")),
                default=1,
            )
            workers, gpus, threads = self.plan(ray.cluster_resources(), node_cpus)
            workers = min(workers, math.ceil(len(items) / cfg.batch_size))
            ctx = ray.data.DataContext.get_current()
            ctx.enable_progress_bars = False
            if hasattr(ctx, "print_on_execution_start"):
                ctx.print_on_execution_start = False
            board = _board_class(ray).remote()
            tracker.workers([{"id": i, "state": "starting", "rows": 0} for i in range(workers)])
            from advtui.eval.rowparts import row_id

            done_by_image: dict[str, list[RowKey]] = {}
            for key in done:
                done_by_image.setdefault(key[0], []).append(key)
            records = [
                {
                    "item": pickle.dumps(it),
                    "done": pickle.dumps(done_by_image.get(row_id(it.image), [])),
                }
                for it in items
            ]
            ds = ray.data.from_items(
                records, override_num_blocks=max(1, math.ceil(len(items) / cfg.batch_size))
            )
            remote: dict[str, float] = {"num_cpus": threads}
            if gpus > 0:
                remote["num_gpus"] = gpus
            out = ds.map_batches(
                _RowActor,
                fn_constructor_kwargs={
                    "factory": self.model_factory,
                    "cfg": cfg,
                    "threads": threads,
                    "board": board,
                },
                # explicit: actors that request GPUs need it, and it is the per-device batch
                batch_size=cfg.batch_size,
                compute=ray.data.ActorPoolStrategy(size=workers),
                batch_format="numpy",
                zero_copy_batch=True,
                **remote,
            )
            poller = _Poller(ray, board, tracker, workers)
            poller.start()
            batches = out.iter_batches(batch_size=None, batch_format="numpy")
            for batch in batches:
                for blob in batch["out"]:
                    if stop is not None and stop.is_set():
                        from advtui.errors import Cancelled

                        raise Cancelled()
                    kind, *payload = pickle.loads(blob)
                    if kind == "error":  # a worker's one-line error, not Ray's traceback
                        raise payload[0]
                    yield payload[0], payload[1], payload[2]
            poller.poll()
        finally:
            if poller is not None:
                poller.stop()
            close = getattr(batches, "close", None)
            if close is not None:
                try:
                    close()  # stops the streaming executor and its actor pool
                except Exception:  # noqa: BLE001 - cleanup of a failed run
                    pass
            if board is not None and not started:  # a shared cluster: leave nothing behind
                try:
                    ray.kill(board)
                except Exception:  # noqa: BLE001
                    pass
            if started:
                ray.shutdown()

    def _connect(self, ray) -> bool:
        """Join ``address``, reuse a connected Ray, or start a local one (True: started)."""
        if ray.is_initialized():
            return False
        _quiet()
        common = {"log_to_driver": False, "logging_level": logging.ERROR}
        if self.address:
            try:
                ray.init(address=self.address, **common)
            except Exception as exc:  # noqa: BLE001 - Ray raises many types for a bad address
                msg = " ".join(str(exc).split())[:200]
                raise EvalError(
                    f"--address {self.address}: cannot join the Ray cluster ({msg}); is it up, "
                    "and if it uses token authentication, is RAY_AUTH_MODE=token set here too?"
                ) from None
            return True
        from advtui import threads

        ray.init(num_cpus=threads.available_cpus(), include_dashboard=False, **common)
        return True


def _quiet() -> None:
    """Ray's own notices (token set-up, progress bars off, execution plans) are not the
    user's business here; errors still raise."""
    for name in ("ray", "ray.data"):
        logging.getLogger(name).setLevel(logging.ERROR)


class _Poller(threading.Thread):
    """Copies the workers' board into the tracker every :data:`POLL_EVERY` seconds."""

    def __init__(self, ray, board, tracker, workers: int) -> None:
        super().__init__(name="advtui-ray-poller", daemon=True)
        self.ray, self.board, self.tracker = ray, board, tracker
        self.n = workers
        self.halt = threading.Event()

    def poll(self) -> None:
        try:
            states = self.ray.get(self.board.snapshot.remote(), timeout=5)
        except Exception:  # noqa: BLE001 - a slow board only delays the display
            return
        # actors that have not registered yet (still starting) keep their place
        states += [{"id": i, "state": "starting", "rows": 0} for i in range(len(states), self.n)]
        self.tracker.workers(states)

    def run(self) -> None:
        while not self.halt.wait(POLL_EVERY):
            self.poll()

    def stop(self) -> None:
        self.halt.set()
        self.join(timeout=5)


_BOARD = None


def _board_class(ray):
    """The board actor class (defined lazily: Ray is optional)."""
    global _BOARD
    if _BOARD is None:

        class Board:
            """Worker states, written by the workers, read by the driver."""

            def __init__(self) -> None:
                self.states: dict[int, dict] = {}

            def register(self, info: dict) -> int:
                wid = len(self.states)
                self.states[wid] = {"id": wid, "rows": 0, "state": "starting"} | info
                return wid

            def update(self, wid: int, rows: int = 0, **fields) -> None:
                s = self.states.setdefault(wid, {"id": wid, "rows": 0})
                s["rows"] = s.get("rows", 0) + rows
                s.update(fields)
                s["updated"] = time.time()

            def snapshot(self) -> list[dict]:
                return [dict(self.states[k]) for k in sorted(self.states)]

        _BOARD = ray.remote(num_cpus=0)(Board)
    return _BOARD


class _RowActor:
    """One Ray actor: one model, :class:`~advtui.eval.loop.ImageRows` on each batch."""

    def __init__(self, factory, cfg, threads: int, board) -> None:
        import ray
        import torch

        torch.set_num_threads(max(1, int(threads)))
        self.board = board
        gpus: list
        try:
            gpus = ray.get_runtime_context().get_accelerator_ids().get("GPU", [])
        except AttributeError:  # Ray < 2.8
            gpus = ray.get_gpu_ids()
        self.wid = ray.get(
            board.register.remote(
                {
                    "host": socket.gethostname(),
                    "pid": os.getpid(),
                    "threads": torch.get_num_threads(),
                    "gpus": list(gpus),
                    "state": "loading model",
                }
            )
        )
        from advtui.errors import AdvtuiError
        from advtui.eval.loop import ImageRows

        self.error = None
        try:
            model = factory()
            transfer = None
            if cfg.transfer_to:  # --transfer-to: each worker holds the second model too
                from advtui.models import load_model

                transfer = load_model(cfg.transfer_to, device=model.device)
        except AdvtuiError as exc:
            # reported with the first batch instead: a failed constructor reaches the driver
            # as "actor died" with a traceback (and Ray would restart the actor)
            self.error = exc
            board.update.remote(self.wid, state="failed", last=str(exc))
            return
        self.rows = ImageRows(model, cfg, transfer=transfer)
        board.update.remote(self.wid, state="idle", device=str(model.device))

    def __call__(self, batch: dict) -> dict:
        import numpy as np

        from advtui.errors import AdvtuiError
        from advtui.eval.loop import _what

        out = []
        try:
            if self.error is not None:
                raise self.error
            items = [pickle.loads(b) for b in batch["item"]]
            done = {tuple(k) for d in batch["done"] for k in pickle.loads(d)}
            first = items[0].image if items else ""
            self.board.update.remote(
                self.wid, state="working", batch=f"{len(items)} images from {first}"
            )
            for row, features, penultimate in self.rows.rows(items, done):
                out.append(pickle.dumps(("row", row, features, penultimate)))
                self.board.update.remote(self.wid, rows=1, last=_what(row))
            self.board.update.remote(self.wid, state="idle")
        except AdvtuiError as exc:
            # an error record after the rows this batch finished: the driver stores those,
            # then raises this one-line error (Ray would wrap a raised one in its traceback)
            out.append(pickle.dumps(("error", exc)))
            self.board.update.remote(self.wid, state="failed", last=str(exc))
        return {"out": np.array(out, dtype=object)}
