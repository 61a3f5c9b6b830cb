"""The dead-letter console: web pages for on-call staff, served by the DLQ admin API.

`console_pages()` serves the pages (static shells, no credentials needed: they hold no data);
`console_api(settings)` is the JSON they read besides the DLQ API (mounted behind the same guard,
scope `dlq:read`); `summary` keeps the per-queue snapshots that make pages cheap on deep queues.
The browser authenticates every API call itself: see docs/security.md, "The DLQ console".
"""

from __future__ import annotations

from distsync_ops.console_web.api import console_api
from distsync_ops.console_web.pages import PREFIX, console_pages
from distsync_ops.console_web.summary import SummaryCache

__all__ = ["PREFIX", "SummaryCache", "console_api", "console_pages"]
