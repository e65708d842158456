"""The Redis cache backend shares one client per connection pool and behaves as Django's."""

from concurrent.futures import ThreadPoolExecutor

import pytest
from django.conf import settings

from core.cache import RedisCache

pytestmark = pytest.mark.redis


@pytest.fixture
def redis_cache():
    cache = RedisCache(settings.REDIS_URL, {"KEY_PREFIX": "quorum-test-cache"})
    yield cache
    cache.delete_many(["a", "b", "n", "gone"])


def test_one_client_serves_every_call_and_thread(redis_cache):
    first = redis_cache._cache.get_client(write=True)

    with ThreadPoolExecutor(4) as pool:
        others = list(pool.map(lambda _: redis_cache._cache.get_client(write=True), range(8)))

    assert all(other is first for other in others)


def test_it_stores_reads_counts_and_forgets_like_djangos(redis_cache):
    redis_cache.set("a", {"x": [1, 2]}, 30)
    redis_cache.set_many({"b": "two"}, 30)
    assert redis_cache.add("n", 1, 30)
    assert not redis_cache.add("n", 5, 30)

    assert redis_cache.get("a") == {"x": [1, 2]}
    assert redis_cache.get_many(["a", "b", "gone"]) == {"a": {"x": [1, 2]}, "b": "two"}
    assert redis_cache.incr("n", 2) == 3
    with pytest.raises(ValueError):
        redis_cache.incr("gone")
    redis_cache.delete_many(["a", "b"])
    assert redis_cache.get("a") is None and redis_cache.get("b", "default") == "default"


def test_a_counter_counts_in_one_round_trip_and_expires(redis_cache):
    assert [redis_cache.count("n", 30) for _ in range(3)] == [1, 2, 3]

    client = redis_cache._cache.get_client(write=True)
    assert 0 < client.ttl(redis_cache.make_key("n")) <= 30
