# Pge.py — PyGObject overrides that make pgengine feel native in Python.
#
#   from gi.repository import Pge
#   engine = Pge.Engine.new(Pge.Config.new(conninfo))
#   result = engine.query_sync("SELECT id, name FROM t WHERE id > $1", [41])
#   len(result), result[0], list(result), result.dicts()
#   with engine.transaction() as tx:          # commits, or rolls back on error
#       tx.query_sync("INSERT INTO t VALUES ($1, $2)", (42, "x"))
#   try: ...
#   except GLib.Error as e:
#       if Pge.error_get_class(e) == Pge.ErrorClass.UNIQUE_VIOLATION: ...
#       Pge.error_get_sqlstate(e)              # "23505"
#
# What it adds:
# - Params from any Python sequence wherever a PgeParams goes; an existing
#   Pge.Params still works, and params may be left out.
# - Results are sequences: len(), indexing (negative too, slices), iteration
#   over rows as tuples of native values; columns, dicts(), row(i),
#   row_dict(i).
# - Values both ways, as psycopg maps them (the README has the table):
#   bool, int2/4/8, float4/8, text, bytea <-> bool, int, float, str, bytes;
#   numeric <-> Decimal; date <-> datetime.date; timestamp <-> naive and
#   timestamptz <-> aware datetime.datetime; interval <-> timedelta (a
#   month read as 30 days, a year as 365); uuid <-> UUID; one-dimensional
#   arrays <-> list; json/jsonb -> dict, list, ... and dict or Pge.Json(x)
#   -> jsonb. Results are read with the strict C readers
#   (pge_result_read_*), so a value is exact or an error (GLib.Error
#   PGE_ERROR_CONVERSION for an infinite date, say), never a guess.
# - Rows of the list models (Pge.Row) index by position or column name.
# - Transactions as context managers. `engine.transaction()` called while
#   the thread already has a transaction returns that outer transaction by
#   default (pgengine's nesting rule); its `with` block then neither
#   commits nor rolls back — the outermost block does.
# - A batch iterates over all its rows, chunk by chunk.
#
# Installed into gi/overrides under the prefix (configure.ac); uninstalled (the tests),
# put the directory holding gi/overrides/ on PYTHONPATH.
#
# SPDX-License-Identifier: LGPL-2.1-or-later
import datetime
import decimal
import json
import math
import re
import uuid

from ..module import get_introspection_module
from ..overrides import override

Pge = get_introspection_module("Pge")
GLib = get_introspection_module("GLib")

__all__ = []

_NUMERIC_OID = 1700
_BYTEA_OID = 17
_INT64_MIN, _INT64_MAX = -(2 ** 63), 2 ** 63 - 1
_UTC = datetime.timezone.utc
_EPOCH = datetime.datetime(1970, 1, 1)
_EPOCH_UTC = datetime.datetime(1970, 1, 1, tzinfo=_UTC)


class Json:
    """Wraps a value to send as `jsonb` (json.dumps): for a list, a str or
    a number, which would otherwise go as an array or a scalar. A dict
    goes as jsonb without it."""

    def __init__(self, value, dumps=json.dumps):
        self.value = value
        self.dumps = dumps

    def __repr__(self):
        return "Pge.Json(%r)" % (self.value,)


__all__.append("Json")


# ------------------------------------------------------------ to the server

def _glib_utc(delta):
    """A UTC GLib.DateTime `delta` (a timedelta) after the Unix epoch,
    exact to the microsecond (no float on the way)."""
    micros = (delta.days * 86400 + delta.seconds) * 10 ** 6 + delta.microseconds
    seconds, micros = divmod(micros, 10 ** 6)
    return GLib.DateTime.new_from_unix_utc(seconds).add(micros)


def _interval(value):
    interval = Pge.Interval()
    interval.months = 0
    interval.days = value.days
    interval.microseconds = value.seconds * 10 ** 6 + value.microseconds
    return interval


