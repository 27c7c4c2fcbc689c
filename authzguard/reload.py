"""Policy reload in one process: file fingerprints, the two-polls rule, forced reloads.

A poll stats every policy file and lists every policy directory; only when that changed
does it hash the contents. New contents are taken once two polls in a row have seen
them unchanged (a file being written, or a deploy half copied, moves between polls), or
at once when a deploy names the version it expects (``authzguard_reload``: a published
notification, or the deploy stamp file when only polling). The new policy is built and
fully checked, the files are hashed again to be sure they did not move meanwhile, and
only then does one assignment in ``runtime`` make it current. A refused version leaves
the last good policy serving; its error is logged once and shown in the status.

State is per process: a forked child starts afresh (``os.register_at_fork``).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import socket
import stat
import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from django.core.signals import setting_changed
from django.dispatch import receiver

from authzguard import runtime
from authzguard.conf import settings
from authzguard.policy import CompiledPolicy, loader

logger = logging.getLogger("authzguard.reload")

#: The deploy stamp ``authzguard_reload`` writes when workers only poll: JSON naming the
#: version they should take at their next poll, without waiting for a second one.
STAMP_NAME = ".authzguard-reload"
_SUFFIXES = (".yaml", ".yml")

StatKey = tuple[tuple[Any, ...], ...]


class ProcessState:
    """What this process knows about its policy files and the version it should run."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.next_poll = 0.0
        self.stat_key: StatKey | None = None
        self.digest: str | None = None  # content digest of the files at ``stat_key``
        self.candidate: str | None = None  # new contents seen by the last poll
        self.taken: str | None = None  # contents the current policy was built from
        self.refused: str | None = None  # contents refused: not tried again until they change
        self.attempted: tuple[str, str] | None = None  # (contents, expected) already tried
        self.last_error: str | None = None
        self.expected: str | None = None  # version a deploy published (or stamped)
        self.stamp_key: tuple[Any, ...] | None = None
        self.loaded_version: str | None = None
        self.loaded_at: datetime | None = None


_state = ProcessState()


def _forget_after_fork() -> None:
    global _state
    # The parent's lock may have been held by one of its threads; the child starts clean.
    _state = ProcessState()


os.register_at_fork(after_in_child=_forget_after_fork)


def reset_state() -> None:
    """Forget every fingerprint and expectation (tests; a settings change)."""
    _forget_after_fork()


# -- fingerprints ---------------------------------------------------------------------


def policy_files(paths: Sequence[str | Path]) -> list[Path]:
    """The files the loader reads: each file given, and each directory's policy files."""
    return loader.policy_files(paths)[0]


def stat_key(paths: Sequence[str | Path]) -> StatKey:
    """Cheap: mtime, size and inode of every file, and every directory's listing."""
    entries: list[tuple[Any, ...]] = []
    for raw in paths:
        try:
            info = os.stat(raw)
        except OSError:
            entries.append((str(raw), "missing"))
            continue
        if not stat.S_ISDIR(info.st_mode):
            entries.append((str(raw), info.st_mtime_ns, info.st_size, info.st_ino))
            continue
        entries.append((str(raw), "dir", info.st_mtime_ns, info.st_ino))
        with os.scandir(raw) as listing:
            for entry in sorted(listing, key=lambda e: e.name):
                if entry.name.endswith(_SUFFIXES) and not loader.is_policy_test_file(
                    Path(entry.name)
                ):
                    try:
                        child = entry.stat()
                    except OSError:  # removed since the listing
                        entries.append((entry.path, "missing"))
                        continue
                    entries.append((entry.path, child.st_mtime_ns, child.st_size, child.st_ino))
    return tuple(entries)


def content_digest(paths: Sequence[str | Path]) -> str:
    """A hash of every policy file's name and bytes (read up to the size limit)."""
    digest = hashlib.sha256()
    limit = settings.MAX_POLICY_BYTES + 1
    for path in policy_files(paths):
        digest.update(str(path).encode() + b"\0")
        try:
            with path.open("rb") as handle:
                data = handle.read(limit)
        except OSError as exc:
            data = f"<unreadable: {exc.strerror}>".encode()
        digest.update(len(data).to_bytes(8, "big") + data)
    return digest.hexdigest()


