"""The executor's persisted state: what to move, what is done, which throttles are set.

Written atomically after every change of fact, so a crash, a Ctrl-C or a dead broker leaves a file
from which `rebalance execute` resumes and `rebalance cancel` knows exactly what to undo.

Beside the state file live two small files that let a `rebalance cancel` in another shell stop a
running executor: a lock the executor holds while it runs (an OS file lock, so a killed executor
never leaves it held) and a cancel marker that the executor checks on every poll.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from brokerscale.errors import BadInput

ACTIVE = ("running", "interrupted", "failed")


@dataclass
class Move:
    topic: str
    partition: int
    target: list[int]
    original: list[int]
    size: int = 0

    @property
    def key(self) -> str:
        return f"{self.topic}:{self.partition}"

    @property
    def adding(self) -> list[int]:
        return [b for b in self.target if b not in self.original]

    @property
    def removing(self) -> list[int]:
        return [b for b in self.original if b not in self.target]

    @property
    def bytes(self) -> int:
        return self.size * len(self.adding)


@dataclass
class ExecState:
    plan_id: str
    cluster: str
    moves: list[Move]
    status: str = "running"
    throttle_bytes_s: int | None = None
    max_per_broker: int = 5
    completed: list[str] = field(default_factory=list)
    throttled_brokers: list[int] = field(default_factory=list)
    throttled_topics: list[str] = field(default_factory=list)
    message: str = ""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> ExecState:
        moves = [Move(**m) for m in doc.get("moves", [])]
        return cls(**{**doc, "moves": moves})

    @property
    def active(self) -> bool:
        return self.status in ACTIVE


def plan_id(moves: list[Move]) -> str:
    """The same target assignment gives the same id, so re-running a proposal resumes it."""
    text = json.dumps(sorted((m.topic, m.partition, m.target) for m in moves))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def default_state_path(cluster_label: str) -> Path:
    from brokerscale.paths import data_dir

    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", cluster_label) or "cluster"
    return data_dir() / "rebalance" / f"{safe}.json"


def load_state(path: Path) -> ExecState | None:
    if not path.exists():
        return None
    try:
        return ExecState.from_json(json.loads(path.read_text()))
    except (OSError, ValueError, TypeError) as exc:
        raise BadInput(f"{path}: not a rebalance state file ({exc})") from None


def save_state(path: Path, state: ExecState) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(state.to_json(), indent=1))
    os.replace(tmp, path)


def lock_path(path: Path) -> Path:
    return path.with_name(path.name + ".lock")


def cancel_marker(path: Path) -> Path:
    return path.with_name(path.name + ".cancel")


@contextlib.contextmanager
def run_lock(path: Path) -> Iterator[None]:
    """Held by the executor for as long as it runs; a second executor on the same state is refused."""
    lock = lock_path(path)
    lock.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise BadInput(f"{path}: another `rebalance execute` is running on this cluster "
                           f"(pid {_holder(lock)}); stop it with `brokerscale rebalance cancel --apply`") from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        yield
    finally:
        os.close(fd)  # closing releases the lock


def _holder(lock: Path) -> str:
    try:
        return lock.read_text().strip() or "?"
    except OSError:
        return "?"


def executor_running(path: Path) -> bool:
    """True while some process holds the run lock of this state file."""
    lock = lock_path(path)
    if not lock.exists():
        return False
    fd = os.open(lock, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def request_cancel(path: Path) -> None:
    marker = cancel_marker(path)
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text("cancel requested\n")


def cancel_requested(path: Path) -> bool:
    return cancel_marker(path).exists()


def clear_cancel(path: Path) -> None:
    cancel_marker(path).unlink(missing_ok=True)
