"""Which policy version every live worker runs, and which ones lag behind.

With a notify backend the workers' heartbeats come from Redis or PostgreSQL; without
one, only this process can be seen. The expected version is the last one a deploy
published, else the version of this host's policy files.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from authzguard import reload, runtime
from authzguard.conf import settings
from authzguard.notify import get_backend


@lru_cache(maxsize=8)
def _version_of(digest: str, paths: tuple[str, ...], engine: str) -> tuple[str | None, str | None]:
    # Keyed by the files' content digest: a status poll costs a stat, not a compile.
    try:
        return runtime.build_policy().version, None
    except Exception as exc:
        return None, f"{type(exc).__name__}: {exc}"


def files_version() -> tuple[str | None, str | None]:
    """The version this host's policy files give, or the error that refuses them."""
    paths = settings.POLICY_PATHS
    if not paths:
        return None, "AUTHZGUARD_POLICY_PATHS is empty"
    digest = reload.content_digest(paths)
    return _version_of(digest, tuple(str(p) for p in paths), settings.ENGINE)


def collect_status() -> dict[str, Any]:
    """The status report the command prints and the view serves (JSON-ready)."""
    backend = get_backend()
    published: str | None = None
    if backend is None:
        workers = [reload.process_status()]
    else:
        workers = backend.heartbeats()
        published = backend.expected_version()
    version, error = files_version()
    expected = published or version
    for worker in workers:
        worker["lagging"] = expected is not None and worker.get("version") != expected
    return {
        "notify": backend.kind if backend is not None else None,
        "channel": settings.NOTIFY_CHANNEL if backend is not None else None,
        "reload": settings.RELOAD,
        "expected": expected,
        "expected_from": "published" if published else "files",
        "files_version": version,
        "files_error": error,
        "workers": sorted(workers, key=lambda w: (str(w.get("host")), int(w.get("pid", 0)))),
        "lagging": sum(1 for worker in workers if worker["lagging"]),
    }
