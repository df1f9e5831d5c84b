/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined(PGE_INSIDE_PGENGINE_H) && !defined(PGE_COMPILATION)
#error "Only <pgengine.h> can be included directly."
#endif

#include <pgengine/pge-types.h>

G_BEGIN_DECLS

/**
 * PGE_ERROR:
 *
 * The error domain of every error pgengine reports itself. Errors from a
 * #GCancellable passed to an `_async` call use %G_IO_ERROR instead.
 *
 * Since: 1.0
 */
#define PGE_ERROR (pge_error_quark ())

/**
 * PgeError:
 * @PGE_ERROR_FAILED: anything not listed below
 * @PGE_ERROR_CONNECTION: cannot connect, or the connection was lost
 * @PGE_ERROR_QUERY: the server reported an error (see pge_error_get_sqlstate())
 * @PGE_ERROR_CANCELLED: pge_future_cancel() stopped it
 * @PGE_ERROR_TIMEOUT: acquire timeout or statement timeout
 * @PGE_ERROR_CLOSED: the engine is closed or closing
 * @PGE_ERROR_QUEUE_FULL: max_queue jobs are already waiting
 * @PGE_ERROR_INVALID_ARGUMENT: bad input from the caller
 * @PGE_ERROR_TRANSACTION_STATE: e.g. commit after rollback, use after end
 * @PGE_ERROR_NESTED: nesting refused (%PGE_TRANSACTION_NO_NESTING)
 * @PGE_ERROR_NULL_VALUE: a strict getter (`pge_result_read_*`) met SQL NULL
 * @PGE_ERROR_CONVERSION: a strict getter met a column of another type, or
 *   a value that cannot be parsed or does not fit the C type
 * @PGE_ERROR_WOULD_DEADLOCK: the call blocks and was made on one of the
 *   engine's own threads (a %NULL-context future callback), where it could
 *   wait for itself: refused at once, nothing was sent. Since: 1.2
 *
 * Error codes in the %PGE_ERROR domain.
 *
 * Which code for what (the error policy, also in HACKING): a programmer
 * error on an object argument is a precondition (g_return_val_if_fail()),
 * not an error; bad data from the caller, including a %NULL a binding may
 * pass as None, is %PGE_ERROR_INVALID_ARGUMENT and nothing is sent; a
 * blocking call refused because it would wait for itself is
 * %PGE_ERROR_WOULD_DEADLOCK (before 1.2 it was
 * %PGE_ERROR_INVALID_ARGUMENT). Using something that has ended — a
 * committed or rolled back transaction, a released savepoint, an ended
 * session — is %PGE_ERROR_TRANSACTION_STATE: a session is a pinned
 * connection like a transaction's, and "used after its end" is one
 * condition for callers to match; the message says which object ended.
 *
 * Every error the server reports for a statement is %PGE_ERROR_QUERY
 * (except a statement timeout, %PGE_ERROR_TIMEOUT, a cancel,
 * %PGE_ERROR_CANCELLED, and errors that end the session,
 * %PGE_ERROR_CONNECTION); pge_error_get_sqlstate() gives its SQLSTATE and
 * pge_error_get_class() its class among the common ones.
 *
 * Since: 1.0
 */
typedef enum {
  PGE_ERROR_FAILED,
  PGE_ERROR_CONNECTION,
  PGE_ERROR_QUERY,
  PGE_ERROR_CANCELLED,
  PGE_ERROR_TIMEOUT,
  PGE_ERROR_CLOSED,
  PGE_ERROR_QUEUE_FULL,
  PGE_ERROR_INVALID_ARGUMENT,
  PGE_ERROR_TRANSACTION_STATE,
  PGE_ERROR_NESTED,
  PGE_ERROR_NULL_VALUE,
  PGE_ERROR_CONVERSION,
  PGE_ERROR_WOULD_DEADLOCK
} PgeError;

/**
 * PgeErrorClass:
 * @PGE_ERROR_CLASS_NONE: not a server error, or one of no class below
 * @PGE_ERROR_CLASS_UNIQUE_VIOLATION: the server refused a duplicate key
 *   (SQLSTATE 23505)
 * @PGE_ERROR_CLASS_FOREIGN_KEY_VIOLATION: a foreign key constraint failed (23503)
 * @PGE_ERROR_CLASS_NOT_NULL_VIOLATION: a NOT NULL constraint failed (23502)
 * @PGE_ERROR_CLASS_CHECK_VIOLATION: a CHECK constraint failed (23514)
 * @PGE_ERROR_CLASS_SERIALIZATION_FAILURE: the transaction could not be
 *   serialized (40001); running it again may succeed
 * @PGE_ERROR_CLASS_DEADLOCK: the server broke a deadlock by failing this
 *   statement (40P01); running the transaction again may succeed
 * @PGE_ERROR_CLASS_UNDEFINED_TABLE: no such table or view (42P01)
 * @PGE_ERROR_CLASS_UNDEFINED_COLUMN: no such column (42703)
 *
 * The common classes of server errors, as pge_error_get_class() tells
 * them apart. They are not #PgeError codes: the contract makes every
 * server-reported statement error %PGE_ERROR_QUERY, and code written
 * against it matches that code.
 *
 * Since: 1.0
 */
typedef enum {
  PGE_ERROR_CLASS_NONE,
  PGE_ERROR_CLASS_UNIQUE_VIOLATION,
  PGE_ERROR_CLASS_FOREIGN_KEY_VIOLATION,
  PGE_ERROR_CLASS_NOT_NULL_VIOLATION,
  PGE_ERROR_CLASS_CHECK_VIOLATION,
  PGE_ERROR_CLASS_SERIALIZATION_FAILURE,
  PGE_ERROR_CLASS_DEADLOCK,
  PGE_ERROR_CLASS_UNDEFINED_TABLE,
  PGE_ERROR_CLASS_UNDEFINED_COLUMN
} PgeErrorClass;

PGE_AVAILABLE_IN_1_0 GQuark      pge_error_quark        (void);
PGE_AVAILABLE_IN_1_0 const char *pge_error_get_sqlstate (const GError *error);
PGE_AVAILABLE_IN_1_0 gboolean    pge_error_is_server_error (const GError *error);
PGE_AVAILABLE_IN_1_0 PgeErrorClass pge_error_get_class  (const GError *error);


G_END_DECLS
