"""``make demo`` itself: migrate, seed, print the accounts, serve, passing the environment through.

The environment is already installed when the suite runs, so the install step is
skipped (``make -o STAMP``) and the recipe runs with this interpreter's ``bin``; the
address is a free port instead of 127.0.0.1:8000, which a developer may be using.
"""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.browser.server import REPO_ROOT, DemoClient, demo_environment, free_port

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def test_make_demo_migrates_seeds_prints_accounts_and_serves(tmp_path: Path) -> None:
    make = shutil.which("make")
    if make is None:
        if IN_CI:
            pytest.fail("make is not installed (CI=true)")
        pytest.skip("make is not installed")
    port = free_port()
    database = tmp_path / "make-demo.sqlite3"
    env = demo_environment(
        {
            "DATABASE_URL": f"sqlite:///{database}",
            "SESSION_ENGINE": "django.contrib.sessions.backends.cache",
        }
    )
    del env["DJANGO_DEBUG"]  # make demo's own default (on) applies
    stamp = str(tmp_path / "installed")
    log_path = tmp_path / "make-demo.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [
                make,
                "--no-print-directory",
                "-o",
                stamp,
                "demo",
                f"STAMP={stamp}",
                f"BIN={Path(sys.executable).parent}",
                f"DEMO_ADDR=127.0.0.1:{port}",
            ],
            cwd=REPO_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        client = DemoClient(f"http://127.0.0.1:{port}")
        deadline = time.monotonic() + 90
        while True:
            assert process.poll() is None, log_path.read_text()
            assert time.monotonic() < deadline, log_path.read_text()
            try:
                if client.get("/whoami/").status == 200:
                    break
            except OSError:
                time.sleep(0.2)
        output = log_path.read_text()
        assert "Demo accounts (id / username / password / email):" in output
        for line in (
            "admin  admin-demo-password",
            "alice  alice-demo-password",
            "bob    bob-demo-password",
        ):
            assert line in output

        client.login("alice")
        assert client.whoami() == {"authenticated": True, "username": "alice"}
        # DATABASE_URL and SESSION_ENGINE reached the server: its users are in this file,
        # and its sessions are not.
        with sqlite3.connect(database) as connection:
            assert connection.execute("SELECT count(*) FROM auth_user").fetchone() == (3,)
            assert connection.execute("SELECT count(*) FROM django_session").fetchone() == (0,)
        # DJANGO_DEBUG defaults to on under make demo: Django's technical 404 page.
        assert "Using the URLconf defined in" in client.get("/no/such/page/").text
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
