#!/usr/bin/python3
# test-gi.py — drives pgengine from Python through GObject-Introspection
# (PyGObject, Debian's python3-gi): connect, parameters, a transaction, a
# batch, and async calls on a GLib main loop. Prints TAP; exits non-zero
# if any test fails.
#
# `make check` runs it with GI_TYPELIB_PATH and LD_LIBRARY_PATH pointing
# into the build tree, and PYTHONPATH at python/ in the source tree so that
# PyGObject finds the overrides (python/gi/overrides/Pge.py). It uses the server PGE_TEST_CONNINFO names, or
# starts a throwaway cluster with tools/pge-cluster and stops it after.
#
# SPDX-License-Identifier: LGPL-2.1-or-later
import datetime
import decimal
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import uuid

import gi
import gi.overrides

# PyGObject looks in its own overrides directory first, so an installed
# python3-pge would shadow the Pge.py under test: the PYTHONPATH that
# `make check` gives goes in front.
for _entry in reversed(os.environ.get("PYTHONPATH", "").split(os.pathsep)):
    _dir = os.path.join(_entry, "gi", "overrides")
    if _entry and os.path.isfile(os.path.join(_dir, "Pge.py")):
        gi.overrides.__path__.insert(0, _dir)

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
    assert Pge.error_get_class(e) == Pge.ErrorClass.UNDEFINED_TABLE
    assert "no_such_table" in e.message


@test
def server_errors_carry_sqlstate_and_class_into_python(ctx):
    ctx.engine.exec_sync("CREATE TABLE IF NOT EXISTS gi_uniq_%d (id int PRIMARY KEY)" % os.getpid())
    table = "gi_uniq_%d" % os.getpid()
    ctx.engine.query_sync("INSERT INTO %s VALUES ($1)" % table, [1])
    e = expect_error(lambda: ctx.engine.query_sync("INSERT INTO %s VALUES ($1)" % table, [1]),
                     Pge.error_quark(), Pge.Error.QUERY)
    # PyGObject rebuilt a plain GError from domain, code and message.
    assert Pge.error_get_sqlstate(e) == "23505", Pge.error_get_sqlstate(e)
    assert Pge.error_get_class(e) == Pge.ErrorClass.UNIQUE_VIOLATION
    assert Pge.error_is_server_error(e)
    e = expect_error(lambda: ctx.engine.query_sync("SELECT 1 / 0"), Pge.error_quark(), Pge.Error.QUERY)
    assert Pge.error_get_sqlstate(e) == "22012"
    assert Pge.error_get_class(e) == Pge.ErrorClass.NONE
    e = expect_error(lambda: ctx.engine.query_sync(
        "DO $$ BEGIN RAISE EXCEPTION 'again' USING ERRCODE = '40001'; END $$"),
        Pge.error_quark(), Pge.Error.QUERY)
    assert Pge.error_get_sqlstate(e) == "40001"
    assert Pge.error_get_class(e) == Pge.ErrorClass.SERIALIZATION_FAILURE
    e = expect_error(lambda: ctx.engine.query_sync("SELECT * FROM no_such_table"),
                     Pge.error_quark(), Pge.Error.QUERY)
    assert Pge.error_get_class(e) == Pge.ErrorClass.UNDEFINED_TABLE
    assert Pge.error_get_sqlstate(e) == "42P01"
    # A local error has no SQLSTATE.
    e = expect_error(lambda: ctx.engine.query_sync(""), Pge.error_quark(), Pge.Error.INVALID_ARGUMENT)
    assert Pge.error_get_sqlstate(e) is None
    ctx.engine.exec_sync("DROP TABLE %s" % table)


@test
def results_are_sequences_of_native_values(ctx):
    result = ctx.engine.query_sync(
        "SELECT g AS n, g * 1.5::float8 AS f, g % 2 = 0 AS even, 'r' || g AS s, "
        "'\\x00ff'::bytea AS b, NULL::int AS z, 12.50::numeric AS num, 7::int2 AS small "
        "FROM generate_series(1, 3) g")
    assert len(result) == 3
    assert result.columns == ["n", "f", "even", "s", "b", "z", "num", "small"], result.columns
    assert result[0] == (1, 1.5, False, "r1", b"\x00\xff", None, decimal.Decimal("12.50"), 7), \
        result[0]
    assert result[-1][0] == 3
    assert [row[0] for row in result] == [1, 2, 3]
    assert [type(v) for v in result[1]] == [int, float, bool, str, bytes, type(None), decimal.Decimal,
                                            int]
    assert result[1:] == [result[1], result[2]]
    assert result.row_dict(1) == {"n": 2, "f": 3.0, "even": True, "s": "r2", "b": b"\x00\xff",
                                  "z": None, "num": decimal.Decimal("12.50"), "small": 7}
    assert result.dicts()[2]["s"] == "r3"
    try:
        result[3]
        raise AssertionError("no IndexError")
    except IndexError:
        pass
    empty = ctx.engine.query_sync("SELECT 1 WHERE false")
    assert len(empty) == 0 and list(empty) == []


