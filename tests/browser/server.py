"""Run the demo site out of process, with its own settings, and talk to it over HTTP.

The library's tests configure Django with ``tests/settings.py``; the demo has its
own project, so every demo test drives a real ``manage.py runserver`` in a
subprocess (never the in-process test client) and speaks HTTP to it, the way an
attacker, a browser or ``curl`` would.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
#: The passwords ``seed_demo`` documents (demo_site/demo_app/accounts.py).
DEMO_PASSWORDS = {
    "admin": "admin-demo-password",
    "alice": "alice-demo-password",
    "bob": "bob-demo-password",
}
MANAGE = REPO_ROOT / "demo_site" / "manage.py"
ARTIFACTS = REPO_ROOT / "tests" / "artifacts"

# Variables of the surrounding test run that must not leak into the demo process.
SCRUBBED = (
    "DJANGO_SETTINGS_MODULE",
    "DATABASE_URL",
    "REDIS_URL",
    "SESSION_ENGINE",
    "DJANGO_DEBUG",
    "DJANGO_ALLOWED_HOSTS",
    "DJANGO_SECRET_KEY",
    "DEMO_INSECURE",
    "DJANGO_PASSWORD_HASHERS",
    "DEMO_POLICY_PATH",
    "AUTHZGUARD_RELOAD",
    "AUTHZGUARD_RELOAD_INTERVAL",
    "AUTHZGUARD_RELOAD_NOTIFY",
)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def demo_environment(overrides: Mapping[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in SCRUBBED}
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "demo_project.settings",
            "DJANGO_SECRET_KEY": secrets.token_urlsafe(40),
            "DJANGO_DEBUG": "0",
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
            "PYTHONUNBUFFERED": "1",
            # Dozens of sign-ins per run: PBKDF2's deliberate slowness is not under test.
            "DJANGO_PASSWORD_HASHERS": "django.contrib.auth.hashers.MD5PasswordHasher",
        }
    )
    env.update(overrides)
    return env


def manage(env: Mapping[str, str], *args: str, timeout: float = 120) -> str:
    """Run ``demo_site/manage.py`` with ``env``; its output, or an error carrying it."""
    result = subprocess.run(
        [sys.executable, str(MANAGE), *args],
        cwd=REPO_ROOT,
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(
            f"manage.py {' '.join(args)} exited {result.returncode}:\n"
            f"{result.stdout}\n{result.stderr}"
        )
    return result.stdout


_SEED_ROW = re.compile(r"^\s+(\d+)\s+(\S+)\s", re.MULTILINE)


def seeded_ids(seed_output: str) -> dict[str, int]:
    ids = {name: int(pk) for pk, name in _SEED_ROW.findall(seed_output)}
    assert set(ids) == {"admin", "alice", "bob"}, seed_output
    return ids


@dataclass
class DemoServer:
    """A running ``manage.py runserver --noreload`` on 127.0.0.1 and a free port."""

    env: dict[str, str]
    port: int
    log_path: Path
    process: subprocess.Popen[bytes] | None = None
    accounts: dict[str, int] = field(default_factory=dict)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def manage(self, *args: str) -> str:
        return manage(self.env, *args)

    def seed(self) -> dict[str, int]:
        """Run ``seed_demo`` (restoring deleted or altered accounts); ids by username."""
        self.accounts = seeded_ids(self.manage("seed_demo"))
        return self.accounts

    def seeded(self) -> dict[str, int]:
        """The seeded accounts' ids, seeding again only if one of them cannot sign in.

        A sign-in over HTTP costs milliseconds; a ``manage.py`` run costs a second.
        """
        if self.accounts and all(self._probe(name) for name in self.accounts):
            return self.accounts
        return self.seed()

    def _probe(self, username: str) -> bool:
        client = DemoClient(self.base_url)
        if not client.can_login(username, DEMO_PASSWORDS[username]):
            return False
        # Sign out again: tests count the sessions they open.
        assert client.post("/accounts/logout/").status == 302
        return True

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def start(self, timeout: float = 60.0) -> None:
        log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            [sys.executable, str(MANAGE), "runserver", "--noreload", f"127.0.0.1:{self.port}"],
            cwd=REPO_ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the demo server exited:\n{self.log()}")
            try:
                if DemoClient(self.base_url).get("/whoami/").status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"the demo server did not answer within {timeout}s:\n{self.log()}")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)


def start_demo_server(
    workdir: Path, overrides: Mapping[str, str], *, migrated_sqlite: Path | None = None
) -> DemoServer:
    """Prepare the database (copying an already migrated SQLite file when given), seed, serve."""
    env = demo_environment(overrides)
    if "DATABASE_URL" not in overrides:
        database = workdir / "demo.sqlite3"
        if migrated_sqlite is not None:
            shutil.copyfile(migrated_sqlite, database)
        env["DATABASE_URL"] = f"sqlite:///{database}"
    server = DemoServer(env=env, port=free_port(), log_path=workdir / "server.log")
    if migrated_sqlite is None or "DATABASE_URL" in overrides:
        server.manage("migrate", "--noinput")
    server.seed()
    server.start()
    return server


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def location(self) -> str:
        return self.headers.get("location", "")


_CSRF_INPUT = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


@dataclass
class DemoClient:
    """A minimal HTTP client with a cookie jar; follows no redirect, so tests see each hop."""

    base_url: str
    cookies: dict[str, str] = field(default_factory=dict)

    def request(
        self,
        method: str,
        path: str,
        *,
        form: Mapping[str, str] | list[tuple[str, str]] | None = None,
        json_body: Any = None,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Response:
        parsed = urllib.parse.urlsplit(self.base_url)
        send_headers = {"Host": parsed.netloc, "Accept": "*/*"}
        if form is not None:
            body = urllib.parse.urlencode(form).encode()
            send_headers["Content-Type"] = "application/x-www-form-urlencoded"
        elif json_body is not None:
            body = json.dumps(json_body).encode()
            send_headers["Content-Type"] = "application/json"
        if method not in {"GET", "HEAD", "OPTIONS"} and "csrftoken" in self.cookies:
            send_headers["X-CSRFToken"] = self.cookies["csrftoken"]
        if self.cookies:
            send_headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        send_headers.update(headers or {})
        connection = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=30)
        try:
            connection.request(method, path, body=body, headers=send_headers)
            raw = connection.getresponse()
            payload = raw.read()
            set_cookies = raw.headers.get_all("Set-Cookie") or []
            response = Response(raw.status, {k.lower(): v for k, v in raw.getheaders()}, payload)
        finally:
            connection.close()
        for header in set_cookies:
            jar: SimpleCookie = SimpleCookie()
            jar.load(header)
            for name, morsel in jar.items():
                expired = morsel["max-age"] == "0" or (
                    morsel["expires"] and "1970" in morsel["expires"]
                )
                if expired or morsel.value == "":
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = morsel.value
        return response

    def get(self, path: str, **kwargs: Any) -> Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> Response:
        if "csrftoken" not in self.cookies:
            self.get("/accounts/login/")
        return self.request("POST", path, **kwargs)

    def can_login(self, username: str, password: str) -> bool:
        page = self.get("/accounts/login/")
        match = _CSRF_INPUT.search(page.text)
        assert match, f"no CSRF token on the login page:\n{page.text[:500]}"
        answer = self.request(
            "POST",
            "/accounts/login/",
            form={"username": username, "password": password, "csrfmiddlewaretoken": match[1]},
        )
        return answer.status == 302

    def login(self, username: str, password: str | None = None) -> DemoClient:
        assert self.can_login(username, password or DEMO_PASSWORDS[username]), (
            f"sign-in as {username} failed"
        )
        return self

    def whoami(self) -> dict[str, Any]:
        answer = self.get("/whoami/", headers={"Accept": "application/json"})
        assert answer.status == 200, answer.status
        data: dict[str, Any] = answer.json()
        return data
