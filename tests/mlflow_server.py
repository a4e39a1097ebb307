"""A real MLflow tracking server on 127.0.0.1 for the tests, and a cuttable TCP proxy.

The server (sqlite backend store, artifacts served from a local folder) starts
once per test session; each test uses its own registered model name. The proxy
sits between a registry and the server so a test can make the server "die" at
a chosen moment without restarting it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path


def mlflow_available() -> bool:
    """Whether to run MLflow tests; in CI (env CI set) a missing mlflow is a failure."""
    try:
        import mlflow  # noqa: F401
    except ImportError:
        if os.environ.get("CI"):
            raise
        return False
    return True


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class MlflowServer:
    uri: str
    artifacts: Path
    log: Path


@contextlib.contextmanager
def running_server(folder: Path, timeout: float = 120.0) -> Iterator[MlflowServer]:
    """A server on a free port. free_port() closes its socket before the server binds the
    port, so another process (an xdist worker starting its own server) may take it in
    between: a server that exits with the port in use is started again on another."""
    for attempt in range(3):
        try:
            started = _start(folder, timeout)
            break
        except PortTaken:
            if attempt == 2:
                raise
    server, proc = started
    try:
        yield server
    finally:
        _stop(proc)


class PortTaken(RuntimeError):
    """The server exited because its port was in use."""


def _start(folder: Path, timeout: float) -> tuple[MlflowServer, subprocess.Popen[bytes]]:
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    mlflow = Path(sys.executable).parent / "mlflow"
    command = [
        str(mlflow), "server",
        "--backend-store-uri", f"sqlite:///{folder / 'mlflow.db'}",
        "--artifacts-destination", str(folder / "artifacts"),
        "--serve-artifacts",
        "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
    ]  # fmt: skip
    env = os.environ | {"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    log = folder / "server.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            command, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
    server = MlflowServer(f"http://127.0.0.1:{port}", folder / "artifacts", log)
    try:
        _wait_healthy(server, proc, timeout)
    except BaseException:
        _stop(proc)
        raise
    return server, proc


def _wait_healthy(server: MlflowServer, proc: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            said = server.log.read_text()[-2000:]
            taken = "address already in use" in said.lower()
            raise (PortTaken if taken else RuntimeError)(f"mlflow server exited: {said}")
        health = f"{server.uri}/health"
        with contextlib.suppress(OSError), urllib.request.urlopen(health, timeout=2):
            return
        time.sleep(0.25)
    raise RuntimeError(f"mlflow server not healthy after {timeout}s: {server.log.read_text()}")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """Stop the server and its workers: the process group this fixture started."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(5)


class Proxy:
    """Forwards 127.0.0.1:<port> to the server until cut(); then connections are refused."""

    def __init__(self, target: str) -> None:
        host, port = target.removeprefix("http://").split(":")
        self.target = (host, int(port))
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.uri = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.sockets: list[socket.socket] = []
        self.alive = True
        threading.Thread(target=self._accept, daemon=True).start()

    def cut(self) -> None:
        self.alive = False
        for sock in [self.listener, *self.sockets]:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def _accept(self) -> None:
        while self.alive:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            self.sockets += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=_pipe, args=(a, b), daemon=True).start()


def _pipe(source: socket.socket, sink: socket.socket) -> None:
    with contextlib.suppress(OSError):
        while data := source.recv(65536):
            sink.sendall(data)
    with contextlib.suppress(OSError):
        sink.shutdown(socket.SHUT_WR)
