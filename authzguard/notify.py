"""Reload notifications and worker heartbeats through Redis or PostgreSQL.

Only the signal and the status travel: the policy files ship with the code. A deploy
publishes the version it expects (``publish``); each worker's listener thread takes it
if its own files give that version (``reload.take_published``), and records a heartbeat
every ``AUTHZGUARD_RELOAD_INTERVAL`` seconds. The thread starts lazily, on the first
request a worker serves, so it never runs in a parent that forks (gunicorn
``--preload``); a forked child forgets the parent's thread and connections.
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Protocol

from django.core.exceptions import ImproperlyConfigured

from authzguard import reload
from authzguard.conf import settings

logger = logging.getLogger("authzguard.reload")

#: Django-only keys of DATABASES[...]["OPTIONS"], not connection parameters of libpq.
_DJANGO_OPTIONS = frozenset({"pool", "isolation_level", "server_side_binding", "assume_role"})
_PG_LOCK_KEY = 0x6175_7468_7A67  # "authzg": serialises the CREATE TABLE of two workers


def import_client(module: str, extra: str) -> Any:
    """Import redis-py or psycopg lazily, saying which extra installs it when missing."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ImproperlyConfigured(
            f"AUTHZGUARD_RELOAD_NOTIFY needs the {module!r} package: "
            f"pip install 'authzguard[{extra}]'"
        ) from exc


def heartbeat_ttl() -> float:
    """Seconds after its last heartbeat a worker counts as gone."""
    return max(10.0, 3 * settings.RELOAD_INTERVAL)


class Subscription(Protocol):
    def wait(self, timeout: float) -> str | None:
        """The next published version, or ``None`` after ``timeout`` seconds."""


class Backend(Protocol):
    kind: str

    def publish(self, version: str) -> None: ...

    def expected_version(self) -> str | None: ...

    def subscribe(self) -> Any: ...  # a context manager yielding a Subscription

    def write_heartbeat(self, record: dict[str, Any]) -> None: ...

    def heartbeats(self) -> list[dict[str, Any]]: ...


def _message_version(payload: Any) -> str | None:
    if isinstance(payload, bytes):
        payload = payload.decode("utf-8", "replace")
    try:
        version = json.loads(payload)["version"]
    except (ValueError, KeyError, TypeError):
        logger.warning("authzguard: ignoring a malformed reload notification %r", payload)
        return None
    return version if isinstance(version, str) else None


def _publication(version: str) -> str:
    from authzguard.reload import process_status

    sender = process_status()
    return json.dumps({"version": version, "by": f"{sender['host']}:{sender['pid']}"})


# -- Redis ----------------------------------------------------------------------------


class RedisBackend:
    """Pub/sub on ``<channel>:reload``; ``<channel>:expected`` and ``<channel>:worker:*``."""

    kind = "redis"

    def __init__(self, url: str, channel: str) -> None:
        self._redis = import_client("redis", "redis")
        self.url, self.channel = url, channel
        self.client = self._redis.Redis.from_url(url, socket_connect_timeout=5, socket_timeout=5)

    def publish(self, version: str) -> None:
        with self.client.pipeline() as pipe:
            pipe.set(f"{self.channel}:expected", version)
            pipe.publish(f"{self.channel}:reload", _publication(version))
            pipe.execute()

    def expected_version(self) -> str | None:
        value = self.client.get(f"{self.channel}:expected")
        return value.decode() if isinstance(value, bytes) else value

    @contextmanager
    def subscribe(self) -> Iterator[Subscription]:
        # A client of its own without a read timeout: waiting is its whole job.
        client = self._redis.Redis.from_url(self.url, socket_connect_timeout=5)
        pubsub = client.pubsub(ignore_subscribe_messages=True)
        try:
            pubsub.subscribe(f"{self.channel}:reload")
            yield _RedisSubscription(pubsub)
        finally:
            pubsub.close()
            client.close()

    def write_heartbeat(self, record: dict[str, Any]) -> None:
        key = f"{self.channel}:worker:{record['host']}:{record['pid']}"
        self.client.set(key, json.dumps(record), px=int(heartbeat_ttl() * 1000))

    def heartbeats(self) -> list[dict[str, Any]]:
        keys = sorted(self.client.scan_iter(match=f"{self.channel}:worker:*", count=500))
        values = self.client.mget(keys) if keys else []
        return [json.loads(value) for value in values if value is not None]


