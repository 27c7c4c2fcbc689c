"""Per-request cost of authzguard: through Django's WSGI handler, then under gunicorn.

Two endpoints serve the same page, a user record read by its id from the path, to the
signed-in owner of the record (a member of one team group):

* ``self-fetching``: Django without authzguard (no middleware, no decorator); the view is
  ``login_required`` (so it loads the session and the user, as the protected one must)
  and fetches the record itself (``get_object_or_404``). This is the baseline.
* ``protected``: ``AuthzGuardMiddleware`` and ``@authorize("read", "kind005",
  target="id", source="path")``; authzguard resolves the target (the ORM's
  ``filter(pk=...)[:2]``), builds the subject (reading the owner's groups only when a
  rule on that kind and action names a group-granted role), decides on the synthetic policy
  (bench/synthetic.py, 10 or 10k rules) and hands the object to the view through
  ``request.authz.target``.
* ``protected, ORM lookup`` (in process only): the same, but the target comes from a
  resolver doing exactly the baseline's ``get_object_or_404``: the difference to the
  baseline is the authorization alone.

Both run the same session and authentication middleware against one SQLite file with
persistent connections; the audit logger is left unconfigured, as the library leaves it.

1. In process: the two endpoints are called through ``WSGIHandler`` objects, interleaved
   sample by sample, and timed in CPU time of the process (the machine may be shared).
2. Under gunicorn (2 sync workers per server, loopback only): one server per endpoint
   and policy size, loaded in turns for a fixed time by ``wrk`` (Debian's package) when it
   is installed, else by a Python load generator (threads with ``http.client``); either
   way 4 connections, one request at a time each.

    .venv/bin/python bench/bench_http.py [--quick] [--no-server]
"""

from __future__ import annotations

import argparse
import http.client
import io
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

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import synthetic
from synthetic import fmt_ratio, fmt_time, verdict

BENCH = Path(__file__).resolve().parent
KIND = synthetic.REQUEST_KIND
GROUP = "team-004"
SIZES = (10, 10_000)


def own_path(user_id: int) -> str:
    return f"/own/{user_id}/"


def own_groups_path(user_id: int) -> str:
    return f"/own-groups/{user_id}/"


def guarded_path(user_id: int) -> str:
    return f"/guarded/{user_id}/"


# -- the Django project (settings, views, URLs) ----------------------------------------------

_GUARD_MIDDLEWARE = "authzguard.middleware.AuthzGuardMiddleware"
BASE_MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
]


def configure(db: str, *, guard: bool, policy_dir: Path | None) -> None:
    from django.conf import settings

    settings.configure(
        DEBUG=False,
        SECRET_KEY="authzguard-bench-not-secret",
        ALLOWED_HOSTS=["*"],
        USE_TZ=True,
        DATABASES={
            "default": {"ENGINE": "django.db.backends.sqlite3", "NAME": db, "CONN_MAX_AGE": None}
        },
        INSTALLED_APPS=[
            "django.contrib.auth",
            "django.contrib.contenttypes",
            "django.contrib.sessions",
            "authzguard",
        ],
        MIDDLEWARE=[*BASE_MIDDLEWARE, *([_GUARD_MIDDLEWARE] if guard else [])],
        ROOT_URLCONF=__name__,
        PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"],
        AUTHZGUARD_POLICY_PATHS=[str(policy_dir)] if policy_dir else [],
        LOGGING_CONFIG=None,
    )
    import django

    django.setup()


def guarded_orm_path(user_id: int) -> str:
    return f"/guarded-orm/{user_id}/"


def _views() -> tuple[Any, Any, Any, Any]:
    from django.contrib.auth import get_user_model
    from django.contrib.auth.decorators import login_required
    from django.http import HttpRequest, HttpResponse
    from django.shortcuts import get_object_or_404

    from authzguard.decorators import authorize

    # Signed-in users only, as the protected view (which sends anonymous users to the
    # login page): the baseline pays for the session and the user, not for any policy.
    @login_required
    def own(request: HttpRequest, id: str) -> HttpResponse:
        user = get_object_or_404(get_user_model(), pk=id)
        return HttpResponse(f"{user.pk}:{user.get_username()}")

    # The baseline plus what a hand-written role check would read: the user's groups.
    @login_required
    def own_with_groups(request: HttpRequest, id: str) -> HttpResponse:
        groups = list(request.user.groups.values_list("name", flat=True))
        user = get_object_or_404(get_user_model(), pk=id)
        return HttpResponse(f"{user.pk}:{user.get_username()}:{len(groups)}")

    @authorize("read", KIND, target="id", source="path")
    def guarded(request: HttpRequest, id: str) -> HttpResponse:
        user = request.authz.target  # type: ignore[attr-defined]
        return HttpResponse(f"{user.pk}:{user.get_username()}")

    def baseline_lookup(request: HttpRequest, id: str) -> Any:
        return get_object_or_404(get_user_model(), pk=id)

    @authorize("read", KIND, target=baseline_lookup)
    def guarded_orm(request: HttpRequest, id: str) -> HttpResponse:
        user = request.authz.target  # type: ignore[attr-defined]
        return HttpResponse(f"{user.pk}:{user.get_username()}")

    return own, own_with_groups, guarded, guarded_orm


