"""The key store of one QKD link, both ends side by side.

The link deposits its final key bits at both ends (Alice's copy at end A, Bob's at
end B, same positions). A master SAE's `enc_keys` cuts keys from the front of its
own end's pool, gives each a fresh UUID, and holds the other end's copy of the same
bits for the slave SAE; the slave's `dec_keys` hands that copy over once and forgets
it. So a key is delivered exactly once to each end, and both copies come from the same
bit positions of the distilled key.

Capacity is `max_key_count` keys of the default `key_size`; bits arriving at a full
store are discarded (and counted), as a device with a full buffer does.
"""

from __future__ import annotations

import threading
import uuid
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from harness.adapters import Key


class End(StrEnum):
    A = "A"
    B = "B"

    @property
    def other(self) -> End:
        return End.B if self is End.A else End.A


class KeyStoreError(Exception):
    pass


class InsufficientKeys(KeyStoreError):
    pass


class KeysNotFound(KeyStoreError):
    def __init__(self, key_ids: list[str]) -> None:
        self.key_ids = key_ids
        super().__init__(f"{len(key_ids)} key ID(s) not found: {', '.join(key_ids[:5])}")


class NotEntitled(KeyStoreError):
    pass


@dataclass(frozen=True)
class _Held:
    deliver_at: End
    master_sae: str
    slave_sae: str
    material: bytes


@dataclass(frozen=True)
class StoreCounters:
    deposited_bits: int
    discarded_bits: int
    delivered_master_keys: int
    delivered_slave_keys: int
    held_keys: int  # delivered to a master, not yet collected by its slave


class LinkKeyStore:
    def __init__(self, key_size_bits: int = 256, max_key_count: int = 1000) -> None:
        if key_size_bits <= 0 or key_size_bits % 8:
            raise ValueError(f"key_size_bits={key_size_bits}: must be a positive multiple of 8")
        if max_key_count < 1:
            raise ValueError(f"max_key_count={max_key_count}: must be at least 1")
        self.key_size_bits = key_size_bits
        self.max_key_count = max_key_count
        self._capacity = max_key_count * key_size_bits // 8
        self._pool = {End.A: bytearray(), End.B: bytearray()}
        # Keys a master took and its slave has not collected; bounded so an SAE that never
        # collects cannot grow it without limit (the oldest are forgotten first).
        self._held: OrderedDict[str, _Held] = OrderedDict()
        self._max_held = 16 * max_key_count
        self._lock = threading.Lock()
        self._deposited = self._discarded = self._to_master = self._to_slave = 0

    def deposit(self, alice: bytes, bob: bytes) -> int:
        """Add the two ends' copies of newly distilled key; return the bytes kept (the rest is discarded)."""
        if len(alice) != len(bob):
            raise ValueError(f"the two ends' key lengths differ: {len(alice)} != {len(bob)} bytes")
        with self._lock:
            room = max(0, self._capacity - len(self._pool[End.A]))
            kept = min(room, len(alice))
            self._pool[End.A] += alice[:kept]
            self._pool[End.B] += bob[:kept]
            self._deposited += 8 * len(alice)
            self._discarded += 8 * (len(alice) - kept)
            return kept

    def stored_key_count(self) -> int:
        with self._lock:
            return 8 * len(self._pool[End.A]) // self.key_size_bits

    def counters(self) -> StoreCounters:
        with self._lock:
            return StoreCounters(self._deposited, self._discarded, self._to_master, self._to_slave,
                                 len(self._held))

    def take(self, end: End, master_sae: str, slave_sae: str, number: int, size_bits: int) -> list[Key]:
        """Cut `number` keys of `size_bits` for the master SAE attached at `end`."""
        if number < 1 or size_bits <= 0 or size_bits % 8:
            raise ValueError(f"number={number}, size_bits={size_bits}: need number >= 1, size in bytes")
        nbytes = size_bits // 8
        with self._lock:
            mine, theirs = self._pool[end], self._pool[end.other]
            if len(mine) < number * nbytes:
                raise InsufficientKeys(f"{number} keys of {size_bits} bits requested, "
                                       f"{8 * len(mine)} bits stored")
            keys = []
            for i in range(number):
                key_id = str(uuid.uuid4())
                lo, hi = i * nbytes, (i + 1) * nbytes
                keys.append(Key(key_id, bytes(mine[lo:hi])))
                self._held[key_id] = _Held(end.other, master_sae, slave_sae, bytes(theirs[lo:hi]))
            del mine[: number * nbytes], theirs[: number * nbytes]
            while len(self._held) > self._max_held:
                self._held.popitem(last=False)
            self._to_master += number
            return keys

    def release(self, end: End, master_sae: str, requester_sae: str, key_ids: Sequence[str]) -> list[Key]:
        """Hand the slave SAE at `end` its copies of `key_ids`, once; all or nothing."""
        with self._lock:
            missing = [k for k in key_ids if k not in self._held or self._held[k].deliver_at is not end
                       or self._held[k].master_sae != master_sae]
            if missing:
                raise KeysNotFound(missing)
            if any(self._held[k].slave_sae != requester_sae for k in key_ids):
                raise NotEntitled(f"SAE {requester_sae!r} is not the slave SAE these keys were issued for")
            if len(set(key_ids)) != len(key_ids):
                raise KeysNotFound([k for k in key_ids if list(key_ids).count(k) > 1])
            keys = [Key(k, self._held.pop(k).material) for k in key_ids]
            self._to_slave += len(keys)
            return keys
