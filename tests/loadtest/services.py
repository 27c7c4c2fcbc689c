"""A PostgreSQL and a Redis of the run's own, on free loopback ports, in a temporary directory.

Restarting or pausing them touches nothing else on the machine. ``initdb`` refuses to run
as root: as root, the server runs as the ``postgres`` account (``runuser``).
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

PG_BINDIR_CANDIDATES = (
    "/usr/local/bin",
    "/usr/lib/postgresql/15/bin",
    "/usr/lib/postgresql/16/bin",
)


class MissingTool(RuntimeError):
    """A binary the run needs is not installed."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def find_tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        for directory in PG_BINDIR_CANDIDATES:
            candidate = Path(directory) / name
            if candidate.is_file() and os.access(candidate, os.X_OK):
                return str(candidate)
        raise MissingTool(f"{name} is not installed (not on PATH)")
    return found


def missing_tools(names: tuple[str, ...]) -> list[str]:
    missing = []
    for name in names:
        try:
            find_tool(name)
        except MissingTool:
            missing.append(name)
    return missing


def wait_for_port(port: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout:.0f} s")


def _server_user() -> tuple[list[str], int | None, int | None]:
    """The command prefix and ids to run PostgreSQL's tools as a non-root account."""
    if os.geteuid() != 0:
        return [], None, None
    account = pwd.getpwnam("postgres")
    return ["runuser", "-u", "postgres", "--"], account.pw_uid, account.pw_gid


def _pg_directory() -> Path:
    # Directly under the system's temporary directory: the postgres account must be able
    # to reach it, which a root-only (0700) parent such as pytest's tmp_path would forbid.
    return Path(tempfile.mkdtemp(prefix="authzguard-loadtest-pg-"))


@dataclass
class PostgresServer:
    """``initdb`` + ``pg_ctl`` in a directory of its own; trust authentication for ``postgres``."""

    directory: Path = field(default_factory=_pg_directory)
    port: int = field(default_factory=free_port)

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/postgres"

    @property
    def data(self) -> Path:
        return self.directory / "data"

    def _run(self, *args: str, timeout: float = 60) -> None:
        prefix, _, _ = _server_user()
        result = subprocess.run(
            [*prefix, *args], capture_output=True, text=True, timeout=timeout, check=False
        )
        if result.returncode != 0:
            raise RuntimeError(f"{' '.join(args[:2])} failed:\n{result.stdout}\n{result.stderr}")

    def init(self) -> None:
        _, uid, gid = _server_user()
        self.directory.mkdir(parents=True, exist_ok=True)
        if uid is not None and gid is not None:
            os.chown(self.directory, uid, gid)
        self._run(
            find_tool("initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust",
            "--no-sync", "-E", "UTF8",
        )  # fmt: skip

    def start(self) -> None:
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.directory} "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        self._run(
            find_tool("pg_ctl"), "-D", str(self.data), "-o", options,
            "-l", str(self.directory / "server.log"), "-w", "-t", "60", "start",
        )  # fmt: skip

    def stop(self, mode: str = "fast") -> None:
        self._run(find_tool("pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")

    def destroy(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self.stop("immediate")
        shutil.rmtree(self.directory, ignore_errors=True)

    def running(self) -> bool:
        try:
            wait_for_port(self.port, 0.2)
        except TimeoutError:
            return False
        return True


@dataclass
class RedisServer:
    """``redis-server`` without persistence; ``pause``/``resume`` make it unreachable (SIGSTOP)."""

    directory: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        log = (self.directory / "redis.log").open("wb")
        self.process = subprocess.Popen(
            [
                find_tool("redis-server"), "--port", str(self.port), "--bind", "127.0.0.1",
                "--save", "", "--appendonly", "no", "--dir", str(self.directory),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
        log.close()
        wait_for_port(self.port, 20)

    def pause(self) -> None:
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGSTOP)

    def resume(self) -> None:
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGCONT)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.resume()
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
