"""Django's Redis cache, with one Redis client per connection pool instead of one per call.

Django's `RedisCacheClient.get_client` builds a new `redis.Redis` for every cache operation, and
building one registers a few hundred response callbacks: on a small server that was the largest
cost of an API call after the database (about 0.25 ms per cache operation). A client is safe to
share between threads (each command takes a connection from the pool), and the pool itself
reconnects after a fork, so one client per pool serves every caller.
"""

from __future__ import annotations

import pickle
import threading
import time
from typing import Any

from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache as DjangoRedisCache
from django.core.cache.backends.redis import RedisCacheClient as DjangoRedisCacheClient


class RedisCacheClient(DjangoRedisCacheClient):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._clients: dict[int, Any] = {}
        self._clients_lock = threading.Lock()

    def get_client(self, key: Any = None, *, write: bool = False) -> Any:
        pool = self._get_connection_pool(write)  # type: ignore[attr-defined]  # Django's
        client = self._clients.get(id(pool))
        if client is None:
            with self._clients_lock:
                client = self._clients.setdefault(
                    id(pool),
                    self._client(connection_pool=pool),  # type: ignore[attr-defined]  # Django's
                )
        return client


class RedisCache(DjangoRedisCache):
    def __init__(self, server: str, params: dict[str, Any]) -> None:
        super().__init__(server, params)
        self._class = RedisCacheClient

    def count(self, key: str, ttl: int) -> int:
        """Add one to the counter `key` (created with a lifetime of `ttl` seconds); one round trip."""
        key = self.make_and_validate_key(key)
        pipe = self._cache.get_client(key, write=True).pipeline(transaction=False)
        pipe.set(key, 0, ex=ttl, nx=True)
        pipe.incr(key)
        return int(pipe.execute()[1])


def counter_add(key: str, ttl: int) -> int:
    """Add one to a counter that lives `ttl` seconds from its first count; return the new value.

    One round trip on Redis; other caches (local memory, for the embedded set-up) add and count.
    """
    backend = caches["default"]
    if isinstance(backend, RedisCache):
        return backend.count(key, ttl)
    backend.add(key, 0, ttl)
    try:
        return int(backend.incr(key))
    except ValueError:  # expired between the two calls: this call opens a new count
        backend.set(key, 1, ttl)
        return 1


def cache_read_and_count(
    keys: list[str], counter: tuple[str, int] | None, *, present: list[str] | None = None
) -> tuple[dict[str, Any], int | None]:
    """Read `keys` (the found ones are returned), see which of `present` exist (returned as
    True, without their values) and add one to `counter` (key, lifetime in seconds; its new
    value is returned): one round trip on Redis, however many keys.

    Other caches (local memory, for the embedded set-up) read and count in turn.
    """
    backend = caches["default"]
    present = present or []
    if not isinstance(backend, RedisCache):
        values = backend.get_many(keys) if keys else {}
        values.update({key: True for key in present if backend.has_key(key)})
        return values, (counter_add(*counter) if counter is not None else None)
    made = [backend.make_and_validate_key(key) for key in keys]
    client = backend._cache.get_client(None, write=counter is not None)
    pipe = client.pipeline(transaction=False)
    if made:
        pipe.mget(made)
    for key in present:
        pipe.exists(backend.make_and_validate_key(key))
    if counter is not None:
        counter_key = backend.make_and_validate_key(counter[0])
        pipe.set(counter_key, 0, ex=counter[1], nx=True)
        pipe.incr(counter_key)
    replies = pipe.execute()
    loads = backend._cache._serializer.loads  # type: ignore[attr-defined]  # Django's own serializer
    values = (
        {key: loads(raw) for key, raw in zip(keys, replies[0], strict=True) if raw is not None}
        if made
        else {}
    )
    exists = replies[1 if made else 0 :][: len(present)]
    values.update({key: True for key, found in zip(present, exists, strict=True) if found})
    return values, (int(replies[-1]) if counter is not None else None)


class ProcessCache:
    """Values kept in this process for `seconds` at most, each stamped with what it was read
    under (generations that live in the shared cache): a value is returned only to a caller
    who presents the same stamp, read from the shared cache during its own request, so a change
    that replaces a generation applies to this process's next request as it does to the others.

    Values are kept pickled and unpickled for each caller: a request may annotate the objects
    it gets (cached roles, say) without another request seeing it. Thread-safe; the oldest
    entries are dropped beyond `size`.
    """

    def __init__(self, *, seconds: float, size: int = 10_000) -> None:
        self.seconds = seconds
        self.size = size
        self._entries: dict[str, tuple[float, Any, Any, bytes]] = {}
        self._lock = threading.Lock()

    def peek(self, key: str) -> Any:
        """The hint stored with `key` (who it is about, say), or None when absent or too old."""
        entry = self._entries.get(key)
        if entry is None or entry[0] < time.monotonic():
            return None
        return entry[1]

    def get(self, key: str, stamp: Any) -> Any:
        """The value stored with `key` under `stamp`, as a fresh copy, or None."""
        entry = self._entries.get(key)
        if entry is None or entry[0] < time.monotonic() or entry[2] != stamp:
            return None
        return pickle.loads(entry[3])  # noqa: S301 - written by this process, below

    def put(self, key: str, stamp: Any, value: Any, hint: Any = None) -> None:
        blob = pickle.dumps(value, pickle.HIGHEST_PROTOCOL)
        with self._lock:
            self._entries.pop(key, None)
            while len(self._entries) >= self.size:
                del self._entries[next(iter(self._entries))]
            self._entries[key] = (time.monotonic() + self.seconds, hint, stamp, blob)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
