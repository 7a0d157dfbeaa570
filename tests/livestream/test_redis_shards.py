"""The hash-tag rule that lets the project's Redis keys spread over several shards."""

from __future__ import annotations

import pytest

from livestream import redis_clients
from livestream.redis_clients import (
    CrossShardKeys,
    LuaScript,
    common_tag,
    hash_tag,
    key,
    local_key,
    shard_index,
)


def test_the_second_part_of_a_key_is_its_hash_tag(settings):
    settings.REDIS_PREFIX = "ls"
    assert key("presence", 42) == "ls:presence:{42}"
    assert key("presence", 42, "ended") == "ls:presence:{42}:ended"
    assert hash_tag(key("mod", "7", "slow", "9")) == "7"
    assert hash_tag(local_key("mod", "terms", "v")) is None


def test_hash_tag_is_read_as_redis_cluster_reads_it():
    assert hash_tag("a:{x}:{y}") == "x"
    assert hash_tag("a:{}:b") is None
    assert hash_tag("a:{x") is None


def test_keys_of_one_stream_share_a_shard_and_streams_spread(settings):
    settings.REDIS_URLS = ["redis://one", "redis://two"]
    for stream_id in range(50):
        names = [key("presence", stream_id), key("history", stream_id, "v")]
        assert len({shard_index(name) for name in names}) == 1
    used = {shard_index(key("presence", stream_id)) for stream_id in range(50)}
    assert used == {0, 1}


def test_one_shard_takes_every_key(settings):
    settings.REDIS_URLS = ["redis://one"]
    assert {shard_index(key("presence", n)) for n in range(20)} == {0}


def test_a_script_over_two_tags_is_refused_before_it_runs():
    class Client:
        def register_script(self, source):
            return lambda keys, args, client: pytest.fail("ran a cross-shard script")

    script = LuaScript("return 1")
    with pytest.raises(CrossShardKeys, match="share one hash tag"):
        script.on(Client())(keys=[key("presence", 1), key("presence", 2)])


def test_untagged_local_keys_may_join_a_tagged_script():
    assert common_tag([key("mod", 1), key("mod", 1, "slow", 3), local_key("mod", "v")]) == "1"


def test_pipelines_group_by_shard(settings):
    settings.REDIS_URLS = ["redis://one", "redis://two"]
    groups = redis_clients.by_shard(range(30), lambda n: key("connections", n))
    assert sorted(n for group in groups.values() for n in group) == list(range(30))
    for shard, members in groups.items():
        assert {shard_index(key("connections", n)) for n in members} == {shard}
