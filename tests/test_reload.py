"""Policy reload in one process: the two-polls rule, refusals, the signal, fork safety."""

from __future__ import annotations

import json
import logging
import os
import select
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import override_settings

from authzguard import reload, runtime
from authzguard.policy import Resource, Subject
from authzguard.signals import policy_reloaded
from tests.reload_support import GOOD, NEXT, WIDER, deploy, version_of


@pytest.fixture
def policy_dir(tmp_path: Path) -> Iterator[Path]:
    directory = tmp_path / "policies"
    directory.mkdir()
    deploy(directory, GOOD)
    with override_settings(
        AUTHZGUARD_POLICY_PATHS=[directory],
        AUTHZGUARD_RELOAD="poll",
        AUTHZGUARD_RELOAD_INTERVAL=3600,
    ):
        reload.reset_state()
        yield directory
    reload.reset_state()


@pytest.fixture
def swaps() -> Iterator[list[str]]:
    """The version of every policy ``policy_reloaded`` announces, in order."""
    seen: list[str] = []

    def record(sender: Any, policy: Any, previous_version: str | None, **kwargs: Any) -> None:
        seen.append(policy.version)

    policy_reloaded.connect(record, dispatch_uid="test-reload-swaps")
    yield seen
    policy_reloaded.disconnect(dispatch_uid="test-reload-swaps")


def settled(directory: Path) -> str:
    """Load the policy and let the poller learn the files it came from."""
    version = runtime.get_policy().version
    assert reload.poll() == "pending"  # the first look: contents not seen before
    assert reload.poll() == "same"  # the same policy: nothing swapped
    assert version == version_of(GOOD, directory.parent)
    return version


def closes_frozen(owner: int = 1) -> bool:
    subject = Subject(id=owner, username="u", roles=("authenticated",), authenticated=True)
    ticket = Resource("ticket", {"owner": owner, "status": "frozen"})
    return runtime.get_policy().decide(subject, "close", ticket).allowed


def test_a_version_is_taken_on_the_second_poll_that_sees_it(
    policy_dir: Path, swaps: list[str]
) -> None:
    good = settled(policy_dir)
    deploy(policy_dir, NEXT)
    assert reload.poll() == "pending"
    assert runtime.get_policy().version == good
    assert reload.poll() == "reloaded"
    assert runtime.get_policy().version == version_of(NEXT, policy_dir.parent)
    assert reload.poll() == "unchanged"
    assert swaps == [version_of(NEXT, policy_dir.parent)]


def test_a_file_still_being_written_is_not_taken(policy_dir: Path, swaps: list[str]) -> None:
    """Mid-write the file is valid and wider (its deny is not written yet): never taken."""
    settled(policy_dir)
    target = policy_dir / "policy.yaml"
    target.write_text(WIDER)  # in place, like an editor or a copy in progress
    assert reload.poll() == "pending"
    assert not closes_frozen()
    target.write_text(NEXT)  # the writer finishes before the next poll
    assert reload.poll() == "pending"  # changed since: seen once again
    assert not closes_frozen()
    assert reload.poll() == "reloaded"
    assert not closes_frozen()  # the deny of the finished file
    assert swaps == [version_of(NEXT, policy_dir.parent)]  # WIDER never served


