"""A child process for the robustness tests: ``advtui ARGS`` on the tiny CNN, with test hooks.

Run as ``python -m tests.robust_child ARGS`` from the repository root. Hooks (environment):

* ``ROBUST_CHILD_SLOW_ROW=S``: eval sleeps S seconds after storing each row (time to signal it);
* ``ROBUST_CHILD_KILL_AFTER_FILES=N``: the process SIGKILLs itself after writing N picture
  files of a result set (a crash between files).
"""

from __future__ import annotations

import os
import signal
import sys
import time


def main() -> int:
    from advtui.cli import common
    from advtui.cli import main as cli_main
    from tests.conftest import make_tiny_classifier

    tiny = make_tiny_classifier(num_classes=10, size=16)
    common.load_model_from_args = lambda args: tiny
    slow = float(os.environ.get("ROBUST_CHILD_SLOW_ROW", "0"))
    if slow:
        from advtui.eval.store import ResultsStore

        append = ResultsStore.append

        def slow_append(self, *args, **kwargs):
            row = append(self, *args, **kwargs)
            time.sleep(slow)
            return row

        ResultsStore.append = slow_append  # type: ignore[method-assign]
    kill_after = int(os.environ.get("ROBUST_CHILD_KILL_AFTER_FILES", "0"))
    if kill_after:
        import advtui.images
        import advtui.pipeline

        save_png = advtui.images.save_png
        count = [0]

        def dying_save_png(*args, **kwargs):
            save_png(*args, **kwargs)
            count[0] += 1
            if count[0] >= kill_after:
                os.kill(os.getpid(), signal.SIGKILL)

        advtui.pipeline.save_png = dying_save_png  # type: ignore[assignment]
    return cli_main(sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
