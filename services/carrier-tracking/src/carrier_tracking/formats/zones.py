"""Time zones of countries that have exactly one, to place a local time sent without offset.

Only for carriers that document local times without any offset beside them (DHL Unified
for some services). A country with several zones (US, CA, BR, AU, RU, MX, ...) is absent:
its local times cannot be placed and are skipped, never guessed.
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from carrier_tracking.formats.common import ScanError
from shared.http import utc_time

SINGLE_ZONE: dict[str, str] = {
    "AT": "Europe/Vienna",
    "BE": "Europe/Brussels",
    "BG": "Europe/Sofia",
    "CH": "Europe/Zurich",
    "CN": "Asia/Shanghai",
    "CZ": "Europe/Prague",
    "DE": "Europe/Berlin",
    "DK": "Europe/Copenhagen",
    "EE": "Europe/Tallinn",
    "FI": "Europe/Helsinki",
    "FR": "Europe/Paris",
    "GB": "Europe/London",
    "GR": "Europe/Athens",
    "HK": "Asia/Hong_Kong",
    "HR": "Europe/Zagreb",
    "HU": "Europe/Budapest",
    "IE": "Europe/Dublin",
    "IN": "Asia/Kolkata",
    "IT": "Europe/Rome",
    "JP": "Asia/Tokyo",
    "KR": "Asia/Seoul",
    "LT": "Europe/Vilnius",
    "LU": "Europe/Luxembourg",
    "LV": "Europe/Riga",
    "NL": "Europe/Amsterdam",
    "NO": "Europe/Oslo",
    "PL": "Europe/Warsaw",
    "RO": "Europe/Bucharest",
    "SE": "Europe/Stockholm",
    "SG": "Asia/Singapore",
    "SI": "Europe/Ljubljana",
    "SK": "Europe/Bratislava",
    "TW": "Asia/Taipei",
}


def local_to_utc(local: datetime, country: str | None, what: str) -> datetime:
    """`local` (naive) as UTC using the country's only time zone; ScanError otherwise."""
    code = (country or "").strip().upper()
    name = SINGLE_ZONE.get(code)
    if name is None:
        where = f"country {code}" if code else "an event without a country"
        raise ScanError(
            f"{what} {local.isoformat()} has no timezone offset and {where} has no single "
            "time zone to place it"
        )
    try:
        aware = local.replace(tzinfo=ZoneInfo(name))
        return utc_time(aware.astimezone(UTC))
    except ZoneInfoNotFoundError as e:
        raise ScanError(f"{what}: time zone {name} is not installed") from e
    except (ValueError, OverflowError) as e:
        raise ScanError(str(e)) from e