def _float_text(value):
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return repr(value)


# The array type and the text form of an element, by the Python type of
# the array's elements (the first that is not None decides).
_ARRAY_KINDS = [
    (bool, 1000, lambda v: "t" if v else "f"),
    (int, 1016, str),  # int8[]; numbers beyond int8 fail on the server
    (float, 1022, _float_text),
    (str, 1009, str),
    ((bytes, bytearray, memoryview), 1001, lambda v: "\\x" + bytes(v).hex()),
    (decimal.Decimal, 1231, str),
    (uuid.UUID, 2951, str),
    (datetime.datetime, None, None),  # 1115 or 1185: see _array_kind()
    (datetime.date, 1182, lambda v: v.isoformat()),
    (datetime.timedelta, 1187,
     lambda v: "%d days %d seconds %d microseconds" % (v.days, v.seconds, v.microseconds)),
    ((dict, Json), 3807, lambda v: v.dumps(v.value) if isinstance(v, Json) else json.dumps(v)),
]


def _array_kind(values):
    first = next((v for v in values if v is not None), None)
    if first is None:
        return 0, str  # nothing to tell the type: the server infers it
    if isinstance(first, datetime.datetime):
        aware = first.tzinfo is not None
        if any(v is not None and (v.tzinfo is not None) != aware for v in values):
            raise TypeError("an array mixes naive and aware datetimes")
        return (1185 if aware else 1115), lambda v: v.isoformat(sep=" ")
    if isinstance(first, (list, tuple)):
        raise TypeError("only one-dimensional arrays can be passed")
    numbers = all(v is None or (isinstance(v, (int, float)) and not isinstance(v, bool))
                  for v in values)
    if numbers and any(isinstance(v, float) for v in values):
        return 1022, lambda v: _float_text(float(v))
    for kind, oid, text in _ARRAY_KINDS:
        if isinstance(first, kind):
            if not all(v is None or isinstance(v, kind) for v in values):
                raise TypeError("an array's elements must all be of one type")
            return oid, text
    raise TypeError("cannot pass a list of %s as an array" % type(first).__name__)


def _add_array(params, values):
    oid, text = _array_kind(values)
    params.add_array(oid, [None if v is None else text(v) for v in values])