class _RedisSubscription:
    def __init__(self, pubsub: Any) -> None:
        self.pubsub = pubsub

    def wait(self, timeout: float) -> str | None:
        message = self.pubsub.get_message(timeout=timeout)
        if message is None or message.get("type") != "message":
            return None
        return _message_version(message["data"])


# -- PostgreSQL -----------------------------------------------------------------------

_TABLES = """
CREATE TABLE IF NOT EXISTS authzguard_reload_worker (
    channel text NOT NULL, host text NOT NULL, pid integer NOT NULL,
    record jsonb NOT NULL, seen_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (channel, host, pid));
CREATE TABLE IF NOT EXISTS authzguard_reload_expected (
    channel text PRIMARY KEY, version text NOT NULL,
    published_at timestamptz NOT NULL DEFAULT now());
"""


def postgres_parameters(alias: str = "default") -> dict[str, Any]:
    """libpq parameters of a Django database: a dedicated connection, outside any pool."""
    from django.db import connections

    connection = connections[alias]
    if connection.vendor != "postgresql":
        raise ImproperlyConfigured(
            f'AUTHZGUARD_RELOAD_NOTIFY = "postgres" needs a PostgreSQL database {alias!r}'
        )
    db = connection.settings_dict
    params: dict[str, Any] = {
        key: db.get(name)
        for key, name in (
            ("dbname", "NAME"),
            ("user", "USER"),
            ("password", "PASSWORD"),
            ("host", "HOST"),
            ("port", "PORT"),
        )
        if db.get(name)
    }
    options = db.get("OPTIONS") or {}
    params.update({k: v for k, v in options.items() if k not in _DJANGO_OPTIONS})
    params.setdefault("connect_timeout", 5)
    return params


class PostgresBackend:
    """LISTEN/NOTIFY on ``channel``; heartbeats in ``authzguard_reload_worker``."""

    kind = "postgres"

    def __init__(self, params: dict[str, Any], channel: str) -> None:
        self._psycopg = import_client("psycopg", "postgres")
        self.params, self.channel = params, channel

    @contextmanager
    def _connection(self) -> Iterator[Any]:
        with self._psycopg.connect(**self.params, autocommit=True) as connection:
            with connection.transaction():
                connection.execute("SELECT pg_advisory_xact_lock(%s)", (_PG_LOCK_KEY,))
                connection.execute(_TABLES)
            yield connection

    def publish(self, version: str) -> None:
        with self._connection() as connection, connection.transaction():
            connection.execute(
                "INSERT INTO authzguard_reload_expected (channel, version) VALUES (%s, %s) "
                "ON CONFLICT (channel) DO UPDATE SET version = EXCLUDED.version, "
                "published_at = now()",
                (self.channel, version),
            )
            # Delivered at commit, together with the expected version.
            connection.execute("SELECT pg_notify(%s, %s)", (self.channel, _publication(version)))

    def expected_version(self) -> str | None:
        with self._connection() as connection:
            row = connection.execute(
                "SELECT version FROM authzguard_reload_expected WHERE channel = %s",
                (self.channel,),
            ).fetchone()
        return str(row[0]) if row else None

    @contextmanager
    def subscribe(self) -> Iterator[Subscription]:
        with self._connection() as connection:
            from psycopg import sql

            connection.execute(sql.SQL("LISTEN {}").format(sql.Identifier(self.channel)))
            self._listening = connection
            yield _PostgresSubscription(connection)

    def write_heartbeat(self, record: dict[str, Any]) -> None:
        connection = getattr(self, "_listening", None)
        if connection is None or connection.closed:
            with self._connection() as fresh:
                self._upsert(fresh, record)
        else:
            self._upsert(connection, record)

    def _upsert(self, connection: Any, record: dict[str, Any]) -> None:
        connection.execute(
            "INSERT INTO authzguard_reload_worker (channel, host, pid, record) "
            "VALUES (%s, %s, %s, %s) ON CONFLICT (channel, host, pid) DO UPDATE "
            "SET record = EXCLUDED.record, seen_at = now()",
            (self.channel, record["host"], record["pid"], json.dumps(record)),
        )

    def heartbeats(self) -> list[dict[str, Any]]:
        with self._connection() as connection:
            rows = connection.execute(
                "SELECT record FROM authzguard_reload_worker WHERE channel = %s "
                "AND seen_at > now() - make_interval(secs => %s) ORDER BY host, pid",
                (self.channel, heartbeat_ttl()),
            ).fetchall()
        return [row[0] if isinstance(row[0], dict) else json.loads(row[0]) for row in rows]