@test
def params_from_python_sequences(ctx):
    result = ctx.engine.query_sync(
        "SELECT $1::int + 1, $2::text, $3::float8 * 2, $4::bool, $5::bytea, $6::int IS NULL, "
        "$7::numeric, $8::date", (41, "txt", 1.25, True, b"\x01\x02", None,
                                  decimal.Decimal("1.10"), datetime.date(2024, 2, 29)))
    assert result[0] == (42, "txt", 2.5, True, b"\x01\x02", True, decimal.Decimal("1.10"),
                         datetime.date(2024, 2, 29)), result[0]
    assert ctx.engine.query_sync("SELECT $1::int8 * 2", [2 ** 40])[0] == (2 ** 41,)
    assert ctx.engine.query_sync("SELECT 5")[0] == (5,), "params may be left out"
    try:
        ctx.engine.query_sync("SELECT $1", [object()])
        raise AssertionError("no TypeError")
    except TypeError:
        pass
    try:
        ctx.engine.query_sync("SELECT $1", "abc")
        raise AssertionError("a string is not a parameter list")
    except TypeError:
        pass
    # The async form and a batch take sequences too.
    result = run_loop(lambda done: ctx.engine.query_async(
        "SELECT $1::int * 3", [5], None, lambda src, res, data: done(ctx.engine.query_finish(res)),
        None))
    assert result[0] == (15,)
    batch = ctx.engine.batch("SELECT g FROM generate_series(1, $1::int) g", [25], 10)
    assert [row[0] for row in batch] == list(range(1, 26))
    batch.close()


UTC = datetime.timezone.utc


@test
def native_values_from_the_server(ctx):
    row = ctx.engine.query_sync(
        "SELECT 12.50::numeric, 'NaN'::numeric, '2024-02-29'::date, "
        "'2024-01-02 03:04:05.000007'::timestamp, "
        "'2024-01-02 03:04:05.000007+05:30'::timestamptz, "
        "'1 year 2 mons -3 days 04:05:06.5'::interval, "
        "'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid, "
        "'{\"a\": [1, null]}'::jsonb, '[1, \"x\"]'::json, "
        "ARRAY[1, NULL, 3], ARRAY['x', NULL, 'y\"z,'], ARRAY[1.5, NULL]::numeric[], "
        "ARRAY['2024-01-01'::date, NULL], ARRAY['\\x01'::bytea, NULL], "
        "ARRAY['1 day'::interval, '-00:00:01.5'], ARRAY[true, false], "
        "ARRAY['2024-01-02 03:04:05+00'::timestamptz], ARRAY['{\"k\": 1}'::jsonb], "
        "ARRAY['a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid], ARRAY[1.5, 'Infinity']::float8[], "
        "ARRAY[[1, 2], [3, 4]], NULL::numeric, NULL::int[], NULL::date")[0]
    want = (decimal.Decimal("12.50"), "NaN", datetime.date(2024, 2, 29),
            datetime.datetime(2024, 1, 2, 3, 4, 5, 7),
            datetime.datetime(2024, 1, 1, 21, 34, 5, 7, tzinfo=UTC),
            # 1 year = 365 days, 2 months = 60 days (a timedelta has no months)
            datetime.timedelta(days=365 + 60 - 3, hours=4, minutes=5, seconds=6.5),
            uuid.UUID("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"),
            {"a": [1, None]}, [1, "x"],
            [1, None, 3], ["x", None, 'y"z,'], [decimal.Decimal("1.5"), None],
            [datetime.date(2024, 1, 1), None], [b"\x01", None],
            [datetime.timedelta(days=1), -datetime.timedelta(seconds=1.5)], [True, False],
            [datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)], [{"k": 1}],
            [uuid.UUID("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11")], [1.5, float("inf")],
            "{{1,2},{3,4}}", None, None, None)
    assert len(row) == len(want)
    for i, (got, expected) in enumerate(zip(row, want)):
        if i == 1:
            assert got.is_nan(), got
        else:
            assert got == expected and type(got) == type(expected), \
                "column %d: %r, want %r" % (i + 1, got, expected)
    assert row[4].utcoffset() == datetime.timedelta(0), "timestamptz is aware"
    assert row[3].tzinfo is None, "timestamp is naive"
    # The session's TimeZone gives the offset; the instant is the same.
    with ctx.engine.transaction() as tx:
        tx.query_sync("SET LOCAL TimeZone = 'Asia/Kolkata'")
        there = tx.query_sync("SELECT '2024-01-02 03:04:05.000007+05:30'::timestamptz")[0][0]
    assert there == row[4] and there.utcoffset() == datetime.timedelta(hours=5, minutes=30), there
    # Months: 30 days each; 12 of them a year of 365.
    months = ctx.engine.query_sync("SELECT '1 mon'::interval, '12 mons'::interval, "
                                   "'-13 mons'::interval")[0]
    assert months == (datetime.timedelta(days=30), datetime.timedelta(days=365),
                      datetime.timedelta(days=-395)), months
    # The strict readers underneath: no guess for what has no Python value.
    e = expect_error(lambda: ctx.engine.query_sync("SELECT 'infinity'::date")[0],
                     Pge.error_quark(), Pge.Error.CONVERSION)
    assert "infinity" in e.message, e.message
    # The list models' rows are native too.
    model = Pge.ResultModel.new(ctx.engine.query_sync("SELECT 2.5::numeric AS n, '2024-03-01'::date AS d"))
    assert model.get_item(0)["d"] == datetime.date(2024, 3, 1)
    assert model.get_item(0).values() == (decimal.Decimal("2.5"), datetime.date(2024, 3, 1))


