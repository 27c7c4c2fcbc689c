"""gunicorn servers for the benchmarks, and the load that measures them (wrk or Python).

Each server is 2 sync workers on a loopback port, started and stopped by us. The servers
are loaded in turns for a fixed time, so a burst of load elsewhere on the machine hits
every server alike: by ``wrk`` (Debian's package) when it is installed, else by a Python
load generator (threads with ``http.client``); either way 4 connections, one request at a
time each.
"""

from __future__ import annotations

import http.client
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import synthetic
from synthetic import fmt_time

BENCH = Path(__file__).resolve().parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    """One gunicorn (2 sync workers) on a loopback port, started and stopped by us."""

    def __init__(self, label: str, app: str, env: dict[str, str]) -> None:
        """``app``: gunicorn's ``module:callable`` in bench/; ``env`` adds to ours."""
        self.label = label
        self.port = free_port()
        env = {**os.environ, **env}
        env.pop("DJANGO_SETTINGS_MODULE", None)
        # Open for the server's lifetime; stop() closes it.
        self.log = tempfile.TemporaryFile()  # noqa: SIM115
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "--workers",
                "2",
                "--bind",
                f"127.0.0.1:{self.port}",
                "--chdir",
                str(BENCH),
                "--log-level",
                "warning",
                "--timeout",
                "120",
                app,
            ],
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )

    def wait_ready(self, path: str, cookie: str, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            try:
                status, _ = fetch(self.port, path, cookie)
                if status == 200:
                    # Both workers load the app; warm each one up.
                    for _ in range(20):
                        fetch(self.port, path, cookie)
                    return
            except OSError:
                pass
            time.sleep(0.2)
        self.log.seek(0)
        raise SystemExit(
            f"gunicorn ({self.label}) did not serve {path}: {self.log.read()[-2000:]!r}"
        )

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()


def fetch(port: int, path: str, cookie: str) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", path, headers={"Cookie": f"sessionid={cookie}"})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def load(port: int, path: str, cookie: str, seconds: float, threads: int) -> dict[str, Any]:
    """Bounded load: ``threads`` clients, each one request at a time, for ``seconds``."""
    latencies: list[list[float]] = [[] for _ in range(threads)]
    errors = [0] * threads
    stop_at = time.perf_counter() + seconds

    def client(i: int) -> None:
        mine = latencies[i]
        while time.perf_counter() < stop_at:
            start = time.perf_counter()
            try:
                status, _ = fetch(port, path, cookie)
            except OSError:
                errors[i] += 1
                continue
            if status != 200:
                errors[i] += 1
            mine.append(time.perf_counter() - start)

    workers = [threading.Thread(target=client, args=(i,)) for i in range(threads)]
    begin = time.perf_counter()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    elapsed = time.perf_counter() - begin
    every = [x for chunk in latencies for x in chunk]
    return {"requests": len(every), "errors": sum(errors), "seconds": elapsed, "latencies": every}


_WRK_UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}


def wrk_load(port: int, path: str, cookie: str, seconds: float, connections: int) -> dict[str, Any]:
    """The same bounded load through wrk (one thread): steadier, and lighter on the CPU."""
    out = subprocess.run(
        [
            "wrk",
            "-t1",
            f"-c{connections}",
            f"-d{max(1, round(seconds))}s",
            "--latency",
            "-H",
            f"Cookie: sessionid={cookie}",
            f"http://127.0.0.1:{port}{path}",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    match = re.search(r"(\d+) requests in ([\d.]+)(\w+)", out)
    assert match is not None, out
    requests = int(match.group(1))
    elapsed = float(match.group(2)) * _WRK_UNITS[match.group(3)]
    p99 = re.search(r"99%\s+([\d.]+)(\w+)", out)
    p50 = re.search(r"50%\s+([\d.]+)(\w+)", out)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out
    )
    return {
        "requests": requests,
        "seconds": elapsed,
        "errors": (int(errors.group(1)) if errors else 0)
        + (sum(int(g) for g in socket_errors.groups()) if socket_errors else 0),
        "p50_s": float(p50.group(1)) * _WRK_UNITS[p50.group(2)] if p50 else None,
        "p99_s": float(p99.group(1)) * _WRK_UNITS[p99.group(2)] if p99 else None,
    }


def in_turns(
    servers: dict[str, Server], paths: dict[str, str], cookie: str, quick: bool
) -> dict[str, Any]:
    """Load each server in turns (4 connections, one request at a time each), then stop
    them all; requests/s, p99 and errors per server."""
    # wrk (Debian's package) when installed: a C client leaves the two cores to the server.
    tool = "wrk" if shutil.which("wrk") else "python"
    try:
        for name, server in servers.items():
            server.wait_ready(paths[name], cookie)
        rounds, seconds, threads = (3, 2.0, 4) if quick else (4, 3.0, 4)
        totals: dict[str, dict[str, Any]] = {
            name: {
                "requests": 0,
                "errors": 0,
                "seconds": 0.0,
                "latencies": [],
                "p99s": [],
                "turns": [],
            }
            for name in servers
        }
        names = list(servers)
        for turn in range(rounds):
            # Turns, so a burst of load elsewhere on the machine hits every server alike;
            # the order rotates, so no server always runs first or last.
            for name in names[turn % len(names) :] + names[: turn % len(names)]:
                server, total = servers[name], totals[name]
                if tool == "wrk":
                    run = wrk_load(server.port, paths[name], cookie, seconds, threads)
                    total["p99s"].append(run["p99_s"])
                else:
                    run = load(server.port, paths[name], cookie, seconds, threads)
                    total["latencies"] += run["latencies"]
                total["requests"] += run["requests"]
                total["errors"] += run["errors"]
                total["seconds"] += run["seconds"]
                total["turns"].append(run["requests"] / run["seconds"])
    finally:
        for server in servers.values():
            server.stop()
    out: dict[str, Any] = {
        "load_generator": tool,
        "threads": threads,
        "rounds": rounds,
        "seconds_per_turn": seconds,
    }
    for name, total in totals.items():
        lat = total["latencies"]
        if tool == "wrk":
            # wrk reports each turn's p99; the median of the turns' p99s.
            p99 = statistics.median(total["p99s"])
        else:
            p99 = synthetic.percentile(lat, 0.99) if lat else None
        out[name] = {
            "requests": total["requests"],
            "errors": total["errors"],
            "requests_per_s": total["requests"] / total["seconds"],
            "turns_requests_per_s": total["turns"],
            "p99_s": p99,
        }
        print(
            f"  {name:>16}: {out[name]['requests_per_s']:.0f} req/s, "
            f"p99 {fmt_time(out[name]['p99_s'] or 0)}, {total['errors']} errors",
            flush=True,
        )
    return out
