"""Run the dashboard in-process on a free loopback port (uvicorn in a thread), for the web tests."""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Served:
    def __init__(self, app: Any) -> None:
        import uvicorn

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                httpx.get(self.url + "/api/openapi.json", timeout=2)
                return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise AssertionError("dashboard did not start")

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
