"""`distsync`: the one command for operators and scripts (every subcommand takes --json).

This package brings what a container runs: `distsync run SERVICE` and `distsync topology apply`.
Every other subcommand comes from an installed package, through the entry-point group
`distsync.commands`: each entry point is named after its command and points at a
`register(subparsers)` function that adds it. distsync-ops brings `dlq`, `trace`, `asyncapi` and
`openapi`; distsync-sim brings `simulate` and `up`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Callable, Iterable, Sequence
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from shared.service import ServiceDefinition

COMMANDS_GROUP = "distsync.commands"
MAX_PARTITIONS = 1024  # as ServiceSettings.partitions
CORE_COMMANDS = ("run", "topology")
# the package that brings each other command, named when it is not installed
PROVIDED_BY = {
    "dlq": "distsync-ops",
    "trace": "distsync-ops",
    "reconcile": "distsync-ops",
    "asyncapi": "distsync-ops",
    "openapi": "distsync-ops",
    "audit": "distsync-ops",
    "simulate": "distsync-sim",
    "up": "distsync-sim",
}


def _services() -> dict[str, ServiceDefinition]:
    from shared.topology import all_services

    return {s.name: s for s in all_services()}


def emit(args: argparse.Namespace, payload: Any, text: str) -> None:
    if getattr(args, "json", False):
        print(json.dumps(payload, default=str, indent=None))
    else:
        print(text)


def cmd_run(args: argparse.Namespace) -> int:
    from shared.runtime import serve_forever

    services = _services()
    if args.service not in services:
        print(f"unknown service {args.service!r}; known: {', '.join(services)}", file=sys.stderr)
        return 2
    asyncio.run(serve_forever(services[args.service]))
    return 0


def cmd_topology_apply(args: argparse.Namespace) -> int:
    from shared.messaging import connect
    from shared.settings import ServiceSettings
    from shared.topology import declare, full_topology

    settings = ServiceSettings()
    services = _services()
    try:
        counts = partition_counts(services.values(), settings.partitions, args.partitions or [])
    except ValueError as e:
        emit(args, {"ok": False, "error": str(e)}, f"topology apply refused: {e}")
        return 2
    topo = full_topology(
        services.values(),
        delivery_limit=settings.delivery_limit,
        retry_delays_s=settings.retry_delays_s,
        partitions=counts,
    )

    async def go() -> None:
        conn = await connect(settings.amqp_url, "distsync-topology")
        try:
            ch = await conn.channel()
            await declare(ch, topo)
        finally:
            await conn.close()

    try:
        asyncio.run(go())
    except Exception as e:
        emit(args, {"ok": False, "error": str(e)}, f"topology apply failed: {e}")
        return 1
    payload = {
        "ok": True,
        "exchanges": sorted(topo.exchanges),
        "queues": [q.name for q in topo.queues],
        "bindings": sum(len(q.bindings) for q in topo.queues),
        "partitions": {name: n for name, n in counts.items() if n > 1},
    }
    emit(
        args,
        payload,
        f"declared {len(topo.exchanges)} exchanges, {len(topo.queues)} queues, "
        f"{payload['bindings']} bindings",
    )
    return 0


def partition_counts(
    services: Iterable[ServiceDefinition], default: int, overrides: Sequence[str]
) -> dict[str, int]:
    """Each service's partition count: `default` (DISTSYNC_PARTITIONS) for every service that
    consumes (binds its queue somewhere), unless a `SERVICE=N` override names it; a service that
    consumes nothing (the ingress) has no partitions, as it would have nothing to route."""
    known = {s.name: s for s in services}
    counts = {name: default if svc.bindings() else 1 for name, svc in known.items()}
    for item in overrides:
        name, sep, value = item.partition("=")
        bad = f"--partitions {item!r}"
        if not sep or not value.isdigit() or not 1 <= int(value) <= MAX_PARTITIONS:
            raise ValueError(f"{bad}: expected SERVICE=N, 1 <= N <= {MAX_PARTITIONS}")
        if name not in known:
            raise ValueError(f"{bad}: unknown service; known: {', '.join(known)}")
        if int(value) > 1 and not known[name].bindings():
            raise ValueError(f"{bad}: {name} consumes nothing, so it has no partitions")
        counts[name] = int(value)
    return counts


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The parser for `argv`: the core commands, and the installed command it names (all of
    them when it names none, for --help)."""
    p = argparse.ArgumentParser(
        prog="distsync", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = p.add_subparsers(dest="command", required=True)

    r = sub.add_parser("run", help="run one service")
    r.add_argument("service")
    r.set_defaults(fn=cmd_run)

    t = sub.add_parser("topology", help="RabbitMQ topology")
    tsub = t.add_subparsers(dest="action", required=True)
    ta = tsub.add_parser("apply", help="declare every exchange, queue and binding, idempotently")
    ta.add_argument("--json", action="store_true")
    ta.add_argument(
        "--partitions",
        action="append",
        metavar="SERVICE=N",
        help="partitions of SERVICE's queue (repeatable); default DISTSYNC_PARTITIONS (1) for "
        "every service that consumes",
    )
    ta.set_defaults(fn=cmd_topology_apply)

    installed = {ep.name: ep for ep in entry_points(group=COMMANDS_GROUP)}
    wanted = _command_of(argv)
    order = {n: i for i, n in enumerate(PROVIDED_BY)}
    for name, ep in sorted(installed.items(), key=lambda kv: (order.get(kv[0], len(order)), kv[0])):
        if wanted == name or wanted not in (*CORE_COMMANDS, *installed):
            _register(sub, ep)
    for name, package in PROVIDED_BY.items():
        if name not in installed:
            why = f"comes with {package}, which is not installed here"
            _missing(
                sub,
                name,
                why,
                f"distsync {name} {why}: install {package} (`uv sync` in the workspace)",
            )
    return p


def _command_of(argv: Sequence[str] | None) -> str | None:
    args = sys.argv[1:] if argv is None else argv
    return next((a for a in args if not a.startswith("-")), None)


def _register(sub: Any, ep: EntryPoint) -> None:
    try:
        register: Callable[[Any], None] = ep.load()
    except Exception as e:  # a broken tool leaves every other command working
        why = f"could not be loaded ({type(e).__name__}: {e})"
        _missing(sub, ep.name, why, f"distsync {ep.name} {why}")
        return
    register(sub)


def _missing(sub: Any, name: str, why: str, text: str) -> None:
    """A command that cannot run here: it says why, and exits 2."""
    c = sub.add_parser(name, help=f"(not available: {why})", add_help=False)
    c.add_argument("rest", nargs=argparse.REMAINDER)

    def unavailable(args: argparse.Namespace) -> int:
        print(text, file=sys.stderr)
        return 2

    c.set_defaults(fn=unavailable)


def main(argv: list[str] | None = None) -> int:
    args = build_parser(argv).parse_args(argv)
    fn: Callable[[argparse.Namespace], int] = args.fn
    return fn(args)


if __name__ == "__main__":
    sys.exit(main())
