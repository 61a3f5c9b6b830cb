"""What the drop-folder task shares with the HTTP API of the same process.

The runtime gives periodic tasks the database and settings but no publisher; the API context has
the runtime's confirmed publisher. Both get the same database object, so the API registers its
publisher and admission gate under it, and the task finds them there.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from weakref import WeakKeyDictionary

from ingress.admission import Gate
from ingress.intake import Publish


@dataclass(frozen=True)
class Wiring:
    publish: Publish
    gate: Gate


_BY_DB: WeakKeyDictionary[Any, Wiring] = WeakKeyDictionary()


def register(db: Any, wiring: Wiring) -> None:
    try:
        _BY_DB[db] = wiring
    except TypeError:  # a stand-in that cannot be referenced weakly (an offline OpenAPI build)
        pass


def wiring_for(db: Any) -> Wiring | None:
    return _BY_DB.get(db)
