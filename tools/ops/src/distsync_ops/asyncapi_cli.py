"""`distsync asyncapi` and `distsync openapi`: write (or --check) the published contracts."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from distsync_ops import asyncapi, openapi


def _services() -> list[Any]:
    from shared.topology import all_services

    return all_services()


def _write_or_check(path: Path, text: str, check: bool) -> str:
    """Return `ok`, `written` or `stale` for one file."""
    current = path.read_text(encoding="utf-8") if path.exists() else None
    if current == text:
        return "ok"
    if check:
        return "stale"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return "written"


def _report(args: argparse.Namespace, results: dict[str, str]) -> int:
    stale = sorted(p for p, r in results.items() if r in ("stale", "unexpected"))
    if args.json:
        print(json.dumps({"ok": not stale, "files": results}, sort_keys=True))
    else:
        for p, r in sorted(results.items()):
            print(f"{r:10} {p}")
        if stale:
            cmd = "distsync " + args.command
            print(f"out of date: {', '.join(stale)}; run `{cmd}` and commit", file=sys.stderr)
    return 1 if stale else 0


def cmd_asyncapi(args: argparse.Namespace) -> int:
    text = asyncapi.render(asyncapi.build(_services()))
    if args.output == "-":
        sys.stdout.write(text)
        return 0
    return _report(args, {args.output: _write_or_check(Path(args.output), text, args.check)})


def cmd_openapi(args: argparse.Namespace) -> int:
    out = Path(args.output_dir)
    results: dict[str, str] = {}
    for svc in _services():
        path = out / f"{svc.name}.json"
        text = openapi.render(openapi.document(svc))
        results[str(path)] = _write_or_check(path, text, args.check)
    if out.is_dir():
        for extra in sorted(out.glob("*.json")):
            if str(extra) not in results:
                results[str(extra)] = "unexpected"
    return _report(args, results)


def register_asyncapi(sub: Any) -> None:
    a = sub.add_parser("asyncapi", help="write the AsyncAPI 3.0 document of every event")
    a.add_argument("--output", default="docs/asyncapi.json", help="file, or - for stdout")
    a.add_argument("--check", action="store_true", help="fail if the file is out of date")
    a.add_argument("--json", action="store_true")
    a.set_defaults(fn=cmd_asyncapi)


def register_openapi(sub: Any) -> None:
    o = sub.add_parser("openapi", help="write each service's OpenAPI document")
    o.add_argument("--output-dir", default="docs/openapi")
    o.add_argument("--check", action="store_true", help="fail if a file is out of date")
    o.add_argument("--json", action="store_true")
    o.set_defaults(fn=cmd_openapi)