class _PostgresSubscription:
    def __init__(self, connection: Any) -> None:
        self.connection = connection

    def wait(self, timeout: float) -> str | None:
        for notification in self.connection.notifies(timeout=timeout, stop_after=1):
            return _message_version(notification.payload)
        return None


def get_backend() -> Backend | None:
    """The backend ``AUTHZGUARD_RELOAD_NOTIFY`` names, or ``None`` when it is off."""
    kind = settings.RELOAD_NOTIFY
    if kind is None:
        return None
    channel = settings.NOTIFY_CHANNEL
    if kind == "redis":
        url = settings.REDIS_URL
        if not url:
            raise ImproperlyConfigured(
                'AUTHZGUARD_RELOAD_NOTIFY = "redis" needs AUTHZGUARD_REDIS_URL'
            )
        return RedisBackend(url, channel)
    if kind == "postgres":
        return PostgresBackend(postgres_parameters(), channel)
    raise ImproperlyConfigured(
        f'AUTHZGUARD_RELOAD_NOTIFY must be None, "redis" or "postgres", not {kind!r}'
    )


# -- the listener thread --------------------------------------------------------------


class Listener(threading.Thread):
    """One per worker process: waits for notifications, polls, and beats."""

    def __init__(self, backend: Backend, config: tuple[Any, ...]) -> None:
        super().__init__(name="authzguard-reload-listener", daemon=True)
        self.backend, self.config = backend, config
        self.stopping = threading.Event()
        self.connected = threading.Event()
        self.error: str | None = None

    def run(self) -> None:
        delay = 1.0
        while not self.stopping.is_set() and _config() == self.config:
            try:
                with self.backend.subscribe() as subscription:
                    self.connected.set()
                    self.error, delay = None, 1.0
                    self._catch_up()
                    self._serve(subscription)
            except Exception as exc:
                self.connected.clear()
                if self.error != str(exc):
                    logger.warning("authzguard: reload notifications interrupted: %s", exc)
                self.error = str(exc)
                self.stopping.wait(delay)
                delay = min(delay * 2, 30.0)

    def _catch_up(self) -> None:
        # A worker started (or reconnected) after a publication takes it now.
        version = self.backend.expected_version()
        if version is not None:
            reload.take_published(version)
        self._beat()

    def _serve(self, subscription: Subscription) -> None:
        while not self.stopping.is_set() and _config() == self.config:
            version = subscription.wait(settings.RELOAD_INTERVAL)
            if version is not None:
                reload.take_published(version)
            else:
                reload.retry_lagging()
            if settings.RELOAD == "poll":
                reload.maybe_poll()
            self._beat()

    def _beat(self) -> None:
        record = reload.process_status()
        record["notify_error"] = self.error
        self.backend.write_heartbeat(record)


_listener: Listener | None = None
_listener_lock = threading.Lock()


def _config() -> tuple[Any, ...]:
    return (settings.RELOAD_NOTIFY, settings.REDIS_URL, settings.NOTIFY_CHANNEL, os.getpid())


def ensure_listener() -> Listener | None:
    """Start this process's listener if notify is on and it is not running (cheap)."""
    global _listener
    listener = _listener
    config = _config()
    if listener is not None and listener.is_alive() and listener.config == config:
        return listener
    if config[0] is None:
        return None
    with _listener_lock:
        if _listener is None or not _listener.is_alive() or _listener.config != config:
            if _listener is not None:
                _listener.stopping.set()
            backend = get_backend()
            if backend is None:
                return None
            _listener = Listener(backend, config)
            _listener.start()
        return _listener


def stop_listener() -> None:
    """Stop this process's listener (tests; it is a daemon thread otherwise)."""
    global _listener
    with _listener_lock:
        if _listener is not None:
            _listener.stopping.set()
            _listener.join(timeout=30)
            _listener = None


def _forget_after_fork() -> None:
    global _listener, _listener_lock
    # The thread does not exist in the child; its sockets belong to the parent.
    _listener, _listener_lock = None, threading.Lock()


os.register_at_fork(after_in_child=_forget_after_fork)


def current_listener() -> Listener | None:
    return _listener
