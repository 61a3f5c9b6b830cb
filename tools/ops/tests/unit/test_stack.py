"""Which system the tools talk to: the environment, else the stack `distsync up` recorded, else
the defaults; and their logs stay on stderr, warnings only unless --verbose."""

from __future__ import annotations

import argparse
import logging
import os
import subprocess
import sys

import pytest
import structlog

from distsync_ops import console
from distsync_ops import stack as S

AMQP = "amqp://guest:guest@127.0.0.1:5672/"
MONGO = "mongodb://127.0.0.1:27117/?directConnection=true"


def record(tmp_path, **kw):
    return S.write_stack(
        tmp_path / ".data",
        amqp_url=kw.get("amqp_url", AMQP),
        mongodb_url=kw.get("mongodb_url", MONGO),
        services={"receipt": "http://127.0.0.1:8003"},
        dlq_api="http://127.0.0.1:8090",
        pid=kw.get("pid"),
    )


def test_with_nothing_set_and_no_stack_the_defaults_apply(tmp_path):
    r = S.resolve(cwd=tmp_path, env={})
    assert r.values == {} and r.stack is None
    assert r.sources["mongodb_url"].startswith("default (no running `distsync up` found")


def test_the_stack_distsync_up_recorded_is_found_from_below_it(tmp_path):
    path = record(tmp_path)
    below = tmp_path / "services" / "receipt"
    below.mkdir(parents=True)
    r = S.resolve(cwd=below, env={})
    assert r.values == {"amqp_url": AMQP, "mongodb_url": MONGO}
    assert r.stack is not None and r.stack.services == {"receipt": "http://127.0.0.1:8003"}
    assert r.stack.dlq_api == "http://127.0.0.1:8090"
    assert r.sources["mongodb_url"] == f"stack file {path} (`distsync up`, pid {os.getpid()})"
    assert oct(path.stat().st_mode & 0o777) == "0o600"  # the URLs may hold passwords


def test_a_value_set_in_the_environment_wins_over_the_stack(tmp_path):
    record(tmp_path)
    r = S.resolve(cwd=tmp_path, env={"DISTSYNC_MONGODB_URL": "mongodb://db:27017/"})
    assert r.values == {"amqp_url": AMQP}
    assert r.sources["mongodb_url"] == "environment (DISTSYNC_MONGODB_URL)"


def test_a_stack_whose_distsync_up_is_gone_is_ignored(tmp_path):
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    path = record(tmp_path, pid=gone.pid)
    r = S.resolve(cwd=tmp_path, env={})
    assert r.values == {} and r.stack is None
    assert f"{path} ignored" in r.sources["amqp_url"] and "is gone" in r.sources["amqp_url"]


def test_a_stack_file_can_be_named_and_a_broken_one_is_ignored(tmp_path):
    named = tmp_path / "elsewhere.json"
    named.write_text("{not json")
    r = S.resolve(cwd=tmp_path, env={S.STACK_FILE_ENV: str(named)})
    assert r.values == {} and "unreadable" in r.sources["amqp_url"]
    path = record(tmp_path, mongodb_url="mongodb://127.0.0.1:1/")
    r = S.resolve(cwd=tmp_path / "nowhere", env={S.STACK_FILE_ENV: str(path)})
    assert r.values["mongodb_url"] == "mongodb://127.0.0.1:1/"


def test_removing_the_stack_is_idempotent(tmp_path):
    path = record(tmp_path)
    S.remove_stack(path)
    S.remove_stack(path)
    assert not path.exists()
    assert S.resolve(cwd=tmp_path, env={}).values == {}


@pytest.mark.parametrize("verbose", [False, True])
def test_tool_logs_go_to_stderr_only_and_info_only_with_verbose(capsys, verbose):
    root = logging.getLogger()
    before = (root.level, list(root.handlers))
    console.configure_logging(verbose)
    try:
        log = structlog.get_logger("t")
        log.info("routine_step", n=1)
        log.warning("something_odd", n=2)
        logging.getLogger("t.stdlib").info("stdlib_info")
        logging.getLogger("t.stdlib").warning("stdlib_warning")
        out, err = capsys.readouterr()
        assert out == ""
        assert "something_odd" in err and "stdlib_warning" in err
        assert ("routine_step" in err) is verbose
        assert ("stdlib_info" in err) is verbose
    finally:
        structlog.reset_defaults()
        root.setLevel(before[0])
        root.handlers[:] = before[1]


def test_verbose_says_where_each_address_came_from(tmp_path, capsys, monkeypatch):
    for name in ("AMQP_URL", "DISTSYNC_AMQP_URL", "MONGODB_URL", "DISTSYNC_MONGODB_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv(S.STACK_FILE_ENV, raising=False)
    monkeypatch.setenv("AMQP_URL", AMQP)
    path = record(tmp_path)
    monkeypatch.chdir(tmp_path)
    console.resolved(argparse.Namespace(verbose=False), "distsync dlq")
    assert capsys.readouterr() == ("", "")
    console.resolved(argparse.Namespace(verbose=True), "distsync dlq")
    out, err = capsys.readouterr()
    assert out == ""
    assert "distsync dlq: amqp_url: environment (AMQP_URL)" in err
    assert f"distsync dlq: mongodb_url: stack file {path.resolve()}" in err
