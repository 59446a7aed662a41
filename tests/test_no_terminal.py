"""The explorer without a terminal: keys from /dev/tty, or one line and a non-zero exit."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from PIL import Image

from tests.conftest import ROOT


def _folder(tmp_path):
    folder = tmp_path / "imgs"
    folder.mkdir()
    Image.new("RGB", (32, 32), (90, 160, 40)).save(folder / "a.jpg")
    return folder


def test_no_stdin_terminal_and_no_controlling_tty_exits_with_one_line(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "advtui", str(_folder(tmp_path))],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        cwd=ROOT,
        start_new_session=True,  # no controlling terminal: /dev/tty cannot be opened
        timeout=60,  # on the explorer of before it waited for keys until killed
    )
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "needs a terminal" in lines[0] and "advtui predict|attack|explain|eval" in lines[0]
    assert "\x1b" not in done.stdout + done.stderr  # nothing was drawn


def test_stdin_from_dev_null_reads_keys_from_the_controlling_terminal(tmp_path):
    import pty
    import select

    folder = _folder(tmp_path)
    pid, master = pty.fork()
    if pid == 0:  # the child: the pty is its controlling terminal, stdin is /dev/null
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.chdir(ROOT)
        os.execv(sys.executable, [sys.executable, "-m", "advtui", str(folder)])
    seen = b""
    end = time.monotonic() + 60
    sent = False
    status = None
    while time.monotonic() < end:
        ready, _, _ = select.select([master], [], [], 0.2)
        if ready:
            try:
                seen += os.read(master, 65536)
            except OSError:
                pass
        if not sent and b"a.jpg" in seen:  # the list is drawn: quit from the keyboard
            time.sleep(0.5)
            os.write(master, b"q")
            sent = True
        got, code = os.waitpid(pid, os.WNOHANG)
        if got:
            status = code
            break
    else:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
    os.close(master)
    assert sent, seen[-500:]
    assert status is not None and os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, seen[-500:]
