"""One load-and-fault run: services, the demo under gunicorn, the load, the faults, the table.

The timeline, as fractions of ``--duration``: the policy edit at 0.1, PostgreSQL
restarted (during purges) at 0.3, Redis paused at 0.5, the policy file replaced with
garbage and then with a valid file at 0.7; the load runs throughout.
"""

from __future__ import annotations

import importlib.util
import json
import os
import pickle
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from authzguard.conf import Settings
from authzguard.progress import progress
from tests.browser.server import MANAGE, REPO_ROOT, DemoClient, demo_environment, free_port
from tests.loadtest.load import JSON, Load, Tally, Window
from tests.loadtest.oracle import EDIT_RULE, GARBAGE, REPAIR_RULE, Account, Oracle, edited
from tests.loadtest.services import MissingTool, PostgresServer, RedisServer, missing_tools

ARTIFACTS = REPO_ROOT / "tests" / "artifacts"
TOOLS = ("initdb", "pg_ctl", "redis-server")
PASSWORD = "loadtest-password"

_SEED = """
import json
from django.contrib.auth import get_user_model
User = get_user_model()
rows = []
admin = User.objects.create_superuser("admin", "admin@example.com", {password!r})
rows.append([admin.pk, "admin", "admin@example.com", True])
for i in range({users} + 1):
    name = f"user{{i}}"
    user = User.objects.create_user(name, f"{{name}}@example.com", {password!r})
    rows.append([user.pk, name, f"{{name}}@example.com", False])
print("SEEDED " + json.dumps(rows))
"""


@dataclass
class Options:
    duration: float = 120.0
    threads: int = 4
    users: int = 24
    seed: int = 14
    pg_down: float = 3.0
    redis_pause: float = 4.0
    reload_interval: float = 1.0


@dataclass
class Result:
    tally: Tally
    convergence: dict[str, float | None]
    reload_mode: str
    final: dict[str, int]
    elapsed: float

    @property
    def ok(self) -> bool:
        return (
            not self.tally.errors
            and all(v == 0 for v in self.final.values())
            and all(v is not None for v in self.convergence.values())
        )


def reload_support() -> tuple[str, str | None]:
    """``(AUTHZGUARD_RELOAD, AUTHZGUARD_RELOAD_NOTIFY)`` this authzguard supports."""
    if not hasattr(Settings, "RELOAD"):
        return "off", None
    return "poll", ("redis" if hasattr(Settings, "RELOAD_NOTIFY") else None)


def write_atomically(path: Path, text: str) -> None:
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(text, encoding="utf-8", errors="surrogateescape")
    temporary.replace(path)


