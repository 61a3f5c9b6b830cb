"""order-status settings: the shared runtime's, plus where the status mapping overrides live."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

from order_status.domain.mappings import DEFAULTS, Tables, merge
from shared.settings import ServiceSettings, settings_as


class OrderStatusSettings(ServiceSettings):
    """Env `DISTSYNC_ORDER_STATUS_MAPPING_FILE`: a JSON file merged over the default tables."""

    order_status_mapping_file: str | None = None

    def status_tables(self) -> Tables:
        """The default mapping tables merged with the override file, if one is set."""
        return load_tables(self.order_status_mapping_file)


@lru_cache(maxsize=8)
def load_tables(path: str | None) -> Tables:
    """The defaults merged with the JSON file at `path` (read once per process)."""
    if not path:
        return DEFAULTS
    raw = json.loads(Path(path).read_text(encoding="utf-8"))
    if not isinstance(raw, dict):
        raise ValueError(f"{path}: the status mapping file must hold a JSON object")
    return merge(raw)


def settings_of(settings: object) -> OrderStatusSettings:
    """The settings the runtime passes down, typed; the defaults when none were given."""
    return settings_as(settings, OrderStatusSettings)
