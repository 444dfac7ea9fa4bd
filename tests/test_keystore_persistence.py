"""The SQLite key store on disk: what one lifetime delivered, the next one still holds or never repeats."""

from __future__ import annotations

import os
import stat

import numpy as np
import pytest

from vendors.simulated_qkd.keystore import End, KeysNotFound, LinkKeyStore, StoreUnusable
from vendors.simulated_qkd.link import BlockOutcome, SimulatedLink


def test_held_keys_and_pool_survive_reopening(tmp_path):
    path = tmp_path / "store.sqlite"
    alice, bob = os.urandom(256), os.urandom(256)
    store = LinkKeyStore(256, 100, path)
    store.deposit(alice, bob)
    first = store.take(End.A, "SAE_A", "SAE_B", 2, 256)
    store.close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600

    again = LinkKeyStore(256, 100, path)
    assert again.stored_key_count() == 6
    assert [k.material for k in again.release(End.B, "SAE_A", "SAE_B", [k.key_id for k in first])] == \
        [bob[:32], bob[32:64]]
    with pytest.raises(KeysNotFound):  # collected in the last lifetime: gone for good
        again.release(End.B, "SAE_A", "SAE_B", [first[0].key_id])
    nxt = again.take(End.A, "SAE_A", "SAE_B", 1, 256)
    assert nxt[0].material == alice[64:96]  # the pool continues where it stopped
    c = again.counters()
    assert (c.delivered_master_keys, c.delivered_slave_keys, c.held_keys) == (3, 2, 1)
    again.close()


def test_a_second_process_cannot_serve_the_same_store(tmp_path):
    path = tmp_path / "store.sqlite"
    store = LinkKeyStore(256, 10, path)
    with pytest.raises(StoreUnusable, match="another"):
        LinkKeyStore(256, 10, path)
    store.close()
    LinkKeyStore(256, 10, path).close()  # free again once the first lets go


def test_a_store_refuses_another_key_size_and_foreign_files(tmp_path):
    LinkKeyStore(256, 10, tmp_path / "s.sqlite").close()
    with pytest.raises(StoreUnusable, match="256-bit"):
        LinkKeyStore(128, 10, tmp_path / "s.sqlite")
    (tmp_path / "junk").write_bytes(b"not a database at all" * 100)
    with pytest.raises(StoreUnusable, match="not a qsbench key store"):
        LinkKeyStore(256, 10, tmp_path / "junk")


class _SeededSource:
    """Stands in for the QKD core: key bits are a pure function of the block's seed (what matters here)."""

    def block(self, fibre_km, attenuation_db, attack, seed):
        bits = np.random.default_rng(seed).integers(0, 2, 4096, dtype=np.uint8)
        return BlockOutcome(1.0, bits, bits.copy(), 8192, 0.01, 5.0, False)


def _stream(store: LinkKeyStore, seed: int | None, blocks: int) -> bytes:
    link = SimulatedLink(_SeededSource(), store, 0.0, seed)
    link.run_for(float(blocks))
    return b"".join(k.material for k in store.take(End.A, "SAE_A", "SAE_B", 16 * blocks, 256))


def test_a_seeded_link_restarted_on_its_store_continues_instead_of_repeating(tmp_path):
    path = tmp_path / "store.sqlite"
    store = LinkKeyStore(256, 1000, path)
    first = _stream(store, 7, 3)
    store.close()
    store = LinkKeyStore(256, 1000, path)
    assert store.stream_position == 3
    second = _stream(store, 7, 3)
    store.close()
    assert first != second and not set(_chunks(first)) & set(_chunks(second))
    # The same seed on a fresh store reproduces the first lifetime (what --seed is for) ...
    assert _stream(LinkKeyStore(256, 1000), 7, 3) == first
    # ... and without a seed every store gets a stream of its own.
    assert _stream(LinkKeyStore(256, 1000), None, 3) != _stream(LinkKeyStore(256, 1000), None, 3)


def _chunks(stream: bytes) -> list[bytes]:
    return [stream[i:i + 32] for i in range(0, len(stream), 32)]