class Site:
    """The demo under gunicorn (2 sync workers), on the run's PostgreSQL and Redis."""

    def __init__(self, workdir: Path, pg: PostgresServer, redis: RedisServer, options: Options):
        self.workdir = workdir
        self.policy = workdir / "policy" / "demo.yaml"
        self.policy.parent.mkdir()
        self.policy.write_text((REPO_ROOT / "policies" / "demo.yaml").read_text())
        self.reload, self.notify = reload_support()
        env = demo_environment(
            {
                "DJANGO_SETTINGS_MODULE": "tests.loadtest.demo_settings",
                "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), str(REPO_ROOT / "demo_site")]),
                "DATABASE_URL": pg.url,
                "SESSION_ENGINE": "django.contrib.sessions.backends.cache",
                "REDIS_URL": redis.url,
                "LOADTEST_POLICY_PATH": str(self.policy),
                "AUTHZGUARD_RELOAD": self.reload,
                "AUTHZGUARD_RELOAD_INTERVAL": str(options.reload_interval),
                "AUTHZGUARD_RELOAD_NOTIFY": self.notify or "",
                "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
            }
        )
        self.env = env
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def manage(self, *args: str, check: bool = True) -> str:
        result = subprocess.run(
            [sys.executable, str(MANAGE), *args],
            env=self.env, capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        if check and result.returncode != 0:
            raise RuntimeError(f"manage.py {args[0]} failed:\n{result.stdout}\n{result.stderr}")
        return result.stdout

    def prepare(self, users: int) -> list[Account]:
        self.manage("migrate", "--noinput")
        out = self.manage("shell", "-c", _SEED.format(password=PASSWORD, users=users))
        [line] = [line for line in out.splitlines() if line.startswith("SEEDED ")]
        rows = json.loads(line.removeprefix("SEEDED "))
        return [
            Account(pk, name, email, PASSWORD, superuser) for pk, name, email, superuser in rows
        ]

    def start(self) -> None:
        log = (self.workdir / "gunicorn.log").open("wb")
        self.process = subprocess.Popen(
            [
                sys.executable, "-m", "gunicorn", "--workers", "2",
                "--bind", f"127.0.0.1:{self.port}", "--chdir", str(REPO_ROOT / "demo_site"),
                "--timeout", "30", "--graceful-timeout", "5", "--log-level", "warning",
                "demo_project.wsgi:application",
            ],
            env=self.env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        log.close()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited:\n{self.log()}")
            try:
                if DemoClient(self.base_url).get("/whoami/").status == 200:
                    return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"gunicorn did not answer:\n{self.log()}")

    def log(self) -> str:
        return (self.workdir / "gunicorn.log").read_text(errors="replace")[-200_000:]

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def deploy(self, text: str) -> tuple[float, float]:
        """Write the policy (write, then rename) and announce it: when each was done."""
        write_atomically(self.policy, text)
        written = time.monotonic()
        if self.reload != "off":
            # Refused (exit 1) for the garbage: nothing is announced, the workers keep theirs.
            self.manage("authzguard_reload", check=False)
        return written, time.monotonic()

    @property
    def mode(self) -> str:
        return f"{self.reload}, notify {self.notify}" if self.notify else self.reload


class Run:
    def __init__(self, options: Options, workdir: Path) -> None:
        self.options = options
        self.workdir = workdir
        self.pg = PostgresServer()
        self.redis = RedisServer(workdir / "redis")
        self.tally = Tally(grace=5.0)
        self.convergence: dict[str, float | None] = {}
        self.stop = threading.Event()
        self.purging = threading.Event()

    def execute(self) -> Result:
        started = time.monotonic()
        try:
            self.pg.init()
            self.pg.start()
            self.redis.start()
            site = Site(self.workdir, self.pg, self.redis, self.options)
            accounts = site.prepare(self.options.users)
            site.start()
            try:
                self._load(site, accounts)
            finally:
                site.stop()
                if self.tally.errors:
                    ARTIFACTS.mkdir(parents=True, exist_ok=True)
                    (ARTIFACTS / "loadtest-gunicorn.log").write_text(site.log())
        finally:
            self.redis.stop()
            self.pg.destroy()
        return Result(self.tally, self.convergence, site.mode, self.final,
                      time.monotonic() - started)  # fmt: skip

    # -- the load ---------------------------------------------------------------------------

    def _load(self, site: Site, accounts: list[Account]) -> None:
        admin, probe, *users = accounts
        oracle = Oracle()
        text_a = site.policy.read_text()
        oracle.add(site.policy)
        load = Load(site.base_url, oracle, admin, users, probe, self.tally, self.options.seed)
        load.login(load.probe_browser)
        threads = [
            threading.Thread(target=self._worker, args=(load, i), daemon=True)
            for i in range(self.options.threads)
        ]
        threads.append(threading.Thread(target=self._purger, args=(load,), daemon=True))
        for thread in threads:
            thread.start()
        try:
            self._timeline(site, load, oracle, text_a)
        finally:
            self.stop.set()
            for thread in threads:
                thread.join(timeout=60)
        self.final = self._final_checks(load)

    def _worker(self, load: Load, index: int) -> None:
        while not self.stop.is_set():
            try:
                load.step()
            except Exception as exc:  # a bug of the harness must show, not hang the run
                self.tally.error("harness error", f"{type(exc).__name__}: {exc}")
                time.sleep(0.1)

    def _purger(self, load: Load) -> None:
        while not self.stop.is_set():
            if not self.purging.wait(0.2):
                continue
            try:
                load.purge_step()
            except Exception as exc:
                self.tally.error("harness error", f"{type(exc).__name__}: {exc}")

    def _timeline(self, site: Site, load: Load, oracle: Oracle, text_a: str) -> None:
        d, t0 = self.options.duration, time.monotonic()
        with progress("load-and-fault run", total=round(d), unit="s") as advance:
            done = 0

            def until(fraction: float) -> None:
                nonlocal done
                while (now := time.monotonic() - t0) < d * fraction:
                    time.sleep(min(0.5, d * fraction - now))
                    second = min(round(d), int(time.monotonic() - t0))
                    advance(second - done)
                    done = second

            until(0.1)
            if site.reload != "off":
                text_b = edited(text_a, EDIT_RULE)
                version_b = self._prepare_version(oracle, text_b)
                self._converge("policy edit", site, load, version_b, *site.deploy(text_b))
            until(0.3)
            self._fault("PostgreSQL restart", load, self._restart_postgres, purges=True)
            until(0.5)
            self._fault("Redis paused", load, self._pause_redis)
            until(0.7)
            self._policy_garbage(site, load, oracle, text_a)
            until(1.0)
            advance(round(d) - done)

    def _prepare_version(self, oracle: Oracle, text: str) -> str:
        path = self.workdir / "versions" / f"v{len(oracle.policies)}.yaml"
        path.parent.mkdir(exist_ok=True)
        path.write_text(text)
        return oracle.add(path)

    def _converge(self, name: str, site: Site, load: Load, version: str, written: float,
                  published: float) -> None:  # fmt: skip
        """Wait until every worker has answered under ``version``; record the latencies
        from the file's rename and from the end of ``authzguard_reload`` (the notify)."""
        since = written
        workers = {w for (w, _) in self.tally.first_seen if w != "?"}
        deadline = since + 30 + 3 * self.options.reload_interval
        latency: float | None = None
        while time.monotonic() < deadline:
            seen = [self.tally.first_seen.get((w, version)) for w in workers]
            if workers and all(s is not None for s in seen):
                latency = max(0.0, max(s for s in seen if s is not None) - since)
                break
            time.sleep(0.05)
        self.convergence[f"{name}, from the rename"] = latency
        if site.notify:
            # Negative: every worker had it before `authzguard_reload` (a process start) ended.
            after = None if latency is None else since + latency - published
            self.convergence[f"{name}, after authzguard_reload ended"] = after
        if latency is None:
            self.tally.error("no convergence", f"{name}: not every worker took {version[:12]}")

    def _fault(self, name: str, load: Load, inject: Callable[[], None], *,
               purges: bool = False) -> None:  # fmt: skip
        window = Window(name, time.monotonic())
        with self.tally.lock:
            self.tally.windows.append(window)
        if purges:
            self.purging.set()
            time.sleep(1.0)  # purges under way when the service goes
        try:
            inject()
        finally:
            window.end = time.monotonic()
        window.recovery = self._recover(load)
        self.purging.clear()

    def _restart_postgres(self) -> None:
        self.pg.stop("fast")
        time.sleep(self.options.pg_down)
        self.pg.start()

    def _pause_redis(self) -> None:
        self.redis.pause()
        try:
            time.sleep(self.options.redis_pause)
        finally:
            self.redis.resume()

    def _recover(self, load: Load) -> float | None:
        """Seconds from the end of a fault to the first good answer of a session-backed view."""
        ended, probe = time.monotonic(), load.probe_browser
        while time.monotonic() < ended + 60:
            try:
                answer = probe.client.get("/sessions/", headers=JSON)
            except OSError:
                answer = None
            if answer is not None and answer.status == 200:
                return time.monotonic() - ended
            if answer is not None and answer.status in (302, 401):
                self.tally.error("lost session", f"{probe.account.username} (recovery probe)")
                load.login(probe)
            time.sleep(0.05)
        self.tally.error("no recovery", "the site did not recover within 60 s")
        return None

    def _policy_garbage(self, site: Site, load: Load, oracle: Oracle, text_a: str) -> None:
        """Garbage in the policy file: the last good policy keeps deciding; then a valid file."""
        window = Window("policy file garbage", time.monotonic())
        site.deploy(GARBAGE)
        time.sleep(3 * self.options.reload_interval + 1)
        text_c = edited(text_a, REPAIR_RULE)
        version_c = self._prepare_version(oracle, text_c)
        written, published = site.deploy(text_c)
        window.end = written
        if site.reload != "off":
            self._converge("policy repaired", site, load, version_c, written, published)
            window.recovery = self.convergence["policy repaired, from the rename"]
        # Not a fault window: a broken file must cost no request a 503 or a denial.
        self.tally.silent_faults.append(window)

    # -- the end ------------------------------------------------------------------------------

    def _final_checks(self, load: Load) -> dict[str, int]:
        for browser in load.browsers.values():
            with load.holding(browser):
                load.whoami(browser)
        deleted = {str(b.account.pk) for b in load.users if b.deleted}
        return {
            "index rows of deleted users": self._index_rows(deleted),
            "stored sessions of deleted users": self._stored_sessions(deleted),
        }

    def _index_rows(self, deleted: set[str]) -> int:
        import psycopg

        if not deleted:
            return 0
        with psycopg.connect(f"host=127.0.0.1 port={self.pg.port} user=postgres") as db:
            row = db.execute(
                "SELECT count(*) FROM authzguard_indexedsession WHERE user_id::text = ANY(%s)",
                [sorted(deleted)],
            ).fetchone()
        return int(row[0]) if row else 0

    def _stored_sessions(self, deleted: set[str]) -> int:
        import redis

        client = redis.Redis(host="127.0.0.1", port=self.redis.port)
        found = 0
        for key in client.scan_iter(match="*django.contrib.sessions.cache*"):
            raw = client.get(key)
            if raw is None:
                continue
            try:
                # Our own Redis, written by our own demo: Django's cache pickles values.
                data: Any = pickle.loads(raw)
            except Exception:
                continue
            if isinstance(data, dict) and str(data.get("_auth_user_id")) in deleted:
                found += 1
        return found


def execute(options: Options) -> Result:
    missing = missing_tools(TOOLS)
    if importlib.util.find_spec("gunicorn") is None:
        missing.append("gunicorn (pip install gunicorn)")
    if missing:
        raise MissingTool(f"missing: {', '.join(missing)}")
    with tempfile.TemporaryDirectory(prefix="authzguard-loadtest-") as tmp:
        return Run(options, Path(tmp)).execute()
