from collections import Counter

import pytest

from shared.partitioning import jump, key_hash, partition_of


def test_a_key_always_lands_in_the_same_partition():
    assert partition_of("sku-1\x00loc-1", 8) == partition_of("sku-1\x00loc-1", 8)
    assert key_hash("abc") == key_hash("abc")


def test_keys_spread_evenly_over_the_partitions():
    counts = Counter(partition_of(f"sku-{i}\x00loc-{i % 7}", 8) for i in range(40_000))
    assert set(counts) == set(range(8))
    assert max(counts.values()) / min(counts.values()) < 1.1


def test_one_more_partition_moves_only_its_share_of_the_keys():
    keys = [f"order-{i}" for i in range(20_000)]
    moved = [k for k in keys if partition_of(k, 8) != partition_of(k, 9)]
    assert 0.08 < len(moved) / len(keys) < 0.14  # about 1/9
    assert all(partition_of(k, 9) == 8 for k in moved)  # a moved key goes to the new one


def test_one_partition_takes_everything_and_none_is_refused():
    assert {partition_of(f"k{i}", 1) for i in range(100)} == {0}
    with pytest.raises(ValueError):
        jump(1, 0)
