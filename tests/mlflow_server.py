"""A real MLflow tracking server for the tests: sqlite backend, local artifacts, 127.0.0.1 only.

Started with ``mlflow server`` on a free port, waited for on ``/health``, stopped by the PID of
the process started (its workers exit with it). Every server starts from a copy of one migrated
database template (the migrations take seconds; a copy takes milliseconds), cached beside the
test checkpoints and keyed on the mlflow version.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

from tests.checkpoints import cache_root

START_TIMEOUT = 90.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def database_template() -> Path:
    """A migrated, empty MLflow database (made once per mlflow version)."""
    import mlflow

    template = cache_root() / f"mlflow-{mlflow.__version__}-template.db"
    if not template.exists():
        template.parent.mkdir(parents=True, exist_ok=True)
        partial = template.with_suffix(f".{os.getpid()}.tmp")
        partial.unlink(missing_ok=True)
        client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{partial}")
        client.search_experiments()  # creating the engine runs the migrations
        os.replace(partial, template)
    return template


class MlflowServer:
    """One server over ``folder`` (its database and artifacts survive a stop and a start)."""

    def __init__(self, folder: Path, port: int | None = None) -> None:
        self.folder = folder
        self.port = port or free_port()
        self.process: subprocess.Popen[bytes] | None = None
        folder.mkdir(parents=True, exist_ok=True)
        self.database = folder / "mlflow.db"
        if not self.database.exists():
            shutil.copyfile(database_template(), self.database)

    @property
    def uri(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> MlflowServer:
        log = (self.folder / "server.log").open("ab")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "mlflow",
                "server",
                "--backend-store-uri",
                f"sqlite:///{self.database}",
                "--artifacts-destination",
                str(self.folder / "artifacts"),
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--workers",
                "1",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"mlflow server exited: {self.log_tail()}")
            try:
                with urllib.request.urlopen(f"{self.uri}/health", timeout=2) as answer:
                    if answer.status == 200:
                        return self
            except OSError:
                time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"mlflow server not healthy in {START_TIMEOUT:g} s: {self.log_tail()}")

    def stop(self) -> None:
        """Stop the server started here, by its PID (its process group: uvicorn's workers)."""
        if self.process is None:
            return
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.process = None

    def log_tail(self) -> str:
        log = self.folder / "server.log"
        return log.read_text(errors="replace")[-2000:] if log.exists() else ""


class DroppingProxy:
    """A TCP proxy to ``target_port`` on 127.0.0.1 that forwards everything but drops the
    connection as soon as a request whose text holds ``marker`` passes through (an artifact
    upload cut off mid-way)."""

    def __init__(self, target_port: int, marker: bytes) -> None:
        self.target_port, self.marker = target_port, marker
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(16)
        self.port = int(self.listener.getsockname()[1])
        self.dropped = 0
        self._stop = False
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def uri(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _accept(self) -> None:
        while not self._stop:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        upstream = socket.create_connection(("127.0.0.1", self.target_port))

        def pump(source: socket.socket, sink: socket.socket, inspect: bool) -> None:
            try:
                while chunk := source.recv(65536):
                    if inspect and self.marker in chunk:
                        self.dropped += 1
                        break
                    sink.sendall(chunk)
            except OSError:
                pass
            for end in (source, sink):
                with contextlib.suppress(OSError):
                    end.shutdown(socket.SHUT_RDWR)
                end.close()

        threading.Thread(target=pump, args=(upstream, client, False), daemon=True).start()
        pump(client, upstream, True)

    def close(self) -> None:
        self._stop = True
        self.listener.close()