@test
def native_values_round_trip_as_their_own_types(ctx):
    tz = datetime.timezone(datetime.timedelta(hours=-3, minutes=-30))
    values = [
        (decimal.Decimal("-12345678901234567890.000000000001"), "numeric"),
        (2 ** 70, "numeric"),
        (datetime.date(2024, 2, 29), "date"),
        (datetime.datetime(2024, 1, 2, 3, 4, 5, 999999), "timestamp without time zone"),
        (datetime.datetime(1, 1, 1), "timestamp without time zone"),
        (datetime.datetime(2024, 1, 2, 3, 4, 5, 7, tzinfo=tz), "timestamp with time zone"),
        (datetime.timedelta(days=-2, seconds=3, microseconds=7), "interval"),
        (uuid.UUID("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"), "uuid"),
        ({"a": [1, None, "x"], "b": {"c": 1.5}}, "jsonb"),
        (Pge.Json([1, "x"]), "jsonb"),
        ([1, None, 3], "bigint[]"),
        ([1, 2.5, None], "double precision[]"),
        (["a", None, 'b"c,{}\\'], "text[]"),
        ([True, None], "boolean[]"),
        ([decimal.Decimal("1.10")], "numeric[]"),
        ([datetime.date(2024, 1, 1), None], "date[]"),
        ([datetime.datetime(2024, 1, 2, 3, 4, 5, 6)], "timestamp without time zone[]"),
        ([datetime.datetime(2024, 1, 2, 3, 4, 5, 6, tzinfo=tz)], "timestamp with time zone[]"),
        ([datetime.timedelta(hours=-1, microseconds=1)], "interval[]"),
        ([uuid.UUID("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11")], "uuid[]"),
        ([b"\x00\x01", None], "bytea[]"),
        ([{"k": 1}], "jsonb[]"),
        (b"\x00\xff", "bytea"),
    ]
    sql = "SELECT " + ", ".join("$%d, pg_typeof($%d)::text" % (i + 1, i + 1) for i in range(len(values)))
    row = ctx.engine.query_sync(sql, [v for v, _ in values])[0]
    for i, (value, type_name) in enumerate(values):
        got, got_type = row[2 * i], row[2 * i + 1]
        want = value.value if isinstance(value, Pge.Json) else value
        assert got_type == type_name, "%r went as %s, want %s" % (value, got_type, type_name)
        assert got == want, "%r came back as %r" % (want, got)
    # An empty list: the placeholder's type decides.
    assert ctx.engine.query_sync("SELECT $1::int[]", [[]])[0] == ([],)
    for bad in ([[1, 2], [3, 4]], [1, "x"], [object()],
                [datetime.datetime(2024, 1, 1), datetime.datetime(2024, 1, 1, tzinfo=UTC)]):
        try:
            ctx.engine.query_sync("SELECT $1", [bad])
            raise AssertionError("no TypeError for %r" % (bad,))
        except TypeError:
            pass


