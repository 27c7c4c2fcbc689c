"""The demo's seeded accounts: one place, used by ``seed_demo``, the docs and the tests."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DemoAccount:
    username: str
    email: str
    password: str
    is_superuser: bool = False


# Documented in README.md and docs/tutorial.md. They are demo credentials for a site
# bound to 127.0.0.1; never reuse them anywhere else.
DEMO_ACCOUNTS: tuple[DemoAccount, ...] = (
    DemoAccount("admin", "admin@example.com", "admin-demo-password", is_superuser=True),
    DemoAccount("alice", "alice@example.com", "alice-demo-password"),
    DemoAccount("bob", "bob@example.com", "bob-demo-password"),
)
