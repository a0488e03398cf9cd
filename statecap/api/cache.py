"""Per-process caches for the API: answers are pure functions of the store file and the question.

A store is identified by its path, inode, size and modification time: a rebuild (an atomic
``os.replace``) gives a new identity, so nothing stale is ever served. Only the most recently
used entries are kept.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from pathlib import Path
from typing import Any, TypeVar

from statecap.errors import StoreError

T = TypeVar("T")


def store_identity(path: Path) -> tuple[str, int, int, int]:
    """(path, inode, size, mtime_ns) of the store file; StoreError when it is missing."""
    try:
        st = os.stat(path)
    except OSError:
        raise StoreError(f"{path}: no store here; run `statecap build --db {path}` first") from None
    return (str(path), st.st_ino, st.st_size, st.st_mtime_ns)


class ResultCache:
    """A small thread-safe LRU cache; each key is computed once even under concurrent requests."""

    def __init__(self, max_entries: int = 128):
        self.max_entries = max_entries
        self._data: OrderedDict[Hashable, Any] = OrderedDict()
        self._lock = threading.Lock()
        self._key_locks: dict[Hashable, threading.Lock] = {}

    def get(self, key: Hashable, compute: Callable[[], T]) -> T:
        """The cached value of `key`, computing it with `compute()` when absent."""
        with self._lock:
            if key in self._data:
                self._data.move_to_end(key)
                return self._data[key]
            key_lock = self._key_locks.setdefault(key, threading.Lock())
        with key_lock:
            with self._lock:
                if key in self._data:
                    return self._data[key]
            value = compute()
            with self._lock:
                self._data[key] = value
                while len(self._data) > self.max_entries:
                    self._data.popitem(last=False)
                self._key_locks.pop(key, None)
            return value

    def clear(self) -> None:
        with self._lock:
            self._data.clear()
