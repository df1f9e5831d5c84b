#!/usr/bin/python3
# test-gi.py — drives pgengine from Python through GObject-Introspection
# (PyGObject, Debian's python3-gi): connect, parameters, a transaction, a
# batch, and async calls on a GLib main loop. Prints TAP; exits non-zero
# if any test fails.
#
# `make check` runs it with GI_TYPELIB_PATH and LD_LIBRARY_PATH pointing
# into the build tree. It uses the server PGE_TEST_CONNINFO names, or
# starts a throwaway cluster with tools/pge-cluster and stops it after.
#
# SPDX-License-Identifier: LGPL-2.1-or-later
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import traceback

import gi

gi.require_version("GLib", "2.0")
gi.require_version("Gio", "2.0")
gi.require_version("Pge", "1")
from gi.repository import Gio, GLib, Pge  # noqa: E402

TOP_SRCDIR = os.environ.get(
    "PGE_TEST_SRCDIR", os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
TABLE = "gi_test_%d" % os.getpid()

tests = []


def test(func):
    tests.append(func)
    return func


def run_loop(start, timeout_s=20):
    """Runs a main loop until start(done) calls done(value); returns value
    and the thread the completion ran on."""
    loop = GLib.MainLoop()
    out = {}

    def done(value):
        out["value"] = value
        out["thread"] = threading.get_ident()
        loop.quit()

    def timed_out():
        out["timeout"] = True
        loop.quit()
        return GLib.SOURCE_REMOVE

    timer = GLib.timeout_add_seconds(timeout_s, timed_out)
    start(done)
    loop.run()
    if "timeout" not in out:
        GLib.source_remove(timer)
    assert "timeout" not in out, "no callback within %d s" % timeout_s
    assert out["thread"] == threading.get_ident(), "callback ran on another thread"
    return out["value"]


def expect_error(func, domain, code):
    try:
        func()
    except GLib.Error as e:
        assert e.domain == GLib.quark_to_string(domain) and e.code == int(code), \
            "wrong error %s %d: %s" % (e.domain, e.code, e.message)
        return e
    raise AssertionError("no error raised")


def count(engine):
    return engine.query_sync("SELECT count(*) FROM %s" % TABLE, None).get_int64(0, 0)


@test
def connect_and_query_with_params(ctx):
    params = Pge.Params.new()
    params.add_int64(20)
    params.add_text("abc")
    result = ctx.engine.query_sync("SELECT $1::int8 * 2 AS n, upper($2) AS s", params)
    assert result.get_n_rows() == 1
    assert result.get_int64(0, 0) == 40
    assert result.get_value(0, 1) == "ABC"
    assert result.get_column_name(1) == "s"
    assert ctx.engine.get_server_version() >= 140000


@test
def server_errors_are_pge_errors_with_sqlstate(ctx):
    e = expect_error(lambda: ctx.engine.query_sync("SELECT * FROM no_such_table", None),
                     Pge.error_quark(), Pge.Error.QUERY)
    assert "no_such_table" in e.message


@test
def transaction_begin_query_commit(ctx):
    tx = ctx.engine.transaction(Pge.TransactionFlags.DEFAULT)
    assert ctx.engine.transaction_exists()
    tx.query_sync("INSERT INTO %s VALUES (1, 'one')" % TABLE, None)
    params = Pge.Params.new()
    params.add_int32(2)
    params.add_text("two")
    tx.query_sync("INSERT INTO %s VALUES ($1, $2)" % TABLE, params)
    assert tx.commit()
    assert tx.is_committed()
    assert not ctx.engine.transaction_exists()
    assert count(ctx.engine) == 2


@test
def transaction_rollback_keeps_nothing(ctx):
    before = count(ctx.engine)
    tx = ctx.engine.transaction(Pge.TransactionFlags.DEFAULT)
    tx.query_sync("INSERT INTO %s VALUES (100, 'gone')" % TABLE, None)
    assert tx.rollback()
    assert count(ctx.engine) == before


@test
def batch_pages_through_rows(ctx):
    batch = ctx.engine.batch("SELECT g FROM generate_series(1, 250) g", None, 100)
    sizes, values = [], []
    while True:
        chunk = batch.next()
        if chunk is None:
            break
        sizes.append(chunk.get_n_rows())
        values += [chunk.get_int64(i, 0) for i in range(chunk.get_n_rows())]
    assert sizes == [100, 100, 50], sizes
    assert values == list(range(1, 251))
    assert batch.close()


@test
def query_async_on_main_loop(ctx):
    params = Pge.Params.new()
    params.add_int64(6)

    def start(done):
        ctx.engine.query_async("SELECT $1::int8 * 7", params, None,
                               lambda src, res, data: done(ctx.engine.query_finish(res)), None)
    result = run_loop(start)
    assert result.get_int64(0, 0) == 42


@test
def query_async_cancel_gives_io_cancelled(ctx):
    cancellable = Gio.Cancellable()
    started = time.monotonic()

    def start(done):
        def finished(src, res, data):
            try:
                ctx.engine.query_finish(res)
                done(None)
            except GLib.Error as e:
                done(e)
        ctx.engine.query_async("SELECT pg_sleep(30)", None, cancellable, finished, None)
        GLib.timeout_add(200, lambda: cancellable.cancel() or GLib.SOURCE_REMOVE)
    e = run_loop(start)
    assert e is not None, "not cancelled"
    assert e.matches(Gio.io_error_quark(), Gio.IOErrorEnum.CANCELLED), e.message
    assert time.monotonic() - started < 5
    assert ctx.engine.query_sync("SELECT 1", None).get_int64(0, 0) == 1


@test
def async_engine_transaction_and_batch_on_main_loop(ctx):
    config = Pge.Config.new(ctx.conninfo)
    config.set_workers(2)
    engine = run_loop(lambda done: Pge.Engine.new_async(
        config, None, lambda src, res, data: done(Pge.Engine.new_finish(res)), None))
    tx = run_loop(lambda done: engine.transaction_async(
        Pge.TransactionFlags.DEFAULT, None,
        lambda src, res, data: done(engine.transaction_finish(res)), None))
    # Begun asynchronously: never the current transaction.
    assert engine.get_current_transaction() is None
    run_loop(lambda done: tx.query_async(
        "INSERT INTO %s VALUES (10, 'async')" % TABLE, None, None,
        lambda src, res, data: done(tx.query_finish(res)), None))
    assert count(engine) == 2, "the uncommitted row is visible outside"
    assert run_loop(lambda done: tx.commit_async(
        None, lambda src, res, data: done(tx.commit_finish(res)), None))
    assert count(engine) == 3

    batch = run_loop(lambda done: engine.batch_async(
        "SELECT id FROM %s ORDER BY id" % TABLE, None, 2, None,
        lambda src, res, data: done(engine.batch_finish(res)), None))
    ids = []
    while True:
        chunk = run_loop(lambda done: batch.next_async(
            None, lambda src, res, data: done(batch.next_finish(res)), None))
        if chunk is None:
            break
        ids += [chunk.get_int64(i, 0) for i in range(chunk.get_n_rows())]
    assert ids == [1, 2, 10], ids
    batch.close()

    atomic = engine.atomic()
    atomic.add("INSERT INTO %s VALUES (11, 'a')" % TABLE, None)
    atomic.add("INSERT INTO %s VALUES (12, 'b')" % TABLE, None)
    assert run_loop(lambda done: atomic.run_async(
        None, lambda src, res, data: done(atomic.run_finish(res)), None))
    assert count(engine) == 5
    engine.close()


class Context:
    pass


def main():
    cluster_dir = None
    conninfo = os.environ.get("PGE_TEST_CONNINFO")
    if not conninfo:
        cluster_dir = tempfile.mkdtemp(prefix="pge-gi-")
        shutil.rmtree(cluster_dir)
        tool = os.path.join(TOP_SRCDIR, "tools", "pge-cluster")
        out = subprocess.run([tool, "start", cluster_dir], capture_output=True, text=True)
        if out.returncode != 0:
            print("Bail out! cannot start a cluster: %s" % out.stderr.strip())
            return 1
        conninfo = out.stdout.strip()

    failed = 0
    print("1..%d" % len(tests))
    try:
        ctx = Context()
        ctx.conninfo = conninfo
        config = Pge.Config.new(conninfo)
        ctx.engine = Pge.Engine.new(config)
        ctx.engine.exec_sync("CREATE TABLE %s (id int PRIMARY KEY, v text)" % TABLE)
        for i, func in enumerate(tests, 1):
            try:
                func(ctx)
                print("ok %d - %s" % (i, func.__name__))
            except Exception:
                failed += 1
                print("not ok %d - %s" % (i, func.__name__))
                for line in traceback.format_exc().splitlines():
                    print("# " + line)
            sys.stdout.flush()
        ctx.engine.exec_sync("DROP TABLE IF EXISTS %s" % TABLE)
        ctx.engine.close()
    finally:
        if cluster_dir:
            subprocess.run([os.path.join(TOP_SRCDIR, "tools", "pge-cluster"), "stop", cluster_dir],
                           capture_output=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
