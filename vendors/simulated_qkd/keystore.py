"""The key store of one QKD link, both ends side by side, in an embedded SQLite database.

The link deposits its final key bits at both ends (Alice's copy at end A, Bob's at
end B, same positions). A master SAE's `enc_keys` cuts keys from the front of its
own end's pool, gives each a fresh UUID, and holds the other end's copy of the same
bits for the slave SAE; the slave's `dec_keys` hands that copy over once and forgets
it. So a key is delivered exactly once to each end, and both copies come from the same
bit positions of the distilled key.

Every deposit, delivery and collection is one SQLite transaction (WAL journal,
`synchronous=FULL`), so a store on disk survives `kill -9` at any moment: a key the
master received is still held for its slave after a restart, and bits once cut for a
delivery are gone from the pool for good, so no key value is ever handed out twice.
The store also keeps how far the link's seeded stream has run (`stream_position`), so
a link restarted on the same store continues its stream instead of repeating it. The
database is opened in exclusive locking mode: a second process cannot serve the same
store at the same time (that would hand the same bits out twice). Freed pages are
zeroed (`secure_delete`) so collected keys do not linger in the file. `path=None`
keeps the store in memory (a suite's link, which lives as long as its case).

Capacity is `max_key_count` keys of the default `key_size`; bits arriving at a full
store are discarded (and counted), as a device with a full buffer does.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

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
        super().__init__(f"{len(key_ids)} key ID(s) not found")


class NotEntitled(KeyStoreError):
    pass


class StoreUnusable(KeyStoreError):
    """The database file cannot serve as this link's store (locked by another process, other key size)."""


@dataclass(frozen=True)
class StoreCounters:
    deposited_bits: int
    discarded_bits: int
    delivered_master_keys: int
    delivered_slave_keys: int
    held_keys: int  # delivered to a master, not yet collected by its slave