def __getattr__(name: str) -> Any:
    # ROOT_URLCONF is this module: URLs are built when Django first asks for them.
    if name == "urlpatterns":
        from django.urls import path

        own, own_with_groups, guarded, guarded_orm = _views()
        patterns = [
            path("own/<str:id>/", own, name="own"),
            path("own-groups/<str:id>/", own_with_groups, name="own-groups"),
            path("guarded/<str:id>/", guarded, name="guarded"),
            path("guarded-orm/<str:id>/", guarded_orm, name="guarded-orm"),
        ]
        globals()["urlpatterns"] = patterns
        return patterns
    raise AttributeError(name)


def server_app() -> Any:
    """gunicorn's entry point (``bench_http:server_app()``), configured from the environment."""
    policy = os.environ.get("BENCH_HTTP_POLICY")
    configure(
        os.environ["BENCH_HTTP_DB"],
        guard=os.environ.get("BENCH_HTTP_GUARD") == "1",
        policy_dir=Path(policy) if policy else None,
    )
    from django.core.wsgi import get_wsgi_application

    if policy:
        from authzguard.runtime import get_policy

        get_policy()  # load before the first request, as a deployment's warm-up would
    return get_wsgi_application()


def prepare_database() -> tuple[int, str]:
    """Create the tables, the user and its group; return the user id and a session cookie."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.core.management import call_command
    from django.test import Client

    call_command("migrate", verbosity=0, interactive=False)
    user = get_user_model().objects.create_user("owner", "owner@example.invalid", "pw")
    user.groups.add(Group.objects.create(name=GROUP))
    get_user_model().objects.create_user("someone", "someone@example.invalid", "pw")
    client = Client()
    client.force_login(user)
    return int(user.pk), client.cookies["sessionid"].value


# -- in process: WSGIHandler -----------------------------------------------------------------


def wsgi_environ(path: str, cookie: str) -> dict[str, Any]:
    return {
        "REQUEST_METHOD": "GET",
        "SCRIPT_NAME": "",
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": "127.0.0.1",
        "HTTP_COOKIE": f"sessionid={cookie}",
        "REMOTE_ADDR": "127.0.0.1",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(b""),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }


def call(handler: Any, path: str, cookie: str) -> tuple[str, bytes]:
    status: list[str] = []

    def start_response(code: str, headers: Any, exc_info: Any = None) -> None:
        status.append(code)

    response = handler(wsgi_environ(path, cookie), start_response)
    try:
        body = b"".join(response)
    finally:
        response.close()
    return status[0], body


def queries_per_request(handler: Any, path: str, cookie: str) -> list[str]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        status, _ = call(handler, path, cookie)
    assert status.startswith("200"), status
    return [q["sql"] for q in captured.captured_queries]


def in_process(user_id: int, cookie: str, quick: bool) -> dict[str, Any]:
    from django.conf import settings
    from django.core.handlers.wsgi import WSGIHandler

    from authzguard.runtime import get_policy, reload_policy

    settings.MIDDLEWARE = list(BASE_MIDDLEWARE)
    plain = WSGIHandler()
    settings.MIDDLEWARE = [*BASE_MIDDLEWARE, _GUARD_MIDDLEWARE]
    guarded = WSGIHandler()
    own, own_groups, guarded_ = own_path(user_id), own_groups_path(user_id), guarded_path(user_id)
    guarded_orm = guarded_orm_path(user_id)
    results: dict[str, Any] = {}
    for n in SIZES:
        settings.AUTHZGUARD_POLICY_PATHS = [str(synthetic.policy_dir(n))]
        reload_policy()
        # Whether any rule on (kind, read) names a group-granted role: only then does the
        # protected endpoint read the user's groups (the baseline never does).
        groups_matter = get_policy().groups_matter(KIND, "read")
        endpoints = ((plain, own), (plain, own_groups), (guarded, guarded_), (guarded, guarded_orm))
        for handler, path in endpoints:
            status, body = call(handler, path, cookie)
            if not status.startswith("200"):
                raise SystemExit(f"{path} at {n} rules answered {status}: {body[:200]!r}")
        baseline_queries = queries_per_request(plain, own, cookie)
        groups_queries = queries_per_request(plain, own_groups, cookie)
        guarded_queries = queries_per_request(guarded, guarded_, cookie)
        guarded_orm_queries = queries_per_request(guarded, guarded_orm, cookie)
        timings = synthetic.time_interleaved(
            {
                "self_fetching": lambda: call(plain, own, cookie),
                "self_fetching_groups": lambda: call(plain, own_groups, cookie),
                "protected": lambda: call(guarded, guarded_, cookie),
                "protected_orm": lambda: call(guarded, guarded_orm, cookie),
            },
            budget_s=3.0 if quick else 8.0,
        )
        results[str(n)] = {
            "self_fetching": timings["self_fetching"].as_json(),
            "self_fetching_groups": timings["self_fetching_groups"].as_json(),
            "protected": timings["protected"].as_json(),
            "protected_orm": timings["protected_orm"].as_json(),
            "groups_matter": groups_matter,
            "queries": {
                "self_fetching": baseline_queries,
                "self_fetching_groups": groups_queries,
                "protected": guarded_queries,
                "protected_orm": guarded_orm_queries,
            },
        }
        ratio = timings["protected"].p50 / timings["self_fetching"].p50
        alone = timings["protected_orm"].p50 / timings["self_fetching"].p50
        print(
            f"  {n:>6} rules: self-fetching {fmt_time(timings['self_fetching'].p50)}, "
            f"protected {fmt_time(timings['protected'].p50)} ({fmt_ratio(ratio)}), with the "
            f"ORM lookup {fmt_time(timings['protected_orm'].p50)} ({fmt_ratio(alone)}); "
            f"queries {len(baseline_queries)} vs {len(guarded_queries)} (rules on the pair "
            f"{'name' if groups_matter else 'do not name'} a group-granted role)",
            flush=True,
        )
    return results


# -- under gunicorn --------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    """One gunicorn (2 sync workers) on a loopback port, started and stopped by us."""

    def __init__(self, label: str, db: str, guard: bool, policy_dir: Path | None) -> None:
        self.label = label
        self.port = free_port()
        env = {
            **os.environ,
            "BENCH_HTTP_DB": db,
            "BENCH_HTTP_GUARD": "1" if guard else "0",
            "BENCH_HTTP_POLICY": str(policy_dir) if policy_dir else "",
        }
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
                "bench_http:server_app()",
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


def under_gunicorn(db: str, user_id: int, cookie: str, quick: bool) -> dict[str, Any]:
    servers = {
        "self_fetching": Server("self-fetching", db, guard=False, policy_dir=None),
        **{
            f"protected_{n}": Server(
                f"protected, {n} rules", db, guard=True, policy_dir=synthetic.policy_dir(n)
            )
            for n in SIZES
        },
    }
    paths = {
        name: own_path(user_id) if name == "self_fetching" else guarded_path(user_id)
        for name in servers
    }
    # wrk (Debian's package) when installed: a C client leaves the two cores to the server.
    tool = "wrk" if shutil.which("wrk") else "python"
    try:
        for name, server in servers.items():
            server.wait_ready(paths[name], cookie)
        rounds, seconds, threads = (2, 2.0, 4) if quick else (4, 3.0, 4)
        totals: dict[str, dict[str, Any]] = {
            name: {"requests": 0, "errors": 0, "seconds": 0.0, "latencies": [], "p99s": []}
            for name in servers
        }
        for _ in range(rounds):
            # Turns, so a burst of load elsewhere on the machine hits every server alike.
            for name, server in servers.items():
                total = totals[name]
                if tool == "wrk":
                    run = wrk_load(server.port, paths[name], cookie, seconds, threads)
                    total["p99s"].append(run["p99_s"])
                else:
                    run = load(server.port, paths[name], cookie, seconds, threads)
                    total["latencies"] += run["latencies"]
                total["requests"] += run["requests"]
                total["errors"] += run["errors"]
                total["seconds"] += run["seconds"]
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
            "p99_s": p99,
        }
        print(
            f"  {name:>16}: {out[name]['requests_per_s']:.0f} req/s, "
            f"p99 {fmt_time(out[name]['p99_s'] or 0)}, {total['errors']} errors",
            flush=True,
        )
    return out


# -- main ------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller time budgets")
    parser.add_argument("--no-server", action="store_true", help="skip the gunicorn part")
    args = parser.parse_args()
    started = time.perf_counter()
    for n in SIZES:
        synthetic.write_policy(n, synthetic.policy_dir(n))
    with tempfile.TemporaryDirectory(prefix="authzguard-bench-") as tmp:
        db = str(Path(tmp) / "bench.sqlite3")
        configure(db, guard=True, policy_dir=synthetic.policy_dir(SIZES[0]))
        user_id, cookie = prepare_database()
        print("Per request through WSGIHandler (CPU time, interleaved)", flush=True)
        wsgi = in_process(user_id, cookie, args.quick)
        server: dict[str, Any] | None = None
        if not args.no_server:
            print("Under gunicorn, 2 workers per server, loopback load in turns", flush=True)
            server = under_gunicorn(db, user_id, cookie, args.quick)
    payload = {
        "endpoint": {"kind": KIND, "action": "read", "group": GROUP},
        "wsgi": wsgi,
        "gunicorn": server,
        "elapsed_s": time.perf_counter() - started,
    }
    path = synthetic.write_results("http", payload)
    report(payload)
    print(f"\nwritten {path.relative_to(synthetic.REPO)} in {payload['elapsed_s']:.0f} s")
    return 0


def report(payload: dict[str, Any]) -> None:
    rows = []
    targets = []
    for n, data in payload["wsgi"].items():
        base, ours = data["self_fetching"], data["protected"]
        ratio = ours["p50_s"] / base["p50_s"]
        extra = len(data["queries"]["protected"]) - len(data["queries"]["self_fetching"])
        groups = data["self_fetching_groups"]
        orm = data["protected_orm"]
        rows.append(
            [
                f"{int(n):,}",
                fmt_time(base["p50_s"]),
                f"{fmt_time(groups['p50_s'])} ({fmt_ratio(groups['p50_s'] / base['p50_s'], precise=True)})",
                f"{fmt_time(ours['p50_s'])} ({fmt_ratio(ratio, precise=True)})",
                f"{fmt_time(orm['p50_s'])} ({fmt_ratio(orm['p50_s'] / base['p50_s'], precise=True)})",
                f"{fmt_time(base['wall_p50_s'])} / {fmt_time(ours['wall_p50_s'])} "
                f"({fmt_ratio(ours['wall_p50_s'] / base['wall_p50_s'], precise=True)})",
                f"{len(data['queries']['self_fetching'])} / "
                f"{len(data['queries']['self_fetching_groups'])} / "
                f"{len(data['queries']['protected'])} (+{extra}) / "
                f"{len(data['queries']['protected_orm'])}",
            ]
        )
        targets.append(
            [
                f"protected / self-fetching ≤ 1.05, {int(n):,} rules",
                fmt_ratio(ratio, precise=True),
                verdict(ratio <= 1.05),
            ]
        )
    synthetic.print_table(
        "Per request through WSGIHandler, p50 (ratio: protected over self-fetching, same run)",
        [
            "rules",
            "self-fetching",
            "self-fetching + groups read",
            "protected",
            "protected, ORM lookup (authorization alone)",
            "wall p50 (self / protected)",
            "queries (self / +groups / protected / ORM lookup)",
        ],
        rows,
    )
    server = payload["gunicorn"]
    if server is not None:
        base = server["self_fetching"]
        rows = [
            [
                "self-fetching (no authzguard)",
                f"{base['requests_per_s']:.0f}",
                "1.00x",
                fmt_time(base["p99_s"]),
                "1.00x",
                str(base["errors"]),
            ]
        ]
        for n in SIZES:
            ours = server[f"protected_{n}"]
            share = ours["requests_per_s"] / base["requests_per_s"]
            rows.append(
                [
                    f"protected, {n:,} rules",
                    f"{ours['requests_per_s']:.0f}",
                    fmt_ratio(share, precise=True),
                    fmt_time(ours["p99_s"]),
                    fmt_ratio(ours["p99_s"] / base["p99_s"], precise=True),
                    str(ours["errors"]),
                ]
            )
            targets.append(
                [
                    f"gunicorn req/s ≥ 0.95 of self-fetching, {n:,} rules",
                    fmt_ratio(share, precise=True),
                    verdict(share >= 0.95),
                ]
            )
        synthetic.print_table(
            f"Under gunicorn (2 sync workers; load by {server['load_generator']}, "
            f"{server['threads']} connections, {server['rounds']} turns of "
            f"{server['seconds_per_turn']:.0f} s per server)",
            ["endpoint", "requests/s", "ratio", "p99", "p99 ratio", "errors"],
            rows,
        )
    synthetic.print_table("Targets", ["target", "measured", ""], targets)


if __name__ == "__main__":
    sys.exit(main())
