"""Per-request cost of authzguard: through Django's WSGI handler, then under gunicorn.

Every endpoint serves the same page, a user record read by its id from the path, to the
signed-in owner of the record (a member of one team group), on the per-request policy of
bench/synthetic.py at 10 and 10k rules:

* ``protected``: ``AuthzGuardMiddleware`` and ``@authorize("read", "kind005",
  target="id", source="path")``; authzguard resolves the target (the ORM's
  ``filter(pk=...)[:2]``), builds the subject (reading the owner's groups only when a
  rule on that kind and action names a group-granted role), decides on the synthetic policy
  (bench/synthetic.py, 10 or 10k rules) and hands the object to the view through
  ``request.authz.target``.
* ``hand-written`` (the baseline of the per-request target): no authzguard; a
  ``login_required`` view that does the same work by hand: the ORM lookup authzguard does
  (``_default_manager.filter(pk=...)[:2]``, exactly one row or 404) and an ownership
  check, plus ``list(request.user.groups.values_list("name", flat=True))`` at the sizes
  where the protected view reads the user's groups (seen in its queries, not assumed).
* ``self-fetching`` (for information, and the baseline under gunicorn): no authzguard; a
  ``login_required`` view that fetches the record with ``get_object_or_404``.

All run the same session and authentication middleware against one SQLite file with
persistent connections; the audit logger is left unconfigured, as the library leaves it.

1. In process: the endpoints are called through ``WSGIHandler`` objects, interleaved
   sample by sample, and timed in CPU time of the process (the machine may be shared).
2. Under gunicorn (bench/serving.py): one server for the self-fetching view and one per
   policy size for the protected one, loaded in turns.

    .venv/bin/python bench/bench_http.py [--quick] [--no-server]
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import serving
import synthetic
from synthetic import Target, fmt_ratio, fmt_time

KIND = synthetic.REQUEST_KIND
GROUP = "team-004"
SIZES = (10, 10_000)
LIMIT_PER_REQUEST = 1.05
LIMIT_SERVER = 0.95
#: URL prefix of each endpoint; the record's id follows.
PREFIXES = {
    "self_fetching": "own",
    "hand_written": "hand",
    "hand_written_groups": "hand-groups",
    "protected": "guarded",
}


def url(endpoint: str, user_id: int) -> str:
    return f"/{PREFIXES[endpoint]}/{user_id}/"


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


def _views() -> dict[str, Any]:
    from django.contrib.auth import get_user_model
    from django.contrib.auth.decorators import login_required
    from django.core.exceptions import PermissionDenied
    from django.http import Http404, HttpRequest, HttpResponse
    from django.shortcuts import get_object_or_404

    from authzguard.decorators import authorize

    def lookup(id: str) -> Any:
        # What authzguard's resolver runs: one query, two rows at most, exactly one wanted.
        try:
            pk = int(id)
        except ValueError:
            raise Http404("not a valid id") from None
        found = list(get_user_model()._default_manager.filter(pk=pk)[:2])
        if len(found) != 1:
            raise Http404("no such record")
        return found[0]

    # Signed-in users only, as the protected view (which sends anonymous users to the
    # login page): the baselines pay for the session and the user, not for any policy.
    @login_required
    def own(request: HttpRequest, id: str) -> HttpResponse:
        user = get_object_or_404(get_user_model(), pk=id)
        return HttpResponse(f"{user.pk}:{user.get_username()}")

    @login_required
    def hand(request: HttpRequest, id: str) -> HttpResponse:
        user = lookup(id)
        if user.pk != request.user.pk:
            raise PermissionDenied
        return HttpResponse(f"{user.pk}:{user.get_username()}")

    @login_required
    def hand_groups(request: HttpRequest, id: str) -> HttpResponse:
        groups = list(request.user.groups.values_list("name", flat=True))
        user = lookup(id)
        if user.pk != request.user.pk and GROUP not in groups:
            raise PermissionDenied
        return HttpResponse(f"{user.pk}:{user.get_username()}")

    @authorize("read", KIND, target="id", source="path")
    def guarded(request: HttpRequest, id: str) -> HttpResponse:
        user = request.authz.target  # type: ignore[attr-defined]
        return HttpResponse(f"{user.pk}:{user.get_username()}")

    return {
        "self_fetching": own,
        "hand_written": hand,
        "hand_written_groups": hand_groups,
        "protected": guarded,
    }


def __getattr__(name: str) -> Any:
    # ROOT_URLCONF is this module: URLs are built when Django first asks for them.
    if name == "urlpatterns":
        from django.urls import path

        patterns = [
            path(f"{PREFIXES[endpoint]}/<str:id>/", view, name=endpoint)
            for endpoint, view in _views().items()
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


def requester(handler: Any, path: str, cookie: str) -> Any:
    return lambda: call(handler, path, cookie)


def reads_groups(queries: list[str]) -> bool:
    return any('"auth_group"' in sql for sql in queries)


def in_process(user_id: int, cookie: str, quick: bool) -> dict[str, Any]:
    from django.conf import settings
    from django.core.handlers.wsgi import WSGIHandler

    from authzguard.runtime import reload_policy

    settings.MIDDLEWARE = list(BASE_MIDDLEWARE)
    plain = WSGIHandler()
    settings.MIDDLEWARE = [*BASE_MIDDLEWARE, _GUARD_MIDDLEWARE]
    guarded = WSGIHandler()
    handlers = dict.fromkeys(PREFIXES, plain) | {"protected": guarded}
    results: dict[str, Any] = {}
    for n in SIZES:
        settings.AUTHZGUARD_POLICY_PATHS = [str(synthetic.policy_dir(n))]
        reload_policy()
        for endpoint, handler in handlers.items():
            status, body = call(handler, url(endpoint, user_id), cookie)
            if not status.startswith("200"):
                raise SystemExit(f"{endpoint} at {n} rules answered {status}: {body[:200]!r}")
        queries = {
            endpoint: queries_per_request(handler, url(endpoint, user_id), cookie)
            for endpoint, handler in handlers.items()
        }
        # The hand-written baseline does the work the protected view was seen doing.
        groups = reads_groups(queries["protected"])
        baseline = "hand_written_groups" if groups else "hand_written"
        timed = {
            "self_fetching": "self_fetching",
            "hand_written": baseline,
            "protected": "protected",
        }
        timings = synthetic.time_interleaved(
            {name: requester(handlers[e], url(e, user_id), cookie) for name, e in timed.items()},
            budget_s=3.0 if quick else 8.0,
        )
        results[str(n)] = {
            **{name: timings[name].as_json() for name in timed},
            "hand_written_variant": baseline,
            "protected_reads_groups": groups,
            "queries": {name: queries[e] for name, e in timed.items()},
        }
        ratio = timings["protected"].p50 / timings["hand_written"].p50
        print(
            f"  {n:>6} rules: protected {fmt_time(timings['protected'].p50)}, hand-written "
            f"{fmt_time(timings['hand_written'].p50)} ({fmt_ratio(ratio, precise=True)}), "
            f"self-fetching {fmt_time(timings['self_fetching'].p50)}; the protected view "
            f"{'reads' if groups else 'does not read'} the user's groups",
            flush=True,
        )
    return results


def under_gunicorn(db: str, user_id: int, cookie: str, quick: bool) -> dict[str, Any]:
    def env(guard: bool, policy: Path | None) -> dict[str, str]:
        return {
            "BENCH_HTTP_DB": db,
            "BENCH_HTTP_GUARD": "1" if guard else "0",
            "BENCH_HTTP_POLICY": str(policy) if policy else "",
        }

    app = "bench_http:server_app()"
    servers = {"self_fetching": serving.Server("self-fetching", app, env(False, None))}
    for n in SIZES:
        label = f"protected, {n} rules"
        servers[f"protected_{n}"] = serving.Server(label, app, env(True, synthetic.policy_dir(n)))
    paths = {
        name: url("self_fetching" if name == "self_fetching" else "protected", user_id)
        for name in servers
    }
    return serving.in_turns(servers, paths, cookie, quick)


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
    payload: dict[str, Any] = {
        "endpoint": {"kind": KIND, "action": "read", "group": GROUP},
        "wsgi": wsgi,
        "gunicorn": server,
        "elapsed_s": time.perf_counter() - started,
    }
    payload["targets"] = [t.as_json() for t in targets(payload)]
    path = synthetic.write_results("http", payload)
    report(payload)
    print(f"\nwritten {path.relative_to(synthetic.REPO)} in {payload['elapsed_s']:.0f} s")
    return 0


def targets(payload: dict[str, Any]) -> list[Target]:
    out = []
    for n, data in payload["wsgi"].items():
        ratio = data["protected"]["p50_s"] / data["hand_written"]["p50_s"]
        same = len(data["queries"]["protected"]) == len(data["queries"]["hand_written"])
        out.append(
            Target(
                f"per request, protected over hand-written doing the same work, {int(n):,} rules",
                fmt_ratio(ratio, precise=True) + ("" if same else " (query counts differ)"),
                f"≤ {LIMIT_PER_REQUEST}x",
                ratio <= LIMIT_PER_REQUEST,
            )
        )
    server = payload["gunicorn"]
    if server is not None:
        base = server["self_fetching"]["requests_per_s"]
        for n in SIZES:
            share = server[f"protected_{n}"]["requests_per_s"] / base
            out.append(
                Target(
                    f"gunicorn req/s, protected over self-fetching, {n:,} rules",
                    fmt_ratio(share, precise=True),
                    f"≥ {LIMIT_SERVER}x",
                    share >= LIMIT_SERVER,
                )
            )
    return out


def report(payload: dict[str, Any]) -> None:
    rows = []
    for n, data in payload["wsgi"].items():
        hand, ours, own = data["hand_written"], data["protected"], data["self_fetching"]
        queries = data["queries"]
        rows.append(
            [
                f"{int(n):,}",
                f"{fmt_time(hand['p50_s'])} ({'with' if data['protected_reads_groups'] else 'no'} groups read)",
                f"{fmt_time(ours['p50_s'])} ({fmt_ratio(ours['p50_s'] / hand['p50_s'], precise=True)})",
                f"{fmt_time(own['p50_s'])} ({fmt_ratio(own['p50_s'] / hand['p50_s'], precise=True)})",
                fmt_ratio(ours["p50_s"] / own["p50_s"], precise=True),
                f"{fmt_time(hand['wall_p50_s'])} / {fmt_time(ours['wall_p50_s'])}",
                " / ".join(
                    str(len(queries[k])) for k in ("hand_written", "protected", "self_fetching")
                ),
            ]
        )
    synthetic.print_table(
        "Per request through WSGIHandler, p50 CPU time (ratios to the hand-written view, same run)",
        [
            "rules",
            "hand-written (baseline)",
            "protected",
            "self-fetching",
            "protected / self-fetching",
            "wall p50 (hand / protected)",
            "queries (hand / protected / self)",
        ],
        rows,
    )
    server = payload["gunicorn"]
    if server is not None:
        base = server["self_fetching"]
        rows = []
        for name, label in [("self_fetching", "self-fetching (no authzguard)")] + [
            (f"protected_{n}", f"protected, {n:,} rules") for n in SIZES
        ]:
            data = server[name]
            rows.append(
                [
                    label,
                    f"{data['requests_per_s']:.0f}",
                    fmt_ratio(data["requests_per_s"] / base["requests_per_s"], precise=True),
                    fmt_time(data["p99_s"]),
                    fmt_ratio(data["p99_s"] / base["p99_s"], precise=True),
                    str(data["errors"]),
                ]
            )
        synthetic.print_table(
            f"Under gunicorn (2 sync workers; load by {server['load_generator']}, "
            f"{server['threads']} connections, {server['rounds']} turns of "
            f"{server['seconds_per_turn']:.0f} s per server)",
            ["endpoint", "requests/s", "ratio", "p99", "p99 ratio", "errors"],
            rows,
        )
    synthetic.print_targets([Target(**t) for t in payload["targets"]])


if __name__ == "__main__":
    sys.exit(main())
