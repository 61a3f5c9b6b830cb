"""ingress: CloudEvents over HTTP (structured, binary, batched), flat files and EDI X12, for the
systems that cannot publish to the broker themselves; each event validated, authorised and
published with a broker confirm, once."""

from __future__ import annotations

from ingress import dropdir, store
from ingress.api import build_router
from ingress.domain.systems import READ_SCOPE
from ingress.settings import IngressSettings
from shared.service import PeriodicTask, ServiceDefinition, TaskContext

DROP_POLL_S = 0.5  # how often the watched folder is listed (a few directory reads)


async def poll_drop_dir(ctx: TaskContext) -> None:
    await dropdir.poll(ctx)


SERVICE = ServiceDefinition(
    name="ingress",
    description=__doc__ or "",
    routes=(),
    setup_store=store.setup_store,
    api=build_router,
    periodic=(PeriodicTask("drop_dir", DROP_POLL_S, poll_drop_dir),),
    settings_cls=IngressSettings,
    read_scope=READ_SCOPE,
)
