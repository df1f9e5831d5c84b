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
# - Params from any Python sequence wherever a PgeParams goes (None, bool,
#   int, float, str, bytes, and Decimal, date/time, UUID as text the server
#   reads as the placeholder's type); an existing Pge.Params still works,
#   and params may be left out.
# - Results are sequences: len(), indexing (negative too, slices), iteration
#   over rows as tuples of native values (int, float, bool, str, bytes,
#   None); columns, dicts(), row(i), row_dict(i).
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
import uuid

from ..module import get_introspection_module
from ..overrides import override

Pge = get_introspection_module("Pge")

__all__ = []

_NUMERIC_OID = 1700
_BYTEA_OID = 17
_INT64_MIN, _INT64_MAX = -(2 ** 63), 2 ** 63 - 1


def _add_param(params, value):
    if value is None:
        params.add_null()
    elif isinstance(value, bool):
        params.add_boolean(value)
    elif isinstance(value, int):
        if _INT64_MIN <= value <= _INT64_MAX:
            params.add_int64(value)
        else:
            params.add_typed(_NUMERIC_OID, str(value))
    elif isinstance(value, float):
        params.add_double(value)
    elif isinstance(value, str):
        params.add_text(value)
    elif isinstance(value, (bytes, bytearray, memoryview)):
        params.add_bytea(bytes(value))
    elif isinstance(value, decimal.Decimal):
        params.add_typed(_NUMERIC_OID, str(value))
    elif isinstance(value, (datetime.date, datetime.time)):
        params.add_text(value.isoformat())
    elif isinstance(value, uuid.UUID):
        params.add_text(str(value))
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


def _native_row(result, index):
    values = result.row_to_variant(index).unpack()
    if not any(isinstance(v, list) for v in values):
        return values
    return tuple(bytes(v) if result.get_column_type(i) == _BYTEA_OID and v is not None else v
                 for i, v in enumerate(values))


class Result(Pge.Result):
    """The rows of one statement: a read-only sequence of tuples."""

    def __len__(self):
        return self.get_n_rows()

    def __getitem__(self, index):
        n = self.get_n_rows()
        if isinstance(index, slice):
            return [self.row(i) for i in range(*index.indices(n))]
        if not isinstance(index, int):
            raise TypeError("result indices must be integers or slices")
        if index < 0:
            index += n
        if not 0 <= index < n:
            raise IndexError("row index out of range")
        return _native_row(self, index)

    def __iter__(self):
        for i in range(self.get_n_rows()):
            yield _native_row(self, i)

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
