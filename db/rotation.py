"""`madoguchi keys rotate`: re-encrypt every personal-data field under a new field key.

Batches commit one by one, so the rotation can be interrupted (Ctrl-C, power loss) and run again:
a rerun first finishes the rows still under an older key, and only makes a new key when none are left.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass

from db import crypto
from db.connection import database, write_transaction
from db.keys import add_field_key, load_keyring
from db.models import ALL_MODELS, EncryptedField


@dataclass
class RotationResult:
    key_id: int
    new_key: bool
    rows: int


def encrypted_columns() -> list[tuple[str, list[str]]]:
    found = []
    for model in ALL_MODELS:
        columns = [f.column_name for f in model._meta.sorted_fields if isinstance(f, EncryptedField)]
        if columns:
            found.append((model._meta.table_name, columns))
    return found


def _stale_condition(columns: list[str]) -> str:
    # Envelope bytes 2-3 hold the key id (db/crypto.py).
    return " OR ".join(f"({c} IS NOT NULL AND substr({c}, 2, 2) != :key)" for c in columns)


def rows_under_old_keys(current_key_id: int) -> int:
    key = struct.pack(">H", current_key_id)
    total = 0
    for table, columns in encrypted_columns():
        sql = f"SELECT count(*) FROM {table} WHERE {_stale_condition(columns).replace(':key', '?')}"
        total += database.execute_sql(sql, [key] * len(columns)).fetchone()[0]
    return total


def rotate(key_dir, batch_size: int = 500, progress: Callable[[int], None] = lambda n: None) -> RotationResult:
    cipher = crypto.cipher()
    new_key = False
    if rows_under_old_keys(cipher.current_key_id) == 0:
        add_field_key(key_dir)
        new_key = True
        cipher = crypto.FieldCipher(load_keyring(key_dir))
        crypto.install(cipher)
    current = struct.pack(">H", cipher.current_key_id)
    done = 0
    for table, columns in encrypted_columns():
        stale = _stale_condition(columns).replace(":key", "?")
        select = f"SELECT rowid, {', '.join(columns)} FROM {table} WHERE {stale} ORDER BY rowid LIMIT ?"
        update = f"UPDATE {table} SET {', '.join(f'{c} = ?' for c in columns)} WHERE rowid = ?"
        while True:
            with write_transaction():
                rows = database.execute_sql(select, [current] * len(columns) + [batch_size]).fetchall()
                for row_id, *values in rows:
                    fresh = [None if v is None else
                             cipher.encrypt(cipher.decrypt(v, f"{table}.{c}"), f"{table}.{c}")
                             for c, v in zip(columns, values, strict=True)]
                    database.execute_sql(update, [*fresh, row_id])
            done += len(rows)
            progress(done)
            if len(rows) < batch_size:
                break
    return RotationResult(cipher.current_key_id, new_key, done)
