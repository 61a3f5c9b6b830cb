"""`distsync`: the one command for operators and scripts (every subcommand takes --json)."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Callable
from typing import Any

from shared.service import ServiceDefinition


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
    topo = full_topology(
        _services().values(),
        delivery_limit=settings.delivery_limit,
        retry_delays_s=settings.retry_delays_s,
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
    }
    emit(
        args,
        payload,
        f"declared {len(topo.exchanges)} exchanges, {len(topo.queues)} queues, "
        f"{payload['bindings']} bindings",
    )
    return 0


def cmd_up(args: argparse.Namespace) -> int:
    from shared.devrun import run_all

    return run_all(data_dir=args.data_dir, services=args.services or None)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="distsync", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)

    r = sub.add_parser("run", help="run one service")
    r.add_argument("service")
    r.set_defaults(fn=cmd_run)

    t = sub.add_parser("topology", help="RabbitMQ topology")
    tsub = t.add_subparsers(dest="action", required=True)
    ta = tsub.add_parser("apply", help="declare every exchange, queue and binding, idempotently")
    ta.add_argument("--json", action="store_true")
    ta.set_defaults(fn=cmd_topology_apply)

    u = sub.add_parser("up", help="run all services locally (what `make run` does)")
    u.add_argument("--data-dir", default=".data")
    u.add_argument("services", nargs="*")
    u.set_defaults(fn=cmd_up)

    for register in _extensions():
        register(sub)
    return p


def _extensions() -> list[Callable[[Any], None]]:
    """Subcommands living in their own modules (dlq, simulate, ...), registered if present."""
    out: list[Callable[[Any], None]] = []
    import importlib

    for mod in ("shared.dlq_cli", "shared.simulate_cli", "shared.asyncapi_cli", "shared.trace_cli"):
        try:
            m = importlib.import_module(mod)
        except ModuleNotFoundError as e:
            if e.name == mod:
                continue
            raise
        out.append(m.register)
    return out


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    fn: Callable[[argparse.Namespace], int] = args.fn
    return fn(args)


if __name__ == "__main__":
    sys.exit(main())
