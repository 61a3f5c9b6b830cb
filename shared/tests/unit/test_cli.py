"""`distsync`: the runtime brings `run` and `topology apply`; the other commands are found in
the installed packages (entry points `distsync.commands`), and a missing one says what to
install."""

from __future__ import annotations

from importlib.metadata import EntryPoint, entry_points

import pytest

from shared import cli


def fake_entry_points(*eps: EntryPoint):
    def find(*, group: str) -> list[EntryPoint]:
        assert group == cli.COMMANDS_GROUP
        return list(eps)

    return find


def test_every_command_the_tools_bring_is_known_with_its_package():
    installed = {
        ep.name: ep.dist.name if ep.dist else None for ep in entry_points(group=cli.COMMANDS_GROUP)
    }
    assert set(installed) == set(cli.PROVIDED_BY)  # the dev workspace has every tool package
    assert {n: p for n, p in installed.items()} == cli.PROVIDED_BY


def test_without_the_tools_a_command_says_which_package_brings_it(monkeypatch, capsys):
    monkeypatch.setattr(cli, "entry_points", fake_entry_points())
    assert cli.main(["dlq", "replay", "receipt", "--yes"]) == 2
    err = capsys.readouterr().err
    assert "distsync dlq comes with distsync-ops, which is not installed here" in err
    assert cli.main(["up"]) == 2
    assert "distsync-sim" in capsys.readouterr().err


def test_a_command_that_cannot_load_leaves_the_others_working(monkeypatch, capsys):
    broken = EntryPoint("trace", "no_such_module_here:register", cli.COMMANDS_GROUP)
    monkeypatch.setattr(cli, "entry_points", fake_entry_points(broken))
    assert cli.main(["trace", "PO-1"]) == 2
    assert "distsync trace could not be loaded (ModuleNotFoundError" in capsys.readouterr().err
    args = cli.build_parser(["topology", "apply"]).parse_args(["topology", "apply", "--json"])
    assert args.fn is cli.cmd_topology_apply


def test_a_core_command_loads_no_tool(monkeypatch):
    loaded: list[str] = []

    class Recording(EntryPoint):
        def load(self):
            loaded.append(self.name)
            return lambda sub: None

    eps = [Recording(n, "x:y", cli.COMMANDS_GROUP) for n in ("dlq", "simulate")]
    monkeypatch.setattr(cli, "entry_points", fake_entry_points(*eps))
    cli.build_parser(["run", "receipt"])
    assert loaded == []
    cli.build_parser(["dlq", "list"])
    assert loaded == ["dlq"]
    cli.build_parser(["--help"])
    assert loaded == ["dlq", "dlq", "simulate"]  # help lists them all


@pytest.mark.parametrize("command", sorted(cli.PROVIDED_BY))
def test_each_tool_command_is_there_in_the_workspace(command):
    parser = cli.build_parser([command])
    sub = next(a for a in parser._actions if a.dest == "command")
    assert command in sub.choices
    assert "not available" not in (sub.choices[command].description or "")


def _applied(monkeypatch, argv: list[str], env_partitions: str | None = None):
    """Run `distsync topology apply` against a fake broker; the topology it would declare."""
    from shared import messaging, topology

    declared = []

    class FakeConnection:
        async def channel(self):
            return object()

        async def close(self):
            return None

    async def fake_connect(url, name):
        return FakeConnection()

    async def fake_declare(channel, topo):
        declared.append(topo)

    monkeypatch.setattr(messaging, "connect", fake_connect)
    monkeypatch.setattr(topology, "declare", fake_declare)
    if env_partitions is None:
        monkeypatch.delenv("DISTSYNC_PARTITIONS", raising=False)
    else:
        monkeypatch.setenv("DISTSYNC_PARTITIONS", env_partitions)
    rc = cli.main(["topology", "apply", *argv])
    return rc, declared


def test_topology_apply_declares_the_partitions_it_is_given(monkeypatch, capsys):
    rc, (topo,) = _applied(monkeypatch, ["--partitions", "receipt=4", "--json"])
    assert rc == 0
    parts = [q for q in topo.queues if q.name.startswith("receipt.part.")]
    assert [q.name for q in parts] == [f"receipt.part.{i}" for i in range(4)]
    for i, q in enumerate(parts):
        assert q.arguments["x-single-active-consumer"] is True
        assert q.arguments["x-queue-type"] == "quorum"
        assert q.arguments["x-dead-letter-exchange"] == "receipt.dlx"
        assert q.arguments["x-delivery-limit"] == 20
        assert q.bindings == [("receipt.partitions", str(i))]
    assert topo.exchanges["receipt.partitions"] == ("direct", {})
    assert topo.queue("receipt.replicas").arguments == {"x-queue-type": "quorum"}
    assert not any(q.name.startswith("availability.part.") for q in topo.queues)
    assert '"partitions": {"receipt": 4}' in capsys.readouterr().out


def test_distsync_partitions_is_the_default_of_every_service_that_consumes(monkeypatch):
    rc, (topo,) = _applied(monkeypatch, ["--partitions", "returns=3"], env_partitions="6")
    assert rc == 0
    names = {q.name for q in topo.queues}
    for svc in ("availability", "order-status", "receipt", "carrier-tracking"):
        assert {f"{svc}.part.{i}" for i in range(6)} <= names
        assert f"{svc}.part.6" not in names
    assert {"returns.part.2", "returns.replicas"} <= names and "returns.part.3" not in names
    assert not any(n.startswith("ingress.part") or n == "ingress.replicas" for n in names)


@pytest.mark.parametrize(
    "value", ["receipt", "receipt=0", "receipt=x", "receipt=2000", "nobody=3", "ingress=4"]
)
def test_topology_apply_refuses_a_partition_count_it_cannot_use(monkeypatch, capsys, value):
    rc, declared = _applied(monkeypatch, ["--partitions", value])
    assert rc == 2 and declared == []
    assert "topology apply refused" in capsys.readouterr().out
