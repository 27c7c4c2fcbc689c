"""The demo in a real browser: what a person sees when the policy says no, and when a
deleted user's open browser comes back.

Each person has their own browser context (their own cookies), like separate browsers.
Screenshots go to ``tests/artifacts/<test>/``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.browser.server import DEMO_PASSWORDS, DemoServer

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

pytestmark = pytest.mark.browser


def open_signed_in(browser: Browser, server: DemoServer, username: str) -> Page:
    from playwright.sync_api import expect

    context = browser.new_context(base_url=server.base_url)
    # A loaded 2-core CI machine can take seconds per page: wait, don't flake.
    context.set_default_timeout(20_000)
    page = context.new_page()
    page.goto("/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", DEMO_PASSWORDS[username])
    page.click("#sign-in")
    page.wait_for_url("**/sessions/")
    expect(page.locator("#signed-in-as")).to_have_text(username)
    return page


def test_alice_is_denied_and_deleted_bob_is_signed_out(
    browser: Browser, demo_server: DemoServer, artifacts: Path
) -> None:
    from playwright.sync_api import expect

    demo_server.seeded()
    bob = open_signed_in(browser, demo_server, "bob")
    bob.screenshot(path=artifacts / "1-bob-signed-in.png", full_page=True)

    # alice asks to end bob's sessions through the form that takes any email.
    alice = open_signed_in(browser, demo_server, "alice")
    alice.fill("#end-email", "bob@example.com")
    with alice.expect_response("**/sessions/end/") as answer:
        alice.click("#end-sessions")
    assert answer.value.status == 403
    expect(alice.locator("#denied h1")).to_have_text("Access denied")
    expect(alice.locator("#denied")).to_contain_text("Nothing was changed.")
    expect(alice.locator("#request-id")).not_to_be_empty()
    alice.screenshot(path=artifacts / "2-alice-denied.png", full_page=True)

    # Nothing changed: bob's browser is still signed in on its next page.
    bob.click("header >> text=My sessions")
    expect(bob.locator("#signed-in-as")).to_have_text("bob")

    # The admin deletes bob from the user list.
    admin = open_signed_in(browser, demo_server, "admin")
    admin.click("header >> text=Users")
    expect(admin.locator("#user-bob")).to_be_visible()
    admin.click("#delete-bob")
    expect(admin.locator(".messages")).to_contain_text("Deleted user bob")
    expect(admin.locator("#user-bob")).to_have_count(0)
    admin.screenshot(path=artifacts / "3-admin-deleted-bob.png", full_page=True)

    # bob's open browser: its next page is the sign-in page, as an anonymous visitor.
    bob.click("header >> text=My sessions")
    bob.wait_for_url("**/accounts/login/?next=/sessions/")
    expect(bob.locator("#signed-in-as")).to_have_count(0)
    expect(bob.locator("#sign-in")).to_be_visible()
    bob.screenshot(path=artifacts / "4-bob-signed-out.png", full_page=True)

    for page in (alice, bob, admin):
        page.context.close()


def test_my_sessions_ends_one_session_then_all_others(
    browser: Browser, demo_server: DemoServer, artifacts: Path
) -> None:
    from playwright.sync_api import expect

    demo_server.seeded()
    # Earlier tests may have left alice signed in elsewhere: start from this browser alone.
    laptop = open_signed_in(browser, demo_server, "alice")
    laptop.click("#end-others")
    phone = open_signed_in(browser, demo_server, "alice")
    tablet = open_signed_in(browser, demo_server, "alice")

    laptop.reload()
    rows = laptop.locator("#sessions tbody tr")
    expect(rows).to_have_count(3)
    expect(laptop.locator("#sessions")).to_contain_text("this browser")
    laptop.screenshot(path=artifacts / "1-three-sessions.png", full_page=True)

    # End the most recently seen other session (the tablet: it signed in last).
    laptop.locator("#sessions tbody tr", has_text="End").first.get_by_role("button").click()
    expect(laptop.locator(".messages")).to_contain_text("Ended 1 session.")
    expect(rows).to_have_count(2)
    tablet.reload()
    expect(tablet.locator("#sign-in")).to_be_visible()
    phone.reload()
    expect(phone.locator("#signed-in-as")).to_have_text("alice")

    laptop.click("#end-others")
    expect(laptop.locator(".messages")).to_contain_text("Ended 1 other session(s).")
    expect(rows).to_have_count(1)
    phone.reload()
    expect(phone.locator("#sign-in")).to_be_visible()
    expect(laptop.locator("#signed-in-as")).to_have_text("alice")
    laptop.screenshot(path=artifacts / "2-only-this-browser.png", full_page=True)

    for page in (laptop, phone, tablet):
        page.context.close()
