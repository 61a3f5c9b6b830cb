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
