"""Run the emulator app with uvicorn on 127.0.0.1, in the foreground (CLI) or a background thread
(tests and the demo, which need it for a few seconds and then stop it)."""

from __future__ import annotations

import logging
import socket
import threading
import time

import uvicorn

from brokerscale.cloud.emulator.app import create_app
from brokerscale.cloud.emulator.state import EmulatorState
from brokerscale.errors import BadInput

HOST = "127.0.0.1"


class EmulatorServer:
    """`with EmulatorServer(state) as srv: srv.url` — the emulator for as long as the block runs."""

    def __init__(self, state: EmulatorState, *, port: int = 0) -> None:
        self.state = state
        self.port = port
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def _config(self, sock_port: int) -> uvicorn.Config:
        return uvicorn.Config(create_app(self.state), host=HOST, port=sock_port, log_level="warning",
                              access_log=False, lifespan="off")

    def listen(self) -> socket.socket:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # Without TCP_NODELAY (inherited by accepted connections) every answer waits ~40 ms for the
        # client's delayed ACK, because the response goes out in more than one write (Nagle).
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            sock.bind((HOST, self.port))
        except OSError as exc:
            sock.close()
            raise BadInput(f"--port: cannot listen on {HOST}:{self.port} ({exc.strerror})") from None
        self.port = sock.getsockname()[1]
        return sock

    def start(self, timeout_s: float = 10.0) -> EmulatorServer:
        sock = self.listen()
        self._server = uvicorn.Server(self._config(self.port))
        server = self._server
        self._thread = threading.Thread(target=lambda: server.run(sockets=[sock]), name="cloud-emulator",
                                        daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout_s
        while not server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise BadInput(f"the Confluent Cloud emulator did not start on {self.url}")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> EmulatorServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def serve_forever(self, sock: socket.socket | None = None) -> None:
        """Foreground mode for `brokerscale cloud emulator` (Ctrl-C stops it)."""
        logging.getLogger("uvicorn.error").setLevel(logging.WARNING)
        sock = sock or self.listen()
        uvicorn.Server(self._config(self.port)).run(sockets=[sock])
