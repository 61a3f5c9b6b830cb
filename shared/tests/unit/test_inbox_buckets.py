"""The inbox's time buckets without a database: names, which bucket an id goes to, which are
read for a batch and which retention drops."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from shared import inbox
from shared.settings import ServiceSettings

NOW = datetime(2026, 12, 5, 8, 0, 30, tzinfo=UTC)
HOUR = timedelta(hours=1)


def box(retention_s: float | None = 4 * 3600, bucket_s: float | None = None) -> inbox.Inbox:
    return inbox.Inbox(None, retention_s=retention_s, bucket_s=bucket_s)


def test_a_bucket_is_named_by_its_utc_start_and_end_and_read_back_from_its_name() -> None:
    b = inbox.bucket_at(NOW, 3600)
    assert b.name == "inbox_20261205T080000_20261205T090000"
    assert inbox.parse(b.name) == b
    for other in ("inbox", "outbox", "inbox_x_y", "inbox_20261205T090000_20261205T080000"):
        assert inbox.parse(other) is None
    assert inbox.is_inbox("inbox") and inbox.is_inbox(b.name) and not inbox.is_inbox("positions")


def test_the_width_is_a_quarter_of_the_retention_unless_set() -> None:
    assert box().width == 3600
    assert box(bucket_s=600).width == 600
    assert inbox.Inbox.of(None, ServiceSettings()).width == 14 * 86400 // 4


def test_an_id_goes_to_the_bucket_of_its_event_time_or_of_now_whichever_is_later() -> None:
    b = box()
    assert b.target(NOW - 30 * HOUR, NOW) == inbox.bucket_at(NOW, 3600).name
    assert b.target(NOW + 2 * HOUR, NOW) == inbox.bucket_at(NOW + 2 * HOUR, 3600).name
    assert box(retention_s=None).target(NOW, NOW) == inbox.INBOX  # every id kept, one place


def test_a_batch_reads_every_kept_bucket_the_current_and_near_its_end_the_next() -> None:
    b = box()
    listed = [inbox.bucket_at(NOW - k * HOUR, 3600).name for k in range(8)]
    b._known = {*listed, inbox.INBOX}
    here = inbox.bucket_at(NOW, 3600)
    nxt = inbox.bucket_at(here.end, 3600)
    # kept: ends after NOW - 4 h, i.e. the current bucket and the four before it
    kept = listed[:5]
    assert sorted(b.readable(NOW)) == sorted({*kept, inbox.INBOX})
    late = here.end - timedelta(seconds=inbox.SKEW_S)  # a clock ahead may have begun the next
    assert nxt.name in b.readable(late) and nxt.name not in b.readable(late - HOUR / 60)
    assert b.expired(NOW) == sorted(listed[5:])
    assert box(retention_s=None).readable(NOW) == [inbox.INBOX]


def test_a_bucket_is_dropped_only_once_every_id_in_it_is_past_the_retention() -> None:
    b = box()
    bucket = inbox.bucket_at(NOW, 3600)
    assert b.kept(bucket.name, bucket.end + 4 * HOUR - timedelta(seconds=1))
    assert not b.kept(bucket.name, bucket.end + 4 * HOUR)
    # an id lands in the bucket of max(event time, now): it ends after the event time
    for t in (NOW - 3 * HOUR, NOW, NOW + HOUR):
        target = inbox.parse(b.target(t, NOW))
        assert target is not None and target.end > t
