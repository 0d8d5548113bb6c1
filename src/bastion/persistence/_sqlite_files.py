"""State database files: open errors as typed ``StoreError``\\ s, and deleting only ours."""

from __future__ import annotations

import contextlib
import os

from bastion.persistence import _sqlite_schema as schema
from bastion.persistence._errors import DamagedStore, NotAStateStore, StoreOpenError

__all__ = ["delete_store_file", "open_error"]


def open_error(exc: schema.SchemaError) -> StoreOpenError:
    """The typed store error for a schema problem (one line naming the file)."""
    kind: type[StoreOpenError] = {"foreign": NotAStateStore, "damaged": DamagedStore}.get(
        exc.problem, StoreOpenError
    )
    err = kind(str(exc), context={"problem": exc.problem})
    err.__cause__ = exc
    return err


def delete_store_file(path: str | os.PathLike[str]) -> bool:
    """Delete a Bastion state database and its ``-wal`` / ``-shm`` files, only if it is one.

    Returns True if it deleted the database, False if there was nothing to delete (no
    file, or an empty one, which is left as it is). Raises :class:`NotAStateStore` for a
    file that is not recognisably a Bastion state database (a text file, another
    application's SQLite database): it is left untouched. Close every store using the
    file first.
    """
    name = os.fspath(path)
    schema.refuse_in_memory(name)
    try:
        ours = schema.is_ours(name)
    except schema.SchemaError as exc:
        raise open_error(exc) from None
    if not ours:
        return False
    os.remove(name)
    for suffix in ("-wal", "-shm"):
        with contextlib.suppress(FileNotFoundError):
            os.remove(name + suffix)
    return True
