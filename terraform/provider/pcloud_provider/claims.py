"""Which cloud objects this provider process has created, adopted or started to delete.

Terraform starts one provider process per operation and applies resources in parallel threads. When a create
adopts a live object instead of making a new one (see `resources/base.py`), this bookkeeping makes sure that
one object never goes to two resources of the same apply, and that an object adopted by one resource is not
deleted by another (a resource whose address changed is deleted and created again in one apply).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

# (resource type, object id): a bucket and a database may share a name.
Key = tuple[str, str]


class Claims:
    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._identity_locks: dict[tuple[str, str], threading.Lock] = {}
        self._owned: set[Key] = set()  # created or adopted by a resource of this process
        self._adopted: set[Key] = set()
        self._deleting: set[Key] = set()

    @contextmanager
    def identity(self, resource_type: str, identity: str) -> Iterator[None]:
        """Hold while looking for and creating an object, so a second resource with the same identity then
        finds the first one's object already taken."""
        with self._guard:
            lock = self._identity_locks.setdefault((resource_type, identity), threading.Lock())
        with lock:
            yield

    def available(self, resource_type: str, object_id: str) -> bool:
        """Whether no resource of this process has taken or is deleting the object."""
        key = (resource_type, object_id)
        with self._guard:
            return key not in self._owned and key not in self._deleting

    def adopt(self, resource_type: str, object_id: str) -> bool:
        """Take the object for the calling resource; False when another resource got to it first."""
        key = (resource_type, object_id)
        with self._guard:
            if key in self._owned or key in self._deleting:
                return False
            self._owned.add(key)
            self._adopted.add(key)
            return True

    def created(self, resource_type: str, object_id: str) -> None:
        with self._guard:
            self._owned.add((resource_type, object_id))

    def start_delete(self, resource_type: str, object_id: str) -> bool:
        """Mark the object as being deleted; False when a resource of this process adopted it, so it stays."""
        key = (resource_type, object_id)
        with self._guard:
            if key in self._adopted:
                return False
            self._deleting.add(key)
            return True
