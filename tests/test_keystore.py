"""The link key store: capacity, single delivery, all-or-nothing release, both ends from the same bits."""

from __future__ import annotations

import os

import pytest

from vendors.simulated_qkd.keystore import End, InsufficientKeys, KeysNotFound, LinkKeyStore, NotEntitled


def test_full_store_discards_and_counts():
    store = LinkKeyStore(256, 2)
    material = os.urandom(100)
    assert store.deposit(material, material) == 64
    assert store.stored_key_count() == 2
    c = store.counters()
    assert (c.deposited_bits, c.discarded_bits) == (800, 288)


def test_each_end_gets_its_own_copy_of_the_same_positions():
    alice, bob = os.urandom(64), os.urandom(64)  # different on purpose: shows which copy goes where
    store = LinkKeyStore(256, 10)
    store.deposit(alice, bob)
    keys = store.take(End.A, "SAE_A", "SAE_B", 2, 128)
    assert [k.material for k in keys] == [alice[:16], alice[16:32]]
    assert [k.material for k in store.release(End.B, "SAE_A", "SAE_B", [keys[1].key_id])] == [bob[16:32]]
    # The reverse direction: SAE_B as master at end B gets Bob's copy, SAE_A collects Alice's.
    back = store.take(End.B, "SAE_B", "SAE_A", 1, 256)
    assert back[0].material == bob[32:64]
    assert store.release(End.A, "SAE_B", "SAE_A", [back[0].key_id])[0].material == alice[32:64]


def test_release_is_single_all_or_nothing_and_only_for_the_slave():
    m = os.urandom(96)
    store = LinkKeyStore(256, 10)
    store.deposit(m, m)
    a, b = store.take(End.A, "SAE_A", "SAE_B", 2, 256)
    with pytest.raises(NotEntitled):
        store.release(End.B, "SAE_A", "SAE_C", [a.key_id])
    with pytest.raises(KeysNotFound) as info:
        store.release(End.B, "SAE_A", "SAE_B", [a.key_id, "no-such-id"])
    assert info.value.key_ids == ["no-such-id"]
    with pytest.raises(KeysNotFound):  # the slave's KME is end B, not A
        store.release(End.A, "SAE_A", "SAE_B", [a.key_id])
    assert len(store.release(End.B, "SAE_A", "SAE_B", [a.key_id, b.key_id])) == 2
    with pytest.raises(KeysNotFound):
        store.release(End.B, "SAE_A", "SAE_B", [a.key_id])
    assert store.counters().held_keys == 0


def test_not_enough_key_and_bad_sizes():
    store = LinkKeyStore(256, 10)
    store.deposit(os.urandom(32), os.urandom(32))
    with pytest.raises(InsufficientKeys):
        store.take(End.A, "SAE_A", "SAE_B", 2, 256)
    with pytest.raises(ValueError, match="size_bits=100"):
        store.take(End.A, "SAE_A", "SAE_B", 1, 100)
    with pytest.raises(ValueError, match="lengths differ"):
        store.deposit(b"ab", b"a")