BROKEN = {
    "garbage": b"\x00\xff{[: not yaml at all\n\t- ]]",
    "half written": GOOD[: len(GOOD) // 2].encode(),
    "empty": b"",
    "no rules": b"version: 1\n",
    "unknown action": GOOD.replace("actions: [read, close]", "actions: [raed]").encode(),
}


@pytest.mark.parametrize("kind", sorted(BROKEN))
def test_a_broken_version_never_replaces_the_good_one(
    policy_dir: Path, swaps: list[str], kind: str, caplog: pytest.LogCaptureFixture
) -> None:
    good = settled(policy_dir)
    (policy_dir / "policy.yaml").write_bytes(BROKEN[kind])
    caplog.set_level(logging.ERROR, logger="authzguard.reload")
    assert reload.poll() == "pending"
    assert reload.poll() == "refused"
    for _ in range(3):  # not retried, not logged again, until the files change
        assert reload.poll() == "refused"
    assert reload.poll(force=True) == "refused"  # an explicit reload is refused as well
    assert runtime.get_policy().version == good
    assert not closes_frozen()  # the good policy still decides
    assert swaps == []
    refusals = [r for r in caplog.records if "refused" in r.getMessage()]
    assert len(refusals) == 1, "the error is logged once per version of the files"
    status = reload.process_status()
    assert status["version"] == good
    assert status["last_error"]
    deploy(policy_dir, NEXT)  # the fix
    assert reload.poll() == "pending"
    assert reload.poll() == "reloaded"
    assert reload.process_status()["last_error"] is None


def test_a_deleted_file_never_leaves_an_empty_policy(policy_dir: Path, swaps: list[str]) -> None:
    good = settled(policy_dir)
    (policy_dir / "policy.yaml").unlink()
    assert reload.poll() == "pending"
    assert reload.poll() == "refused"
    assert runtime.get_policy().version == good
    assert swaps == []


def test_a_failed_first_load_is_replaced_once_the_files_are_fixed(
    policy_dir: Path, swaps: list[str]
) -> None:
    (policy_dir / "policy.yaml").write_text("version: 1\nrules: {oops: 1}\n")
    with pytest.raises(Exception, match="rules"):
        runtime.get_policy()
    assert reload.process_status()["version"] is None
    deploy(policy_dir, GOOD)
    assert reload.poll() == "pending"
    assert reload.poll() == "reloaded"
    assert runtime.get_policy().version == version_of(GOOD, policy_dir.parent)
    assert len(swaps) == 1


def test_the_signal_is_sent_once_per_swap(policy_dir: Path, swaps: list[str]) -> None:
    settled(policy_dir)
    (policy_dir / "policy.yaml").write_text(GOOD + "\n# a comment: new bytes, same policy\n")
    assert reload.poll() == "pending"
    assert reload.poll() == "same"
    assert swaps == []
    deploy(policy_dir, NEXT)
    reload.poll()
    reload.poll()
    reload.poll()
    assert len(swaps) == 1
    runtime.reload_policy()  # the public API announces its swaps too
    assert len(swaps) == 2


def test_a_forced_poll_takes_the_files_at_once(policy_dir: Path, swaps: list[str]) -> None:
    settled(policy_dir)
    deploy(policy_dir, NEXT)
    assert reload.poll(force=True) == "reloaded"
    assert swaps == [version_of(NEXT, policy_dir.parent)]


def test_requests_poll_at_most_once_per_interval(policy_dir: Path) -> None:
    settled(policy_dir)
    with override_settings(AUTHZGUARD_RELOAD_INTERVAL=3600):
        reload.reset_state()
        reload.maybe_poll()  # the first poll of this interval
        deploy(policy_dir, NEXT)
        for _ in range(5):
            reload.maybe_poll()  # within the interval: no look at the files
        assert reload.poll() == "pending"  # the change is news to the poller


# -- through real requests -----------------------------------------------------------


@pytest.fixture
def enforcement_copy(tmp_path: Path) -> Iterator[Path]:
    source = Path(__file__).parent / "policies" / "enforcement.yaml"
    directory = tmp_path / "enforcement"
    directory.mkdir()
    deploy(directory, source.read_text(), "enforcement.yaml")
    with override_settings(
        AUTHZGUARD_POLICY_PATHS=[directory],
        AUTHZGUARD_RELOAD="poll",
        AUTHZGUARD_RELOAD_INTERVAL=0.001,
    ):
        reload.reset_state()
        yield directory
    reload.reset_state()


DENY_READS = (
    "  - id: accounts-frozen\n    effect: deny\n    subjects: ['*']\n    actions: [read]\n"
    "    resource: user\n  - id: read-self\n"
)


def test_requests_pick_up_a_new_policy_after_two_polls(
    client: Any, alice: Any, enforcement_copy: Path, swaps: list[str]
) -> None:
    client.force_login(alice)
    url = f"/users/{alice.pk}/"
    assert client.get(url).status_code == 200
    assert client.get(url).status_code == 200  # the poller now knows the files
    text = (enforcement_copy / "enforcement.yaml").read_text()
    deploy(enforcement_copy, text.replace("  - id: read-self\n", DENY_READS), "enforcement.yaml")
    statuses = []
    for _ in range(3):
        reload._state.next_poll = 0.0  # the interval has passed (no sleeping in tests)
        statuses.append(client.get(url).status_code)
    assert statuses[0] == 200, "taken on the first poll that saw it"
    assert statuses[-1] == 403
    assert len(swaps) == 1


# -- fork safety ----------------------------------------------------------------------


def test_a_forked_child_polls_on_its_own(policy_dir: Path) -> None:
    settled(policy_dir)
    read_end, write_end = os.pipe()
    state = reload._state
    with state.lock:  # held by the parent at fork time: the child must not inherit it held
        pid = os.fork()
        if pid == 0:  # the child
            code = 1
            try:
                os.close(read_end)
                deploy(policy_dir, NEXT)
                outcomes = [reload.poll(), reload.poll()]
                result = {"outcomes": outcomes, "version": runtime.get_policy().version}
                os.write(write_end, json.dumps(result).encode())
                code = 0
            finally:
                os._exit(code)
    os.close(write_end)
    ready, _, _ = select.select([read_end], [], [], 60)  # a child stuck on a lock: fail
    if not ready:
        os.kill(pid, signal.SIGKILL)
    with os.fdopen(read_end) as pipe:
        result = json.loads(pipe.read() if ready else "{}")
    _, status = os.waitpid(pid, 0)
    assert ready, "the child hung: it inherited the parent's state (and its held lock)"
    assert os.waitstatus_to_exitcode(status) == 0
    # A fresh state in the child: the policy it inherited is unknown to its poller, so the
    # first poll only sees the files, and the second takes them.
    assert result["outcomes"] == ["pending", "reloaded"]
    assert result["version"] == version_of(NEXT, policy_dir.parent)
    assert runtime.get_policy().version == version_of(GOOD, policy_dir.parent)  # the parent


# -- authzguard_reload and authzguard_status in one process --------------------------


def test_reload_command_with_reload_off_says_what_is_needed(policy_dir: Path) -> None:
    with (
        override_settings(AUTHZGUARD_RELOAD="off"),
        pytest.raises(CommandError, match=r"poll.*NOTIFY.*restart"),
    ):
        call_command("authzguard_reload")


def test_reload_command_refuses_broken_files(policy_dir: Path) -> None:
    (policy_dir / "policy.yaml").write_text("version: 1\nrules: {oops: 1}\n")
    with pytest.raises(CommandError, match="refused, nothing announced"):
        call_command("authzguard_reload")
    assert not (policy_dir / reload.STAMP_NAME).exists()


def test_reload_command_when_polling_has_workers_take_it_at_the_next_poll(
    policy_dir: Path, swaps: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    settled(policy_dir)
    deploy(policy_dir, NEXT)
    call_command("authzguard_reload")
    assert "Stamped version" in capsys.readouterr().out
    assert reload.poll() == "reloaded"  # one poll: the deploy said so
    assert swaps == [version_of(NEXT, policy_dir.parent)]
    assert reload.poll() == "unchanged"


def test_status_command_flags_this_process_behind_its_files(
    policy_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The issue's developer: files edited under a running server with reload off."""
    good = settled(policy_dir)
    call_command("authzguard_status")
    out = capsys.readouterr().out
    assert f"{os.getpid()}" in out and good[:12] in out and "LAGGING" not in out
    deploy(policy_dir, NEXT)
    # No poll between the edit and the status (a settings override would reload).
    with pytest.raises(CommandError, match="1 of 1 workers lag") as raised:
        call_command("authzguard_status")
    assert raised.value.returncode == 1
    assert "LAGGING" in capsys.readouterr().out
    with pytest.raises(CommandError):
        call_command("authzguard_status", "--json")
    report = json.loads(capsys.readouterr().out)
    assert report["workers"][0]["version"] == good
    assert report["expected"] == version_of(NEXT, policy_dir.parent)
    assert report["workers"][0]["lagging"] is True


# -- the status view ------------------------------------------------------------------


@pytest.mark.django_db
def test_status_view_is_for_staff_only(client: Any, alice: Any, policy_dir: Path) -> None:
    from django.contrib.auth.models import User

    with override_settings(AUTHZGUARD_DENY_BY_DEFAULT=True):
        anonymous = client.get("/authzguard/status/")
        assert anonymous.status_code == 302 and "login" in anonymous["Location"]
        client.force_login(alice)
        assert client.get("/authzguard/status/").status_code == 403
        staff = User.objects.create_user("sam", "sam@example.com", "pw", is_staff=True)
        client.force_login(staff)
        response = client.get("/authzguard/status/")
        assert response.status_code == 200
        report = response.json()
        assert [w["pid"] for w in report["workers"]] == [os.getpid()]
        assert report["lagging"] == 0
        assert client.post("/authzguard/status/").status_code == 405