def _files_digest(state: ProcessState, paths: Sequence[str | Path]) -> str:
    key = stat_key(paths)
    if key != state.stat_key or state.digest is None:
        state.stat_key, state.digest = key, content_digest(paths)
    return state.digest


def stamp_path(paths: Sequence[str | Path]) -> Path | None:
    """Where ``authzguard_reload`` stamps the expected version for polling workers."""
    if not paths:
        return None
    first = Path(paths[0])
    return (first if first.is_dir() else first.parent) / STAMP_NAME


def write_stamp(paths: Sequence[str | Path], version: str) -> Path:
    """Write the deploy stamp atomically (a temporary file renamed over it)."""
    target = stamp_path(paths)
    if target is None:
        raise ValueError("AUTHZGUARD_POLICY_PATHS is empty")
    temporary = target.with_name(f"{STAMP_NAME}.{os.getpid()}.tmp")
    temporary.write_text(json.dumps({"version": version, "at": _now().isoformat()}))
    temporary.replace(target)
    return target


def _read_stamp(state: ProcessState, paths: Sequence[str | Path]) -> None:
    target = stamp_path(paths)
    try:
        info = os.stat(target) if target is not None else None
    except OSError:
        info = None
    key = (info.st_mtime_ns, info.st_size, info.st_ino) if info is not None else None
    if key == state.stamp_key or target is None or info is None:
        state.stamp_key = key
        return
    state.stamp_key = key
    try:
        version = json.loads(target.read_text())["version"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        logger.warning("authzguard: ignoring the unreadable deploy stamp %s: %s", target, exc)
        return
    if isinstance(version, str):
        state.expected = version


# -- taking a new version -------------------------------------------------------------


def _now() -> datetime:
    return datetime.now(UTC)


def _take(state: ProcessState, digest: str, expected: str | None) -> str:
    """Build the files' policy, check it, and make it current; returns the outcome."""
    paths = settings.POLICY_PATHS
    current = runtime.loaded_policy()
    if expected is not None:
        state.attempted = (digest, expected)
    try:
        fresh = runtime.build_policy()
        if not fresh.policy.rules:
            raise ValueError("the new policy has no rules (an emptied file?)")
    except Exception as exc:
        return _refuse(state, digest, current, exc)
    if content_digest(paths) != digest:
        state.candidate = None  # moved while loading: start over at the next poll
        return "changed"
    if expected is not None and fresh.version != expected:
        logger.warning(
            "authzguard: version %s was published, but this host's policy files give %s; "
            "keeping %s until the files arrive",
            expected[:12],
            fresh.version[:12],
            current.version[:12] if current is not None else "no policy",
        )
        return "lagging"
    state.taken, state.refused, state.candidate, state.last_error = digest, None, None, None
    if current is not None and current.version == fresh.version:
        return "same"
    if not runtime.replace_policy(fresh, current):
        state.taken = None  # someone else reloaded meanwhile: look again next time
        return "raced"
    _record_loaded(state, fresh)
    logger.info(
        "authzguard: policy version %s replaced %s",
        fresh.version[:12],
        current.version[:12] if current is not None else "no policy",
    )
    return "reloaded"


def _refuse(
    state: ProcessState, digest: str, current: CompiledPolicy | None, exc: Exception
) -> str:
    if state.refused != digest:  # once per version of the files
        logger.error(
            "authzguard: the policy files changed but are refused; %s keeps serving: %s",
            f"version {current.version[:12]}" if current is not None else "no policy",
            exc,
        )
    state.refused, state.candidate = digest, None
    state.last_error = f"{type(exc).__name__}: {exc}"
    return "refused"


def _record_loaded(state: ProcessState, policy: CompiledPolicy) -> None:
    state.loaded_version, state.loaded_at = policy.version, _now()


def _poll_locked(state: ProcessState, force: bool) -> str:
    paths = settings.POLICY_PATHS
    if not paths:
        return "unchanged"  # nothing to watch; the system checks say so
    digest = _files_digest(state, paths)
    _read_stamp(state, paths)
    if force:
        return _take(state, digest, None)
    lagging = _lagging_retry(state, digest)
    if lagging is not None:
        return lagging
    if digest == state.taken:
        state.candidate = None
        return "unchanged"
    if digest == state.refused:
        return "refused"
    if digest != state.candidate:
        state.candidate = digest
        return "pending"
    return _take(state, digest, None)


def _lagging_retry(state: ProcessState, digest: str) -> str | None:
    """A deploy named a version this process does not run: try once per change of files."""
    expected = state.expected
    current = runtime.loaded_policy()
    if expected is None or (current is not None and current.version == expected):
        return None
    if state.attempted == (digest, expected):
        return None
    return _take(state, digest, expected)


# -- entry points ---------------------------------------------------------------------


def poll(*, force: bool = False) -> str:
    """Look at the policy files now, in this process; ``force`` skips the two-polls wait.

    Returns what happened: ``"unchanged"``, ``"pending"`` (new contents seen once),
    ``"reloaded"``, ``"same"`` (new files, same policy), ``"refused"``, ``"changed"``
    (the files moved while loading), ``"lagging"`` or ``"raced"``.
    """
    state = _state
    with state.lock:
        state.next_poll = time.monotonic() + settings.RELOAD_INTERVAL
        return _poll_locked(state, force)


def maybe_poll() -> None:
    """Poll if the interval has passed since the last poll; never waits for another."""
    state = _state
    now = time.monotonic()
    if now < state.next_poll or not state.lock.acquire(blocking=False):
        return
    try:
        state.next_poll = now + settings.RELOAD_INTERVAL
        _poll_locked(state, force=False)
    finally:
        state.lock.release()


def take_published(version: str) -> str:
    """A deploy published ``version``: take it now if this host's files give it."""
    state = _state
    with state.lock:
        state.expected = version
        current = runtime.loaded_policy()
        if current is not None and current.version == version:
            return "same"
        paths = settings.POLICY_PATHS
        if not paths:
            return "lagging"
        return _take(state, _files_digest(state, paths), version)


def retry_lagging() -> None:
    """While this process lags behind the published version, try again when files change."""
    state = _state
    with state.lock:
        paths = settings.POLICY_PATHS
        if paths and state.expected is not None:
            _lagging_retry(state, _files_digest(state, paths))


_warned: set[str] = set()


def on_request() -> None:
    """Called by the middleware on every request: cheap, and never affects the decision."""
    try:
        if settings.RELOAD_NOTIFY:
            from authzguard.notify import ensure_listener

            ensure_listener()
        if settings.RELOAD == "poll":
            maybe_poll()
    except Exception as exc:  # a reload problem must not turn into a 500
        kind = type(exc).__name__
        if kind not in _warned:
            _warned.add(kind)
            logger.exception("authzguard: policy reload check failed (%s)", kind)


def process_status() -> dict[str, Any]:
    """This process's record: what the heartbeat stores and the status view shows."""
    state = _state
    current = runtime.loaded_policy()
    error = state.last_error
    if current is None:
        try:
            current = runtime.get_policy()
        except Exception as exc:
            error = error or f"{type(exc).__name__}: {exc}"
    version = current.version if current is not None else None
    if version is not None and version != state.loaded_version:
        state.loaded_version, state.loaded_at = version, _now()
    expected = state.expected
    return {
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "version": version,
        "loaded_at": state.loaded_at.isoformat() if state.loaded_at else None,
        "last_error": error,
        "expected": expected,
        "lagging": expected is not None and version != expected,
    }


@receiver(setting_changed)
def _on_setting_changed(*, setting: str, **kwargs: Any) -> None:
    if setting.startswith("AUTHZGUARD_"):
        reset_state()
