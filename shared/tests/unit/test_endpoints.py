"""Several broker endpoints in one setting: parsing, where a connection starts, and giving up
only after every endpoint was tried (against local ports nothing listens on; the failover
itself is tested on a real three-node cluster in tests/cluster)."""

from __future__ import annotations

import socket

import pytest
from yarl import URL

from shared.endpoints import MultiEndpointConnection, connect_first, parse_endpoints


def closed_url() -> str:
    """A local port nothing listens on: a connection there is refused at once."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"amqp://guest:guest@127.0.0.1:{port}/"


def test_a_comma_list_gives_each_url_without_surrounding_spaces():
    got = parse_endpoints("amqp://u:p@h1:5672/v , amqps://u:p@h2/v,amqp://h3")
    assert got == ["amqp://u:p@h1:5672/v", "amqps://u:p@h2/v", "amqp://h3"]


def test_a_single_url_is_a_list_of_one():
    assert parse_endpoints("amqp://guest:guest@127.0.0.1:5672/") == [
        "amqp://guest:guest@127.0.0.1:5672/"
    ]


def test_a_password_with_an_encoded_comma_stays_in_its_entry():
    got = parse_endpoints("amqp://u:a%2Cb@h1/,amqp://u:a%2Cb@h2/")
    assert [URL(u).password for u in got] == ["a,b", "a,b"]


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("amqp://h1/,,amqp://h2/", "endpoint 2 of 3 is empty"),
        ("amqp://h1/,", "endpoint 2 of 2 is empty"),
        ("", "endpoint 1 of 1 is empty"),
        ("amqp://h1/,http://h2/", "endpoint 2 of 2 must start with amqp://"),
        ("amqp://h1/,h2:5672", "endpoint 2 of 2 must start with amqp://"),
        ("amqp:///vhost", "endpoint 1 of 1 has no host"),
        ("amqp://h1/,amqp://h2:port/", "endpoint 2 of 2 is not a valid URL"),
    ],
)
def test_an_empty_or_invalid_entry_is_refused_with_its_position(value: str, says: str):
    with pytest.raises(ValueError, match=says):
        parse_endpoints(value)


async def test_a_connection_starts_on_the_endpoint_it_is_given():
    urls = [closed_url(), closed_url(), closed_url()]
    conn = MultiEndpointConnection(urls, start=1)
    assert conn.url == URL(urls[1]) and conn.endpoint_index == 1


async def test_replicas_start_on_different_endpoints():
    urls = [closed_url(), closed_url(), closed_url()]
    starts = {MultiEndpointConnection(urls).endpoint_index for _ in range(200)}
    assert starts == {0, 1, 2}


async def test_the_first_connect_tries_every_endpoint_once_then_raises():
    urls = [closed_url(), closed_url(), closed_url()]
    conn = MultiEndpointConnection(urls, start=2, reconnect_interval=0.05)
    with pytest.raises(OSError):
        await conn.connect(timeout=5)
    assert conn.endpoint_index == 2  # went round the whole list: 2 -> 0 -> 1 -> 2
    assert conn.is_closed


async def test_connect_first_raises_the_last_error_when_no_endpoint_answers():
    with pytest.raises(OSError):
        await connect_first(f"{closed_url()},{closed_url()}")


async def test_connect_first_refuses_an_invalid_list_before_connecting():
    with pytest.raises(ValueError, match="endpoint 2 of 2 is empty"):
        await connect_first(f"{closed_url()},")
