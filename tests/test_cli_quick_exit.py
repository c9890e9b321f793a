"""`brokerscale lag` as a program ends without tearing the interpreter down (a tenth of a 20,000-partition
run), but only as the ordinary exit would end it: the exit code and the error line kept, atexit callbacks
run, and a non-daemon thread still running waited for (then the ordinary exit is taken)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

# Runs `lag` with a bad option combination (an error before any network call: exit 2, one line). Each
# event appends a line to one file: the atexit callback; a non-daemon thread that runs until the main
# thread has finished; and a module global's finalizer, which runs only when the interpreter is torn
# down (it holds its own file descriptor and os.write, so it does not depend on the order of teardown).
SCRIPT = """
import atexit, os, sys, threading, time

fd = os.open(sys.argv[1], os.O_WRONLY | os.O_APPEND | os.O_CREAT)
atexit.register(lambda: os.write(fd, b"atexit\\n"))


class Finalized:
    def __init__(self):
        self.fd, self.write = fd, os.write

    def __del__(self):
        self.write(self.fd, b"teardown\\n")


keep = Finalized()
if sys.argv[2] == "thread":
    def until_main_ends():
        while threading.main_thread().is_alive():
            time.sleep(0.02)
        os.write(fd, b"thread\\n")
    threading.Thread(target=until_main_ends).start()
sys.argv = ["brokerscale", *sys.argv[3:]]
from brokerscale.cli import console_main

console_main()
"""


def _run(tmp_path: Path, thread: str, *args: str) -> tuple[int, str, set[str]]:
    marks = tmp_path / "marks"
    res = subprocess.run([sys.executable, "-c", SCRIPT, str(marks), thread, *args], capture_output=True, text=True,
                         timeout=120)
    return res.returncode, res.stderr, set(marks.read_text().split())


def test_lag_ends_quickly_with_its_exit_code_error_line_and_atexit_callbacks(tmp_path: Path) -> None:
    code, err, marks = _run(tmp_path, "none", "lag", "-b", "127.0.0.1:1", "--no-history", "--plot",
                            str(tmp_path / "lag.png"))
    assert code == 2
    assert err.strip().splitlines() == ["error: --plot: draws the recorded lag history; it cannot be combined "
                                        "with --no-history"]
    assert marks == {"atexit"}  # callbacks ran; the interpreter was not torn down


def test_a_running_thread_is_waited_for_by_the_ordinary_exit(tmp_path: Path) -> None:
    code, err, marks = _run(tmp_path, "thread", "lag", "-b", "127.0.0.1:1", "--no-history", "--plot",
                            str(tmp_path / "lag.png"))
    assert code == 2 and "--plot" in err
    assert marks == {"atexit", "thread", "teardown"}


def test_other_verbs_take_the_ordinary_exit(tmp_path: Path) -> None:
    code, _err, marks = _run(tmp_path, "none", "plan", "--help")
    assert code == 0
    assert marks == {"atexit", "teardown"}