def _add_param(params, value):
    if value is None:
        params.add_null()
    elif isinstance(value, bool):
        params.add_boolean(value)
    elif isinstance(value, int):
        if _INT64_MIN <= value <= _INT64_MAX:
            params.add_int64(value)
        else:
            params.add_numeric(str(value))
    elif isinstance(value, float):
        params.add_double(value)
    elif isinstance(value, str):
        params.add_text(value)
    elif isinstance(value, (bytes, bytearray, memoryview)):
        params.add_bytea(bytes(value))
    elif isinstance(value, decimal.Decimal):
        params.add_numeric(str(value))
    elif isinstance(value, datetime.datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            params.add_timestamp(_glib_utc(value - _EPOCH))
        else:
            params.add_timestamptz(_glib_utc(value - _EPOCH_UTC))
    elif isinstance(value, datetime.date):
        params.add_date(GLib.DateTime.new_utc(value.year, value.month, value.day, 0, 0, 0))
    elif isinstance(value, datetime.time):
        params.add_text(value.isoformat())
    elif isinstance(value, datetime.timedelta):
        params.add_interval(_interval(value))
    elif isinstance(value, uuid.UUID):
        params.add_uuid(str(value))
    elif isinstance(value, Json):
        params.add_jsonb(value.dumps(value.value))
    elif isinstance(value, dict):
        params.add_jsonb(json.dumps(value))
    elif isinstance(value, (list, tuple)):
        _add_array(params, value)
    else:
        raise TypeError("cannot pass a %s as a query parameter" % type(value).__name__)


def to_params(values):
    """A Pge.Params from a sequence of Python values (None and Pge.Params
    are returned as they are)."""
    if values is None or isinstance(values, Pge.Params):
        return values
    if isinstance(values, (str, bytes, bytearray, dict)):
        raise TypeError("query parameters must be a sequence of values, not a %s"
                        % type(values).__name__)
    params = Pge.Params.new()
    for value in values:
        _add_param(params, value)
    return params


__all__.append("to_params")


# ---------------------------------------------------------- from the server

def _months_days(months):
    """A month as 30 days and a year as 365, as psycopg does: an interval's
    months have no fixed length (timedelta has no months)."""
    years = int(months / 12)
    return years * 365 + (months - years * 12) * 30


def _timedelta(interval):
    return datetime.timedelta(days=_months_days(interval.months) + interval.days,
                              microseconds=interval.microseconds)


def _date(value):
    return datetime.date(value.get_year(), value.get_month(), value.get_day_of_month())


def _naive(value):
    return datetime.datetime(value.get_year(), value.get_month(), value.get_day_of_month(),
                             value.get_hour(), value.get_minute(), value.get_second(),
                             value.get_microsecond())


def _aware(value):
    offset = datetime.timedelta(microseconds=value.get_utc_offset())
    return _naive(value).replace(tzinfo=_UTC if not offset else datetime.timezone(offset))


_INTERVAL_TEXT = re.compile(
    r"^(?:([+-]?\d+) years? ?)?(?:([+-]?\d+) mons? ?)?(?:([+-]?\d+) days? ?)?"
    r"(?:([+-])?(\d+):(\d+):(\d+)(?:\.(\d{1,6}))?)?$")


def _interval_text(text):
    """An interval in IntervalStyle postgres (an element of interval[])."""
    m = _INTERVAL_TEXT.match(text)
    if m is None:
        raise ValueError("cannot read the interval %r" % text)
    years, months, days, sign, hours, minutes, seconds, fraction = m.groups()
    micros = ((int(hours or 0) * 60 + int(minutes or 0)) * 60 + int(seconds or 0)) * 10 ** 6
    micros += int((fraction or "0").ljust(6, "0"))
    interval = Pge.Interval()
    interval.months = int(years or 0) * 12 + int(months or 0)
    interval.days = int(days or 0)
    interval.microseconds = -micros if sign == "-" else micros
    return _timedelta(interval)


def _read_interval(result, row, column):
    _, interval = result.read_interval(row, column)
    return _timedelta(interval)


def _read_boolean(result, row, column):
    return result.read_boolean(row, column)[1]


def _text_array(element):
    def read(result, row, column):
        return [None if v is None else element(v) for v in result.read_text_array(row, column)]
    return read


def _datetime_array(element):
    def read(result, row, column):
        return [None if v is None else element(v) for v in result.read_datetime_array(row, column)]
    return read


def _read_bytes_array(result, row, column):
    return [None if v is None else bytes(v.get_data()) for v in result.read_bytes_array(row, column)]


# Column type OID -> reader(result, row, column) of a non-NULL cell. Types
# not here come as the GVariant conversion gives them (bool, int, float,
# str, bytes), or as the server's text (time, inet, enums ...).
_READERS = {
    1700: lambda r, i, c: decimal.Decimal(r.read_numeric(i, c)),
    1082: lambda r, i, c: _date(r.read_date(i, c)),
    1114: lambda r, i, c: _naive(r.read_timestamp(i, c)),
    1184: lambda r, i, c: _aware(r.read_timestamptz(i, c)),
    1186: _read_interval,
    2950: lambda r, i, c: uuid.UUID(r.read_uuid(i, c)),
    114: lambda r, i, c: json.loads(r.read_json(i, c)),
    3802: lambda r, i, c: json.loads(r.read_json(i, c)),
    1000: _text_array(lambda v: v == "t"),
    1001: _read_bytes_array,
    1005: _text_array(int),
    1007: _text_array(int),
    1016: _text_array(int),
    1028: _text_array(int),
    1021: _text_array(float),
    1022: _text_array(float),
    1231: _text_array(decimal.Decimal),
    1009: _text_array(str),
    1014: _text_array(str),
    1015: _text_array(str),
    2951: _text_array(uuid.UUID),
    199: _text_array(json.loads),
    3807: _text_array(json.loads),
    1187: _text_array(_interval_text),
    1182: _datetime_array(_date),
    1115: _datetime_array(_naive),
    1185: _datetime_array(_aware),
}


_ARRAY_OIDS = frozenset((1000, 1001, 1005, 1007, 1016, 1028, 1021, 1022, 1231, 1009, 1014, 1015,
                         2951, 199, 3807, 1187, 1182, 1115, 1185))


def _column_types(result):
    return [result.get_column_type(i) for i in range(result.get_n_columns())]


def _native_row(result, index, types=None):
    """Row `index` as a tuple of native values; `types` (the column type
    OIDs) saves looking them up again for each row."""
    values = result.row_to_variant(index).unpack()
    out = None
    if types is None:
        types = _column_types(result)
    for column, value in enumerate(values):
        if value is None:
            continue
        oid = types[column]
        if oid == _BYTEA_OID:
            value = bytes(value)
        elif oid in _READERS:
            # A multi-dimensional array (or one with explicit bounds)
            # stays the server's text: the readers read one dimension.
            if oid in _ARRAY_OIDS and value.startswith(("{{", "[")):
                continue
            value = _READERS[oid](result, index, column)
        else:
            continue
        if out is None:
            out = list(values)
        out[column] = value
    return values if out is None else tuple(out)


class Result(Pge.Result):
    """The rows of one statement: a read-only sequence of tuples."""

    def __len__(self):
        return self.get_n_rows()

    def __getitem__(self, index):
        n = self.get_n_rows()
        if isinstance(index, slice):
            types = _column_types(self)
            return [_native_row(self, i, types) for i in range(*index.indices(n))]
        if not isinstance(index, int):
            raise TypeError("result indices must be integers or slices")
        if index < 0:
            index += n
        if not 0 <= index < n:
            raise IndexError("row index out of range")
        return _native_row(self, index)

    def __iter__(self):
        types = _column_types(self)
        for i in range(self.get_n_rows()):
            yield _native_row(self, i, types)

    @property
    def columns(self):
        """The column names, in order."""
        return [self.get_column_name(i) for i in range(self.get_n_columns())]

    def row(self, index):
        """Row `index` as a tuple of native values."""
        return self[index]

    def row_dict(self, index):
        """Row `index` as a dict: column name to native value."""
        return dict(zip(self.columns, self[index]))

    def dicts(self):
        """Every row as a dict: column name to native value."""
        columns = self.columns
        return [dict(zip(columns, row)) for row in self]


Result = override(Result)
__all__.append("Result")


class Row(Pge.Row):
    """A row of a Pge.ResultModel or Pge.BatchModel."""

    def __len__(self):
        return self.get_n_columns()

    def __getitem__(self, key):
        values = self.values()
        if isinstance(key, str):
            column = self.get_result().get_column_index(key)
            if column < 0:
                raise KeyError(key)
            return values[column]
        return values[key]

    def values(self):
        """The row as a tuple of native values."""
        return _native_row(self.get_result(), self.get_index())

    def as_dict(self):
        return dict(zip(Result.columns.fget(self.get_result()), self.values()))


Row = override(Row)
__all__.append("Row")


def _with_params(base, position):
    """Wraps `base` so that its params argument (after `position` others)
    may be a Python sequence, or left out."""
    def method(self, *args, **kwargs):
        args = list(args)
        if "params" in kwargs:
            kwargs["params"] = to_params(kwargs["params"])
        elif len(args) > position:
            args[position] = to_params(args[position])
        else:
            args.append(None)
        return base(self, *args, **kwargs)
    method.__name__ = base.__name__
    method.__doc__ = getattr(base, "__doc__", None)
    return method


class Engine(Pge.Engine):
    query = _with_params(Pge.Engine.query, 1)
    query_sync = _with_params(Pge.Engine.query_sync, 1)
    query_on_node = _with_params(Pge.Engine.query_on_node, 2)

    def query_async(self, sql, params=None, cancellable=None, callback=None, user_data=None):
        return Pge.Engine.query_async(self, sql, to_params(params), cancellable, callback, user_data)

    def batch(self, sql, params=None, batch_size=0):
        return Pge.Engine.batch(self, sql, to_params(params), batch_size)

    def batch_async(self, sql, params=None, batch_size=0, cancellable=None, callback=None,
                    user_data=None):
        return Pge.Engine.batch_async(self, sql, to_params(params), batch_size, cancellable,
                                      callback, user_data)

    def transaction(self, flags=Pge.TransactionFlags.DEFAULT):
        """Begins a transaction (blocks); use it as a context manager."""
        outer = self.get_current_transaction()
        tx = Pge.Engine.transaction(self, flags)
        # pgengine's default nesting hands back the outer transaction
        # itself: its own `with` block ends it, not this one.
        tx._pge_owns = outer is None or tx != outer
        return tx

    def transaction_async(self, flags=Pge.TransactionFlags.DEFAULT, cancellable=None,
                          callback=None, user_data=None):
        return Pge.Engine.transaction_async(self, flags, cancellable, callback, user_data)


Engine = override(Engine)
__all__.append("Engine")


class Transaction(Pge.Transaction):
    query = _with_params(Pge.Transaction.query, 1)
    query_sync = _with_params(Pge.Transaction.query_sync, 1)

    def query_async(self, sql, params=None, cancellable=None, callback=None, user_data=None):
        return Pge.Transaction.query_async(self, sql, to_params(params), cancellable, callback,
                                           user_data)

    def batch(self, sql, params=None, batch_size=0):
        return Pge.Transaction.batch(self, sql, to_params(params), batch_size)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if not getattr(self, "_pge_owns", True) or self.is_committed() or self.is_rolled_back():
            return False
        if exc_type is None:
            self.commit()
            return False
        try:
            self.rollback()
        except Exception:
            pass  # the block's own exception is the one to see
        return False


Transaction = override(Transaction)
__all__.append("Transaction")


class Atomic(Pge.Atomic):
    add = _with_params(Pge.Atomic.add, 1)


Atomic = override(Atomic)
__all__.append("Atomic")


class Batch(Pge.Batch):
    """Iterating a batch yields all its remaining rows, chunk by chunk
    (each chunk fetched with next(), which blocks)."""

    def __iter__(self):
        while True:
            chunk = self.next()
            if chunk is None:
                return
            for row in chunk:
                yield row

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        self.close()
        return False


Batch = override(Batch)
__all__.append("Batch")


# Per-call limits (1.2, engine/calloptions.c): Python sequences as
# parameters, as for Engine.query(); a transaction with its own limits is a
# context manager like Engine.transaction().
def _query_with_options(self, sql, params=None, options=None):
    return Pge.Engine.query_with_options(self, sql, to_params(params), options)


def _query_with_options_sync(self, sql, params=None, options=None):
    return Pge.Engine.query_with_options_sync(self, sql, to_params(params), options)


def _query_with_options_async(self, sql, params=None, options=None, cancellable=None,
                              callback=None, user_data=None):
    return Pge.Engine.query_with_options_async(self, sql, to_params(params), options,
                                               cancellable, callback, user_data)


def _transaction_with_options(self, flags=Pge.TransactionFlags.DEFAULT, options=None):
    outer = self.get_current_transaction()
    tx = Pge.Engine.transaction_with_options(self, flags, options)
    tx._pge_owns = outer is None or tx != outer
    return tx


Engine.query_with_options = _query_with_options
Engine.query_with_options_sync = _query_with_options_sync
Engine.query_with_options_async = _query_with_options_async
Engine.transaction_with_options = _transaction_with_options