_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS pool (id INTEGER PRIMARY KEY AUTOINCREMENT, a BLOB NOT NULL, b BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS held (seq INTEGER PRIMARY KEY AUTOINCREMENT, key_id TEXT NOT NULL UNIQUE,
    deliver_at TEXT NOT NULL, master_sae TEXT NOT NULL, slave_sae TEXT NOT NULL, material BLOB NOT NULL);
"""
_COUNTERS = ("deposited_bits", "discarded_bits", "delivered_master_keys", "delivered_slave_keys",
             "stream_position")


class LinkKeyStore:
    def __init__(self, key_size_bits: int = 256, max_key_count: int = 1000,
                 path: str | Path | None = None) -> None:
        if key_size_bits <= 0 or key_size_bits % 8:
            raise ValueError(f"key_size_bits={key_size_bits}: must be a positive multiple of 8")
        if max_key_count < 1:
            raise ValueError(f"max_key_count={max_key_count}: must be at least 1")
        self.key_size_bits = key_size_bits
        self.max_key_count = max_key_count
        self.path = Path(path) if path is not None else None
        self._capacity = max_key_count * key_size_bits // 8
        # Keys a master took and its slave has not collected; bounded so an SAE that never
        # collects cannot grow it without limit (the oldest are forgotten first).
        self._max_held = 16 * max_key_count
        self._lock = threading.Lock()  # one connection, shared by the KMEs' loop and the device clock
        self._db = self._open()

    def _open(self) -> sqlite3.Connection:
        where = str(self.path) if self.path else ":memory:"
        if self.path and not self.path.exists():
            os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))  # key material: 0600
        try:
            db = sqlite3.connect(where, isolation_level=None, check_same_thread=False)
            db.execute("PRAGMA locking_mode=EXCLUSIVE")
            if db.execute("PRAGMA journal_mode=WAL").fetchone()[0] not in ("wal", "memory"):
                raise StoreUnusable(f"{where}: SQLite cannot use a WAL journal here")
            db.execute("PRAGMA synchronous=FULL")
            db.execute("PRAGMA secure_delete=ON")
            db.executescript(_SCHEMA)
            db.execute("BEGIN IMMEDIATE")  # takes the exclusive lock now, not at the first delivery
            row = db.execute("SELECT value FROM meta WHERE name='key_size_bits'").fetchone()
            if row is None:
                db.executemany("INSERT INTO meta VALUES (?, ?)",
                               [("key_size_bits", self.key_size_bits), *((c, 0) for c in _COUNTERS)])
            db.execute("COMMIT")
        except sqlite3.OperationalError as exc:
            hint = " (is another `qsbench kme serve` using it?)" if "locked" in str(exc) else ""
            raise StoreUnusable(f"key store {where}: {exc}{hint}") from None
        except sqlite3.DatabaseError as exc:
            raise StoreUnusable(f"key store {where}: not a qsbench key store ({exc})") from None
        if row is not None and row[0] != self.key_size_bits:
            db.close()
            raise StoreUnusable(f"key store {where} holds {row[0]}-bit keys, not {self.key_size_bits}")
        return db

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _add(self, db: sqlite3.Connection, name: str, amount: int) -> None:
        db.execute("UPDATE meta SET value = value + ? WHERE name = ?", (amount, name))

    def _pool_bytes(self, db: sqlite3.Connection) -> int:
        return int(db.execute("SELECT total(length(a)) FROM pool").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @property
    def stream_position(self) -> int:
        """How many blocks of the link's key stream have been deposited (or run past) in this store."""
        with self._lock:
            return int(self._db.execute("SELECT value FROM meta WHERE name='stream_position'").fetchone()[0])

    def deposit(self, alice: bytes, bob: bytes, stream_position: int | None = None) -> int:
        """Add the two ends' copies of newly distilled key; return the bytes kept (the rest is discarded).

        `stream_position`, when given, is recorded in the same transaction: the link's block
        counter after the block that produced these bits, so a restart never re-derives them.
        """
        if len(alice) != len(bob):
            raise ValueError(f"the two ends' key lengths differ: {len(alice)} != {len(bob)} bytes")
        with self._transaction() as db:
            kept = min(max(0, self._capacity - self._pool_bytes(db)), len(alice))
            if kept:
                db.execute("INSERT INTO pool (a, b) VALUES (?, ?)", (alice[:kept], bob[:kept]))
            self._add(db, "deposited_bits", 8 * len(alice))
            self._add(db, "discarded_bits", 8 * (len(alice) - kept))
            if stream_position is not None:
                db.execute("UPDATE meta SET value = max(value, ?) WHERE name='stream_position'",
                           (stream_position,))
            return kept

    def stored_key_count(self) -> int:
        with self._lock:
            return 8 * self._pool_bytes(self._db) // self.key_size_bits

    def counters(self) -> StoreCounters:
        with self._lock:
            values = dict(self._db.execute("SELECT name, value FROM meta").fetchall())
            held = self._db.execute("SELECT count(*) FROM held").fetchone()[0]
        return StoreCounters(values["deposited_bits"], values["discarded_bits"],
                             values["delivered_master_keys"], values["delivered_slave_keys"], held)

    def take(self, end: End, master_sae: str, slave_sae: str, number: int, size_bits: int) -> list[Key]:
        """Cut `number` keys of `size_bits` for the master SAE attached at `end`, in one transaction."""
        if number < 1 or size_bits <= 0 or size_bits % 8:
            raise ValueError(f"number={number}, size_bits={size_bits}: need number >= 1, size in bytes")
        need = number * (size_bits // 8)
        with self._transaction() as db:
            if self._pool_bytes(db) < need:
                raise InsufficientKeys(f"{number} keys of {size_bits} bits requested, "
                                       f"{8 * self._pool_bytes(db)} bits stored")
            a, b = bytearray(), bytearray()
            for chunk_id, ca, cb in db.execute("SELECT id, a, b FROM pool ORDER BY id").fetchall():
                short = need - len(a)
                if len(ca) <= short:
                    db.execute("DELETE FROM pool WHERE id = ?", (chunk_id,))
                    a += ca
                    b += cb
                else:
                    db.execute("UPDATE pool SET a = ?, b = ? WHERE id = ?",
                               (ca[short:], cb[short:], chunk_id))
                    a += ca[:short]
                    b += cb[:short]
                if len(a) == need:
                    break
            mine, theirs = (a, b) if end is End.A else (b, a)
            nbytes, keys, rows = size_bits // 8, [], []
            for i in range(number):
                key_id = str(uuid.uuid4())
                keys.append(Key(key_id, bytes(mine[i * nbytes:(i + 1) * nbytes])))
                rows.append((key_id, end.other.value, master_sae, slave_sae,
                             bytes(theirs[i * nbytes:(i + 1) * nbytes])))
            db.executemany("INSERT INTO held (key_id, deliver_at, master_sae, slave_sae, material) "
                           "VALUES (?, ?, ?, ?, ?)", rows)
            db.execute("DELETE FROM held WHERE seq <= (SELECT max(seq) FROM held) - ?", (self._max_held,))
            self._add(db, "delivered_master_keys", number)
            return keys

    def release(self, end: End, master_sae: str, requester_sae: str, key_ids: Sequence[str]) -> list[Key]:
        """Hand the slave SAE at `end` its copies of `key_ids`, once; all or nothing, one transaction."""
        with self._transaction() as db:
            marks = ",".join("?" * len(set(key_ids)))
            held = {row[0]: row[1:] for row in db.execute(
                "SELECT key_id, deliver_at, master_sae, slave_sae, material FROM held "
                f"WHERE key_id IN ({marks})", list(set(key_ids))).fetchall()}
            missing = [k for k in key_ids
                       if k not in held or held[k][0] != end.value or held[k][1] != master_sae]
            if missing:
                raise KeysNotFound(missing)
            if any(held[k][2] != requester_sae for k in key_ids):
                raise NotEntitled(f"SAE {requester_sae!r} is not the slave SAE these keys were issued for")
            if len(set(key_ids)) != len(key_ids):
                raise KeysNotFound(sorted({k for k in key_ids if list(key_ids).count(k) > 1}))
            db.executemany("DELETE FROM held WHERE key_id = ?", [(k,) for k in key_ids])
            self._add(db, "delivered_slave_keys", len(key_ids))
            return [Key(k, held[k][3]) for k in key_ids]
