"""Two real worker processes, two simulated hosts, converging through Redis and PostgreSQL.

Each worker (tests/reload_worker.py) has its own policy directory, as a host has its own
copy of the code. A deploy writes the new files, then runs ``manage.py
authzguard_reload`` (a process of its own); the workers must take the published version,
a host without the files must keep its own and show as lagging, and catch up when the
files arrive. Waits are for events, with generous timeouts; nothing is timed.
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.test import override_settings

from authzguard import notify
from tests.reload_support import GOOD, NEXT, THIRD, deploy, version_of

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT = 60.0


class Worker:
    """A worker process and the JSON lines it prints."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.log = log.open("w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.reload_worker"],
            cwd=ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.log,
            text=True,
        )
        self.events: queue.Queue[dict[str, Any]] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        self.ready = self.wait_for(lambda e: e["event"] == "ready")
        self.pid = int(self.ready["pid"])

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            if line.startswith("{"):
                self.events.put(json.loads(line))

    def wait_for(self, predicate: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        deadline = time.monotonic() + TIMEOUT
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or self.process.poll() is not None:
                raise AssertionError(f"worker: no such event; stderr:\n{self.stderr()}")
            try:
                event = self.events.get(timeout=min(remaining, 1.0))
            except queue.Empty:
                continue
            if event["event"] == "error":
                raise AssertionError(f"worker: {event}; stderr:\n{self.stderr()}")
            if predicate(event):
                return event

    def served_version(self) -> str:
        assert self.process.stdin is not None
        self.process.stdin.write("version\n")
        self.process.stdin.flush()
        return str(self.wait_for(lambda e: e["event"] == "version")["version"])

    def stderr(self) -> str:
        self.log.flush()
        return Path(self.log.name).read_text()[-3000:]

    def stop(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()


def manage(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "django", *args],
        cwd=ROOT,
        env={**env, "DJANGO_SETTINGS_MODULE": "tests.reload_settings"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def status_until(env: dict[str, str], done: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    """``authzguard_status --json`` until ``done`` says the heartbeats show it."""
    deadline = time.monotonic() + TIMEOUT
    while True:
        result = manage(env, "authzguard_status", "--json")
        assert result.returncode in (0, 1), result.stderr
        report = json.loads(result.stdout)
        report["returncode"] = result.returncode
        if done(report):
            return report
        assert time.monotonic() < deadline, report
        time.sleep(0.2)


def by_pid(report: dict[str, Any]) -> dict[int, dict[str, Any]]:
    return {int(worker["pid"]): worker for worker in report["workers"]}


@pytest.fixture
def hosts(tmp_path: Path) -> tuple[Path, Path]:
    """Two hosts' copies of the policy, both on GOOD."""
    copies = (tmp_path / "host-a", tmp_path / "host-b")
    for directory in copies:
        directory.mkdir()
        deploy(directory, GOOD)
    return copies


def converge(base: dict[str, str], hosts: tuple[Path, Path], tmp_path: Path) -> None:
    """The whole scenario, the same for each notify backend."""
    env = {**os.environ, **base}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    envs = [{**env, "AUTHZGUARD_TEST_RELOAD_POLICY_DIR": str(h)} for h in hosts]
    good, following, third = (version_of(t, tmp_path) for t in (GOOD, NEXT, THIRD))
    workers = [Worker(e, tmp_path / f"worker-{i}.log") for i, e in enumerate(envs)]
    try:
        a, b = workers
        assert [w.ready["version"] for w in workers] == [good, good]

        # A deploy: new files on both hosts, then one publication.
        for directory in hosts:
            deploy(directory, NEXT)
        result = manage(envs[0], "authzguard_reload")
        assert result.returncode == 0, result.stderr
        assert "Published version" in result.stdout
        for worker in workers:
            assert worker.wait_for(lambda e: e["event"] == "reloaded")["version"] == following
            assert worker.served_version() == following
        report = status_until(
            envs[0],
            lambda r: (
                {a.pid, b.pid} <= set(by_pid(r))
                and all(by_pid(r)[w.pid]["version"] == following for w in workers)
            ),
        )
        assert report["returncode"] == 0 and report["expected"] == following
        assert report["expected_from"] == "published"

        # A broken deploy is refused by the command: nothing is published.
        (hosts[0] / "policy.yaml").write_text("version: 1\nrules: {oops: 1}\n")
        refused = manage(envs[0], "authzguard_reload")
        assert refused.returncode == 1 and "nothing announced" in refused.stderr
        assert [w.served_version() for w in workers] == [following, following]

        # Host b does not have the third version yet: it keeps its own and lags.
        deploy(hosts[0], THIRD)
        result = manage(envs[0], "authzguard_reload", "--wait", "3")
        assert result.returncode == 1, result.stdout + result.stderr  # b is not there
        assert f":{b.pid}" in result.stderr and f":{a.pid}" not in result.stderr
        assert a.wait_for(lambda e: e["event"] == "reloaded")["version"] == third
        assert b.served_version() == following
        report = status_until(
            envs[0],
            lambda r: (
                by_pid(r).get(a.pid, {}).get("version") == third
                and by_pid(r).get(b.pid, {}).get("expected") == third
            ),
        )
        assert report["returncode"] == 1
        assert by_pid(report)[b.pid]["lagging"] and not by_pid(report)[a.pid]["lagging"]
        text = manage(envs[0], "authzguard_status")
        assert text.returncode == 1 and "1 of 2 workers lag" in text.stderr
        lagging_line = next(line for line in text.stdout.splitlines() if f" {b.pid} " in line)
        assert "LAGGING" in lagging_line

        # The files arrive on host b: it catches up by itself.
        deploy(hosts[1], THIRD)
        assert b.wait_for(lambda e: e["event"] == "reloaded")["version"] == third
        report = status_until(
            envs[0], lambda r: all(by_pid(r)[w.pid]["version"] == third for w in workers)
        )
        assert report["returncode"] == 0
    finally:
        for worker in workers:
            worker.stop()


@pytest.fixture
def redis_channel(redis_url: str) -> Iterator[str]:
    import redis

    channel = f"authzguard_test_{uuid.uuid4().hex[:12]}"
    yield channel
    client = redis.Redis.from_url(redis_url)
    keys = list(client.scan_iter(match=f"{channel}:*"))
    if keys:
        client.delete(*keys)


@pytest.mark.redis
def test_two_processes_converge_through_redis(
    redis_url: str, redis_channel: str, hosts: tuple[Path, Path], tmp_path: Path
) -> None:
    base = {
        "AUTHZGUARD_TEST_RELOAD_NOTIFY": "redis",
        "AUTHZGUARD_TEST_RELOAD_REDIS_URL": redis_url,
        "AUTHZGUARD_TEST_RELOAD_CHANNEL": redis_channel,
    }
    converge(base, hosts, tmp_path)


@pytest.fixture
def reload_database(postgres_service: dict[str, Any]) -> Iterator[str]:
    """A database of this run's own: several test runs may share the server."""
    import psycopg

    name = f"authzguard_reload_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    params = {
        "host": postgres_service["HOST"],
        "port": postgres_service["PORT"],
        "user": "postgres",
        "dbname": "postgres",
        "autocommit": True,
    }
    with psycopg.connect(**params) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    yield name
    with psycopg.connect(**params) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.mark.postgres
def test_two_processes_converge_through_postgresql_notify(
    postgres_service: dict[str, Any], reload_database: str, hosts: tuple[Path, Path], tmp_path: Path
) -> None:
    base = {
        "AUTHZGUARD_TEST_RELOAD_NOTIFY": "postgres",
        "AUTHZGUARD_TEST_RELOAD_PG_NAME": reload_database,
        "AUTHZGUARD_TEST_PGHOST": str(postgres_service["HOST"]),
        "AUTHZGUARD_TEST_PGPORT": str(postgres_service["PORT"]),
        "AUTHZGUARD_TEST_RELOAD_CHANNEL": f"authzguard_test_{uuid.uuid4().hex[:12]}",
    }
    converge(base, hosts, tmp_path)


@pytest.mark.redis
@pytest.mark.django_db
def test_status_view_lists_the_workers_and_flags_the_laggard(
    client: Any, redis_url: str, redis_channel: str, hosts: tuple[Path, Path], tmp_path: Path
) -> None:
    from django.contrib.auth.models import User

    env = {
        **os.environ,
        "AUTHZGUARD_TEST_RELOAD_NOTIFY": "redis",
        "AUTHZGUARD_TEST_RELOAD_REDIS_URL": redis_url,
        "AUTHZGUARD_TEST_RELOAD_CHANNEL": redis_channel,
    }
    env.pop("DJANGO_SETTINGS_MODULE", None)
    workers = [
        Worker({**env, "AUTHZGUARD_TEST_RELOAD_POLICY_DIR": str(h)}, tmp_path / f"w{i}.log")
        for i, h in enumerate(hosts)
    ]
    try:
        deploy(hosts[0], NEXT)  # only host a has it
        publish = manage(
            {**env, "AUTHZGUARD_TEST_RELOAD_POLICY_DIR": str(hosts[0])}, "authzguard_reload"
        )
        assert publish.returncode == 0, publish.stderr
        following = version_of(NEXT, tmp_path)
        workers[0].wait_for(lambda e: e["event"] == "reloaded")
        staff = User.objects.create_user("sam", "sam@example.com", "pw", is_staff=True)
        client.force_login(staff)
        with override_settings(
            AUTHZGUARD_RELOAD_NOTIFY="redis",
            AUTHZGUARD_REDIS_URL=redis_url,
            AUTHZGUARD_NOTIFY_CHANNEL=redis_channel,
            AUTHZGUARD_POLICY_PATHS=[hosts[0]],
        ):
            deadline = time.monotonic() + TIMEOUT
            while True:
                report = client.get("/authzguard/status/").json()
                seen = by_pid(report)
                if all(seen.get(w.pid, {}).get("expected") == following for w in workers):
                    break
                assert time.monotonic() < deadline, report
                time.sleep(0.2)
            notify.stop_listener()  # the test process served a request: it listened too
        assert report["expected"] == following
        assert seen[workers[0].pid]["version"] == following
        assert not seen[workers[0].pid]["lagging"]
        assert seen[workers[1].pid]["lagging"]
        assert report["lagging"] >= 1
    finally:
        for worker in workers:
            worker.stop()


@pytest.mark.redis
def test_a_forked_child_listens_on_its_own(
    redis_url: str, redis_channel: str, tmp_path: Path
) -> None:
    """A parent that listened, then forked (gunicorn --preload done wrong): the child
    forgets the parent's thread and connection and starts its own on first use."""
    from authzguard import reload, runtime
    from authzguard.signals import policy_reloaded

    directory = tmp_path / "policies"
    directory.mkdir()
    deploy(directory, GOOD)
    with override_settings(
        AUTHZGUARD_POLICY_PATHS=[directory],
        AUTHZGUARD_RELOAD_NOTIFY="redis",
        AUTHZGUARD_REDIS_URL=redis_url,
        AUTHZGUARD_NOTIFY_CHANNEL=redis_channel,
        AUTHZGUARD_RELOAD_INTERVAL=0.2,
    ):
        reload.reset_state()
        runtime.get_policy()
        parent = notify.ensure_listener()
        assert parent is not None and parent.connected.wait(TIMEOUT)
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child
            try:
                os.close(read_end)
                got = threading.Event()
                policy_reloaded.connect(lambda **kwargs: got.set(), weak=False)
                inherited = notify.current_listener()
                child = notify.ensure_listener()
                first = {
                    "inherited": inherited is not None,
                    "own": child is not None and child is not parent,
                    "connected": child is not None and child.connected.wait(TIMEOUT),
                }
                os.write(write_end, (json.dumps(first) + "\n").encode())
                done = {"reloaded": got.wait(TIMEOUT), "version": runtime.get_policy().version}
                os.write(write_end, (json.dumps(done) + "\n").encode())
            finally:
                os._exit(0)
        os.close(write_end)
        try:
            with os.fdopen(read_end) as pipe:
                first = json.loads(pipe.readline() or "{}")
                assert first == {"inherited": False, "own": True, "connected": True}
                deploy(directory, NEXT)
                notify.get_backend().publish(version_of(NEXT, tmp_path))  # type: ignore[union-attr]
                done = json.loads(pipe.readline() or "{}")
        finally:
            os.waitpid(pid, 0)
            notify.stop_listener()
            reload.reset_state()
    assert done == {"reloaded": True, "version": version_of(NEXT, tmp_path)}
