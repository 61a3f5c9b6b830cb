"""Which source system publishes on which exchange: the broker's least privilege, as data.

The broker gives each publishing system one user that may write to one exchange (contract §2,
deploy/rabbitmq/generate_definitions.py); the ingress holds an HTTP caller to the same rule. The
types an exchange carries are those the services bind there (`catalogue`), so a type no service
reads from that exchange is refused rather than published into the `unrouted` queue.
"""

from __future__ import annotations

from dataclasses import dataclass

# system (the part of `source` before the first `/`) -> the exchange its events go to
SYSTEM_EXCHANGES: dict[str, str] = {
    "erp": "erp.events",
    "wms": "wms.events",
    "carrier": "carrier.events",
    "tms": "carrier.events",  # TMS adapters publish beside the carriers (contract §2)
    "commerce": "commerce.events",
    "edi": "commerce.events",  # the EDI gateway publishes on commerce.events (contract §2)
    "portal": "commerce.events",
}

SCOPE_PREFIX = "ingress:source:"
"""A caller holding `ingress:source:<system>` may publish as that system."""
PUBLISH_SCOPE = "ingress:publish"
"""The scope every ingress route that accepts events needs."""
READ_SCOPE = "ingress:read"
"""The scope the file reports and other reads need."""


def system_of(source: str) -> str:
    """The `<system>` part of a CloudEvent `source`, in lower case (contract §1)."""
    return source.split("/", 1)[0].strip().lower()


def systems_of_scopes(scopes: frozenset[str]) -> frozenset[str]:
    """The systems a caller may publish as, from its scopes."""
    n = len(SCOPE_PREFIX)
    return frozenset(s[n:].lower() for s in scopes if s.startswith(SCOPE_PREFIX) and len(s) > n)


@dataclass(frozen=True)
class Refusal:
    """Why one event is refused: `kind` (a §9 failure kind or `forbidden`) and a readable reason."""

    kind: str
    reason: str


def where_to(
    system: str,
    type_: str,
    allowed_systems: frozenset[str] | None,
    types_by_exchange: dict[str, frozenset[str]],
) -> str | Refusal:
    """The exchange an event of `type_` from `system` goes to, or why it may not go anywhere.
    `allowed_systems` None: the caller may publish as any system (open mode)."""
    exchange = SYSTEM_EXCHANGES.get(system)
    if exchange is None:
        known = ", ".join(sorted(SYSTEM_EXCHANGES))
        return Refusal(
            "forbidden", f"source system {system!r} cannot publish through the ingress ({known})"
        )
    if allowed_systems is not None and system not in allowed_systems:
        may = ", ".join(sorted(allowed_systems)) or "none"
        return Refusal(
            "forbidden",
            f"this caller may not publish as {system!r} (its systems: {may}); the scope "
            f"{SCOPE_PREFIX}{system} is needed",
        )
    carried = types_by_exchange.get(exchange, frozenset())
    if type_ not in carried:
        if any(type_ in ts for ts in types_by_exchange.values()):
            return Refusal(
                "contract_violation",
                f"{system} publishes on {exchange}, which does not carry {type_!r}",
            )
        return Refusal("unknown_type", f"no service consumes events of type {type_!r}")
    return exchange