@test
def array_readers_give_lists_without_double_frees(ctx):
    result = ctx.engine.query_sync(
        "SELECT ARRAY['a', NULL], ARRAY['2024-01-01'::date, NULL], ARRAY['\\x01'::bytea, NULL]")
    for _ in range(50):
        texts = result.read_text_array(0, 0)
        dates = result.read_datetime_array(0, 1)
        blobs = result.read_bytes_array(0, 2)
    import gc
    gc.collect()
    assert texts == ["a", None]
    assert dates[0].get_year() == 2024 and dates[1] is None
    assert blobs[0].get_data() == b"\x01" and blobs[1] is None


@test
def metrics_from_python(ctx):
    ctx.engine.reset_metrics()
    ctx.engine.query_sync("SELECT 1")
    metrics = ctx.engine.get_metrics(None)
    assert metrics.get_node() is None
    assert metrics.get_counter(Pge.Counter.COMPLETED) == 1
    assert metrics.get_timer_count(Pge.Timer.RUN) == 1
    assert metrics.get_timer_percentile_us(Pge.Timer.RUN, 0.5) >= 0
    assert ctx.engine.get_metrics("primary").get_node() == "primary"
    expect_error(lambda: ctx.engine.get_metrics("nowhere"), Pge.error_quark(),
                 Pge.Error.INVALID_ARGUMENT)
    text = ctx.engine.format_metrics()
    assert 'pge_jobs_completed_total{node="primary"} 1\n' in text, text


@test
def pool_lifecycle_setup_and_per_call_limits_from_python(ctx):
    config = Pge.Config.new(ctx.conninfo)
    config.set_workers(1)
    config.set_connect_sql("SET application_name = 'gi-on-connect'")
    assert config.get_connect_sql() == "SET application_name = 'gi-on-connect'"
    config.set_max_lifetime(600000)
    assert config.get_max_lifetime() == 600000
    config.set_reconnect_timeout(0)
    assert config.get_reconnect_timeout() == 0
    engine = Pge.Engine.new(config)
    try:
        name = "SELECT current_setting('application_name')"
        assert engine.query_sync(name).get_value(0, 0) == "gi-on-connect"
        pid = engine.query_sync("SELECT pg_backend_pid()").get_int64(0, 0)
        engine.recycle()
        deadline = GLib.get_monotonic_time() + 5 * 1000000
        while engine.query_sync("SELECT pg_backend_pid()").get_int64(0, 0) == pid:
            assert GLib.get_monotonic_time() < deadline, "recycle kept the connection"
        # The setup ran again on the new connection.
        assert engine.query_sync(name).get_value(0, 0) == "gi-on-connect"

        options = Pge.CallOptions.new()
        assert options.get_statement_timeout() == -1
        options.set_statement_timeout(100)
        expect_error(lambda: engine.query_with_options_sync("SELECT pg_sleep(2)", None, options),
                     Pge.error_quark(), Pge.Error.TIMEOUT)
        # Restored after the call: the engine's own (none) applies again.
        result = engine.query_with_options_sync("SELECT $1::int + 1", [41], Pge.CallOptions.new())
        assert result.get_int64(0, 0) == 42
        assert engine.query_sync("SHOW statement_timeout").get_value(0, 0) == "0"
        # Bad input: negative timeouts do not fit a guint; the SQL is not nullable.
        for bad in (lambda: options.set_statement_timeout(-5),
                    lambda: engine.query_with_options_sync(None, None, None)):
            try:
                bad()
            except (TypeError, OverflowError):
                pass
            else:
                raise AssertionError("bad input accepted")
    finally:
        engine.close()


