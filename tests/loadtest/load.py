"""The mixed load: each operation, the answer the policy expects, and the tally.

Every user has one browser (a cookie jar). An operation that reads or changes a user's
sessions holds that user's lock, so the run always knows which browsers are signed in:
``signed_in`` is True or False, or None after a state-changing request that got no
clear answer (a 503 mid-login): the next ``whoami`` settles it.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import Any

from tests.browser.server import DemoClient, Response
from tests.loadtest.oracle import Account, Oracle
from tests.loadtest.probe import VERSION_HEADER, WORKER_HEADER

JSON = {"Accept": "application/json"}


@dataclass(eq=False)
class Browser:
    account: Account
    client: DemoClient
    lock: threading.Lock = field(default_factory=threading.Lock)
    signed_in: bool | None = False
    deleted: bool = False


@dataclass
class Window:
    """A fault: 503s (and fail-closed denials) are right from ``start`` to ``end`` + grace."""

    name: str
    start: float
    end: float = float("inf")
    recovery: float | None = None


class Tally:
    """Counts of requests and of every kind of error, with the first examples."""

    def __init__(self, grace: float) -> None:
        self.lock = threading.Lock()
        self.counts: Counter[str] = Counter()
        self.errors: Counter[str] = Counter()
        self.examples: dict[str, list[str]] = {}
        self.windows: list[Window] = []
        #: Faults that must cost no request a 503 or a denial (a broken policy file).
        self.silent_faults: list[Window] = []
        self.grace = grace
        self.started = time.monotonic()
        #: First time each worker pid answered under each version.
        self.first_seen: dict[tuple[str, str], float] = {}

    def count(self, name: str, n: int = 1) -> None:
        with self.lock:
            self.counts[name] += n

    def error(self, kind: str, detail: str) -> None:
        with self.lock:
            self.errors[kind] += 1
            self.examples.setdefault(kind, [])
            if len(self.examples[kind]) < 5:
                at = time.monotonic() - self.started
                self.examples[kind].append(f"t={at:.1f}s {detail}")

    def in_fault(self, at: float) -> bool:
        return any(w.start <= at <= w.end + self.grace for w in self.windows)

    def seen(self, response: Response, at: float) -> str:
        worker = response.headers.get(WORKER_HEADER.lower(), "?")
        version = response.headers.get(VERSION_HEADER.lower(), "none")
        with self.lock:
            for part in version.split(".."):
                self.first_seen.setdefault((worker, part), at)
        return version


class Load:
    """The operations of the run, each checked against the oracle when it answers."""

    def __init__(self, base_url: str, oracle: Oracle, admin: Account, users: list[Account],
                 probe: Account, tally: Tally, seed: int) -> None:  # fmt: skip
        self.base_url = base_url
        self.oracle = oracle
        self.tally = tally
        self.random = random.Random(seed)
        self.browsers = {a.pk: Browser(a, DemoClient(base_url)) for a in (admin, probe, *users)}
        self.admin = self.browsers[admin.pk]
        self.probe_browser = self.browsers[probe.pk]
        self.users = [self.browsers[a.pk] for a in users]
        self.max_deletions = len(users) // 2
        self.lock = threading.Lock()

    # -- plumbing ---------------------------------------------------------------------

    @contextmanager
    def holding(self, *browsers: Browser) -> Iterator[None]:
        with ExitStack() as stack:
            for browser in sorted(set(browsers), key=lambda b: b.account.pk):
                stack.enter_context(browser.lock)
            yield

    def send(self, name: str, call: Callable[[], Response]) -> tuple[Response | None, float]:
        """One request; ``None`` when the connection failed (counted as an error)."""
        self.tally.count("requests")
        try:
            response = call()
        except OSError as exc:
            at = time.monotonic()
            self.tally.error("connection error", f"{name}: {exc}")
            return None, at
        at = time.monotonic()
        if response.status == 500:
            self.tally.error("500", f"{name}: {response.text[:200]}")
        elif response.status == 503:
            self.tally.count("503")
            if response.headers.get("retry-after") is None:
                self.tally.error("503 without Retry-After", name)
            if not self.tally.in_fault(at):
                self.tally.error("503 outside a fault", name)
        return response, at

    def check(self, name: str, response: Response, at: float, expected: Callable[[str], set[int]],
              actor: Browser | None) -> bool | None:  # fmt: skip
        """Compare a decided answer with the policy's; True/False: allowed or not."""
        if response.status in (500, 503):
            return None
        version = self.tally.seen(response, at)
        if not self.oracle.knows(version):
            self.tally.error("unknown policy version", f"{name}: {version}")
            return None
        wanted = expected(version)
        self.tally.count("decisions checked")
        if response.status in wanted:
            return response.status in (200, 302)
        who = actor.account.username if actor else "anonymous"
        detail = f"{name} by {who}: {response.status}, expected {sorted(wanted)} ({version[:12]})"
        if response.status == 200:
            self.tally.error("wrong allow", detail)
        elif self.tally.in_fault(at) and response.status in (401, 403, 404):
            self.tally.count("fail-closed denials in a fault")
        else:
            self.tally.error("wrong deny" if 200 in wanted else "wrong answer", detail)
        return response.status == 200

    # -- what each browser holds --------------------------------------------------------

    def whoami(self, browser: Browser) -> None:
        response, _ = self.send("whoami", lambda: browser.client.get("/whoami/", headers=JSON))
        if response is None or response.status != 200:
            return
        data: dict[str, Any] = response.json()
        signed_in = bool(data["authenticated"])
        if signed_in and data["username"] != browser.account.username:
            self.tally.error("session of another user", browser.account.username)
        if browser.deleted and signed_in:
            self.tally.error("live session of a deleted user", browser.account.username)
        elif browser.signed_in is True and not signed_in:
            self.tally.error("lost session", browser.account.username)
        elif browser.signed_in is False and signed_in:
            self.tally.error("session that should have ended", browser.account.username)
        browser.signed_in = signed_in
        self.tally.count("session checks")

    def login(self, browser: Browser) -> None:
        account = browser.account

        def attempt() -> Response:
            browser.client.cookies.clear()
            page = browser.client.get("/accounts/login/")
            if page.status != 200:
                return page
            token = browser.client.cookies.get("csrftoken", "")
            form = {"username": account.username, "password": account.password,
                    "csrfmiddlewaretoken": token}  # fmt: skip
            return browser.client.request("POST", "/accounts/login/", form=form)

        response, at = self.send("login", attempt)
        self.tally.count("logins")
        if response is None or response.status in (500, 503):
            browser.signed_in = False if browser.deleted else None
            return
        self.tally.seen(response, at)
        if browser.deleted:
            if response.status == 302:
                self.tally.error("deleted user signed in", account.username)
            browser.signed_in = False
        elif response.status == 302:
            browser.signed_in = True
        else:
            self.tally.error("login refused", f"{account.username}: {response.status}")
            browser.signed_in = False

    def logout(self, browser: Browser) -> None:
        response, _ = self.send("logout", lambda: browser.client.post("/accounts/logout/"))
        self.tally.count("ends of sessions")
        if response is not None and response.status == 302:
            browser.signed_in = False
        else:
            browser.signed_in = None

    # -- decided requests -----------------------------------------------------------------

    def actor(self, browser: Browser) -> Account | None:
        return browser.account if browser.signed_in else None

    def list_users(self, browser: Browser) -> None:
        if browser.signed_in is None:
            return self.whoami(browser)
        actor = self.actor(browser)
        response, at = self.send("list users", lambda: browser.client.get("/users/", headers=JSON))
        if response is not None:
            self.check("list users", response, at,
                       lambda v: self.oracle.statuses(v, actor, "list", "user", {}), browser)  # fmt: skip
        return None

    def view_sessions(self, browser: Browser) -> None:
        if browser.signed_in is None:
            return self.whoami(browser)
        actor = self.actor(browser)
        owner = {"owner": browser.account.pk} if actor else None
        response, at = self.send(
            "view sessions", lambda: browser.client.get("/sessions/", headers=JSON)
        )
        if response is not None:
            self.check("view sessions", response, at,
                       lambda v: self.oracle.statuses(v, actor, "view", "session", owner), browser)  # fmt: skip
        return None

    def end_sessions(self, browser: Browser, target: Browser) -> None:
        """``POST /sessions/end/ email=...``: one's own (allowed), another's (admin only)."""
        if browser.signed_in is None or target.signed_in is None:
            return self.whoami(browser if browser.signed_in is None else target)
        actor = self.actor(browser)
        attrs = None if target.deleted else {"owner": target.account.pk}
        form = {"email": target.account.email}
        response, at = self.send("end sessions", lambda: browser.client.post(
            "/sessions/end/", form=form, headers=JSON))  # fmt: skip
        self.tally.count("ends of sessions")
        if response is None:
            browser.signed_in = target.signed_in = None
            return None
        allowed = self.check("end sessions", response, at,
                             lambda v: self.oracle.statuses(v, actor, "end", "session", attrs), browser)  # fmt: skip
        if allowed:
            target.signed_in = False
        elif allowed is None:
            browser.signed_in = target.signed_in = None  # 503 after the view, perhaps
        return None

    def delete_user(self, browser: Browser, target: Browser) -> None:
        if browser.signed_in is None:
            return self.whoami(browser)
        actor = self.actor(browser)
        attrs = None if target.deleted else {"id": target.account.pk}
        form = {"id": str(target.account.pk)}
        response, at = self.send("delete user", lambda: browser.client.post(
            "/users/delete/", form=form, headers=JSON))  # fmt: skip
        self.tally.count("user deletions tried")
        if response is None:
            return None
        allowed = self.check("delete user", response, at,
                             lambda v: self.oracle.statuses(v, actor, "delete", "user", attrs), browser)  # fmt: skip
        if allowed:
            target.deleted, target.signed_in = True, False
            self.tally.count("users deleted")
            # The deleted user's browser must be signed out at once.
            self.whoami(target)
        return None

    def malformed(self, browser: Browser) -> None:
        """Duplicated, non-numeric and oversized ids: 400 before any lookup, for anyone."""
        bodies = [[("id", "1"), ("id", "2")], {"id": "1 OR 1=1"}, {"id": "9" * 400}]
        body = self.random.choice(bodies)
        response, at = self.send("malformed", lambda: browser.client.post(
            "/users/delete/", form=body, headers=JSON))  # fmt: skip
        if response is not None:
            self.check("malformed", response, at, lambda v: {400}, browser)

    # -- the mix --------------------------------------------------------------------------

    def step(self) -> None:
        rnd = self.random
        browser = rnd.choice(self.users)
        roll = rnd.random()
        if roll < 0.12 and not browser.signed_in:
            with self.holding(browser):
                self.login(browser)
        elif roll < 0.30:
            with self.holding(browser):
                self.list_users(browser)
        elif roll < 0.45:
            with self.holding(browser):
                self.view_sessions(browser)
        elif roll < 0.55:
            with self.holding(browser):
                self.whoami(browser)
        elif roll < 0.62:
            with self.holding(browser):
                self.logout(browser)
        elif roll < 0.72:
            target = rnd.choice(self.users)
            with self.holding(browser, target):
                self.end_sessions(browser, target)
        elif roll < 0.78:
            target = rnd.choice(self.users)
            with self.holding(browser, target):
                self.delete_user(browser, target)  # not an admin: denied
        elif roll < 0.82:
            with self.holding(browser):
                self.malformed(browser)
        else:
            self.admin_step()

    def admin_step(self) -> None:
        rnd, admin = self.random, self.admin
        with self.holding(admin):
            if not admin.signed_in:
                self.login(admin)
                return
        target = rnd.choice(self.users)
        roll = rnd.random()
        with self.holding(admin, target):
            if roll < 0.4:
                self.end_sessions(admin, target)
            elif roll < 0.6 and self.deletions_left() and not target.deleted:
                self.delete_user(admin, target)
            elif roll < 0.7:
                self.delete_user(admin, admin)  # nobody deletes themselves: 403
            else:
                self.list_users(admin)

    def deletions_left(self) -> bool:
        return sum(b.deleted for b in self.users) < self.max_deletions

    def purge_step(self) -> None:
        """Purges and lookups, for the database fault: sign in, then the admin ends them."""
        target = self.random.choice([b for b in self.users if not b.deleted] or self.users)
        with self.holding(target):
            if not target.signed_in:
                self.login(target)
        with self.holding(self.admin, target):
            if not self.admin.signed_in:
                self.login(self.admin)
            self.end_sessions(self.admin, target)