@test
def transaction_as_context_manager_commits_or_rolls_back(ctx):
    before = count(ctx.engine)
    with ctx.engine.transaction() as tx:
        tx.query_sync("INSERT INTO %s VALUES ($1, $2)" % TABLE, (500, "ctx"))
        assert ctx.engine.transaction_exists()
    assert tx.is_committed()
    assert not ctx.engine.transaction_exists()
    assert count(ctx.engine) == before + 1

    class Boom(Exception):
        pass
    try:
        with ctx.engine.transaction() as tx:
            tx.query_sync("INSERT INTO %s VALUES ($1, $2)" % TABLE, (501, "gone"))
            raise Boom()
    except Boom:
        pass
    assert tx.is_rolled_back()
    assert count(ctx.engine) == before + 1

    # Nested with the default flags: the inner block is the outer
    # transaction and leaves ending it to the outer block.
    with ctx.engine.transaction() as outer:
        with ctx.engine.transaction() as inner:
            inner.query_sync("INSERT INTO %s VALUES ($1, $2)" % TABLE, (502, "nested"))
        assert not outer.is_committed(), "the inner block committed the outer transaction"
        # A savepoint-backed inner transaction that fails rolls back alone.
        try:
            with ctx.engine.transaction(Pge.TransactionFlags.SAVEPOINT) as sp:
                sp.query_sync("INSERT INTO %s VALUES ($1, $2)" % TABLE, (503, "inner"))
                raise Boom()
        except Boom:
            pass
    assert outer.is_committed()
    ids = [row[0] for row in ctx.engine.query_sync(
        "SELECT id FROM %s WHERE id >= 500 ORDER BY id" % TABLE)]
    assert ids == [500, 502], ids
    ctx.engine.query_sync("DELETE FROM %s WHERE id >= 500" % TABLE)


@test
def async_chain_transaction_query_commit(ctx):
    loop = GLib.MainLoop()
    steps = []
    out = {}

    def fail(e):
        out["error"] = e
        loop.quit()

    def committed(tx, res, data):
        try:
            steps.append(("commit", tx.commit_finish(res)))
        except GLib.Error as e:
            return fail(e)
        loop.quit()

    def inserted(tx, res, data):
        try:
            result = tx.query_finish(res)
            steps.append(("query", result.get_rows_affected()))
        except GLib.Error as e:
            return fail(e)
        tx.commit_async(None, lambda src, res, data: committed(tx, res, data), None)

    def begun(src, res, data):
        try:
            tx = ctx.engine.transaction_finish(res)
        except GLib.Error as e:
            return fail(e)
        steps.append(("begin", tx is not None))
        tx.query_async("INSERT INTO %s VALUES ($1, $2)" % TABLE, [600, "chain"], None,
                       lambda src, res, data: inserted(tx, res, data), None)

    timer = GLib.timeout_add_seconds(20, lambda: fail(AssertionError("timed out")))
    ctx.engine.transaction_async(Pge.TransactionFlags.DEFAULT, None, begun, None)
    loop.run()
    GLib.source_remove(timer)
    if "error" in out:
        raise out["error"]
    assert steps == [("begin", True), ("query", 1), ("commit", True)], steps
    assert ctx.engine.query_sync("SELECT v FROM %s WHERE id = $1" % TABLE, [600])[0] == ("chain",)
    ctx.engine.query_sync("DELETE FROM %s WHERE id = $1" % TABLE, [600])


@test
def list_models_and_variants(ctx):
    result = ctx.engine.query_sync("SELECT g AS id, 'n' || g AS name FROM generate_series(1, 4) g")
    model = Pge.ResultModel.new(result)
    assert model.get_n_items() == 4
    row = model.get_item(2)
    assert isinstance(row, Pge.Row)
    assert row["name"] == "n3" and row[0] == 3 and len(row) == 2
    assert row.get_value_by_name("id") == "3"
    assert result.row_to_variant(0).unpack() == (1, "n1")
    assert result.to_vardicts().unpack()[3] == {"id": 4, "name": "n4"}
    stats = ctx.engine.get_stats()
    assert isinstance(stats, Pge.Stats) and stats.n_workers > 0

    batch = ctx.engine.batch("SELECT g FROM generate_series(1, 35) g", None, 10)
    bmodel = Pge.BatchModel.new(batch)
    loop = GLib.MainLoop()

    def changed(model, position, removed, added):
        if model.is_complete():
            loop.quit()
        else:
            model.load_more()
    bmodel.connect("items-changed", changed)
    timer = GLib.timeout_add_seconds(20, loop.quit)
    loop.run()
    GLib.source_remove(timer)
    assert bmodel.is_complete() and bmodel.get_n_items() == 35, bmodel.get_n_items()
    assert bmodel.get_item(34)[0] == 35
    batch.close()


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
