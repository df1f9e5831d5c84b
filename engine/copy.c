/* copy.c — COPY ... FROM STDIN and COPY ... TO STDOUT as jobs.
 *
 * A COPY is ONE job (PGE_JOB_CALL) routed like a query: to the calling
 * thread's current transaction if it has one, else its current session,
 * to a given transaction's pinned worker (pge_transaction_copy_*), else
 * to any worker; `_sync`
 * calls may run it on the calling thread (the direct path). The job
 * calls pge_connection_copy(), which owns the protocol loop; this file
 * only adapts streams and user callbacks to it and checks arguments.
 *
 * Memory is bounded by one chunk whatever the size of the COPY: input is
 * read and sent 64 KiB at a time; output is handed over (written to the
 * stream, or given to the callback) chunk by chunk — one row each in the
 * text and csv formats — as libpq receives it.
 *
 * Threads: a CopyCall belongs to its job. Its streams and callbacks are
 * used only by the thread that runs the job (a worker, or a blocking
 * caller), one call at a time; the caller must not use the streams until
 * the future resolves. The job holds references on the streams and the
 * cancellable, dropped (and @notify called) when the job is freed, on
 * whichever thread lets it go.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <string.h>

#include "connection-private.h"
#include "engine-private.h"
#include "job-private.h"
#include "submit-private.h"
#include "transaction-private.h"

typedef struct {
  char            *sql;
  PgeCopyFromFunc  from;          /* exactly one of from/to */
  PgeCopyToFunc    to;
  gpointer         user_data;
  GDestroyNotify   notify;        /* for user_data, nullable */
  GInputStream    *input;         /* owned; the stream variants */
  GOutputStream   *output;        /* owned */
  GCancellable    *cancellable;   /* owned, nullable */
} CopyCall;

static void
copy_call_free (gpointer data)
{
  CopyCall *call = data;

  if (call->notify != NULL)
    call->notify (call->user_data);
  g_clear_object (&call->input);
  g_clear_object (&call->output);
  g_clear_object (&call->cancellable);
  g_free (call->sql);
  g_free (call);
}

/* --------------------------------------------------------- the worker side */

static gssize
stream_read (char *buffer, gsize size, gpointer data, GError **error)
{
  CopyCall *call = data;

  return g_input_stream_read (call->input, buffer, size, call->cancellable, error);
}

/* A blocking write: a slow stream slows the COPY down (the server waits),
 * it never makes the output pile up in memory. */
static gboolean
stream_write (const char *chunk, gsize length, gpointer data, GError **error)
{
  CopyCall *call = data;

  return g_output_stream_write_all (call->output, chunk, length, NULL, call->cancellable, error);
}

static gssize
callback_read (char *buffer, gsize size, gpointer data, GError **error)
{
  CopyCall *call = data;

  return call->from (buffer, size, call->user_data, error);
}

static gboolean
callback_write (const char *chunk, gsize length, gpointer data, GError **error)
{
  CopyCall *call = data;

  return call->to (chunk, length, call->user_data, error);
}

static PgeResult *
copy_job_run (PgeJob *job, PgeConnection *conn, gpointer data, GError **error)
{
  CopyCall *call = data;
  PgeCopyFromFunc read = call->input ? stream_read : call->from ? callback_read : NULL;
  PgeCopyToFunc write = call->output ? stream_write : call->to ? callback_write : NULL;
  PgeResult *result;

  if (pge_job_is_cancel_requested (job))
    {
      g_set_error_literal (error, PGE_ERROR, PGE_ERROR_CANCELLED, "cancelled before it ran");
      return NULL;
    }
  if (g_cancellable_set_error_if_cancelled (call->cancellable, error))
    return NULL;
  result = pge_connection_copy (conn, call->sql, read, write, call, error);
  if (result != NULL && call->output != NULL &&
      !g_output_stream_flush (call->output, call->cancellable, error))
    g_clear_pointer (&result, pge_result_unref);
  return result;
}

/* ------------------------------------------------------------ submission */

/* Whether @sql's first keyword, after blanks and comments, is COPY: a
 * DELETE given to a COPY function by mistake must not run. */
static gboolean
starts_with_copy (const char *sql)
{
  for (;;)
    {
      while (g_ascii_isspace (*sql))
        sql++;
      if (sql[0] == '-' && sql[1] == '-')
        sql += strcspn (sql, "\n");
      else if (sql[0] == '/' && sql[1] == '*')
        {
          const char *end = strstr (sql + 2, "*/");

          if (end == NULL)
            return FALSE;
          sql = end + 2;
        }
      else
        break;
    }
  return g_ascii_strncasecmp (sql, "copy", 4) == 0 &&
         !g_ascii_isalnum (sql[4]) && sql[4] != '_' && sql[4] != '$';
}

/* What makes the call impossible, found before anything is sent. */
static GError *
check_call (const CopyCall *call)
{
  const char *problem = NULL;

  if (call->sql == NULL)
    problem = "the SQL is NULL";
  else if (call->from == NULL && call->to == NULL && call->input == NULL && call->output == NULL)
    problem = "the stream or callback is NULL";
  else if (!starts_with_copy (call->sql))
    problem = call->from || call->input
              ? "not a COPY statement: these functions run COPY ... FROM STDIN only"
              : "not a COPY statement: these functions run COPY ... TO STDOUT only";
  if (problem == NULL)
    return NULL;
  return g_error_new (PGE_ERROR, PGE_ERROR_INVALID_ARGUMENT, "%s; nothing was sent", problem);
}

static CopyCall *
copy_call_new (const char *sql, gpointer user_data, GDestroyNotify notify, GCancellable *cancellable)
{
  CopyCall *call = g_new0 (CopyCall, 1);

  call->sql = g_strdup (sql);
  call->user_data = user_data;
  call->notify = notify;
  call->cancellable = cancellable ? g_object_ref (cancellable) : NULL;
  return call;
}

/* Takes @call. @tx NULL: routed like pge_engine_query(). */
static PgeFuture *
copy_submit (PgeEngine *engine, PgeTransaction *tx, CopyCall *call)
{
  g_autoptr(PgeJob) job = NULL;
  GError *invalid = check_call (call);

  if (invalid != NULL)
    {
      copy_call_free (call);
      return pge_future_new_error (invalid);
    }
  job = pge_job_new_call (copy_job_run, call, copy_call_free);
  if (tx == NULL)
    return pge_engine_submit (engine, job);
  pge_transaction_submit (tx, job);
  return pge_future_ref (job->future);
}

/* Takes @call; blocks. */
static PgeResult *
copy_run_sync (PgeEngine *engine, PgeTransaction *tx, CopyCall *call, const char *what,
               GError **error)
{
  g_autoptr(PgeJob) job = NULL;
  GError *invalid = NULL;

  if (!pge_engine_check_may_block (engine, what, error))
    {
      copy_call_free (call);
      return NULL;
    }
  invalid = check_call (call);
  if (invalid != NULL)
    {
      copy_call_free (call);
      g_propagate_error (error, invalid);
      return NULL;
    }
  job = pge_job_new_call (copy_job_run, call, copy_call_free);
  if (tx == NULL)
    return pge_engine_run_sync (engine, job, error);
  return pge_transaction_run_sync (tx, job, error);
}

static CopyCall *
from_stream (const char *sql, GInputStream *stream, GCancellable *cancellable)
{
  CopyCall *call = copy_call_new (sql, NULL, NULL, cancellable);

  call->input = stream ? g_object_ref (stream) : NULL;
  return call;
}

static CopyCall *
from_callback (const char *sql, PgeCopyFromFunc func, gpointer user_data, GDestroyNotify notify)
{
  CopyCall *call = copy_call_new (sql, user_data, notify, NULL);

  call->from = func;
  return call;
}

static CopyCall *
to_stream (const char *sql, GOutputStream *stream, GCancellable *cancellable)
{
  CopyCall *call = copy_call_new (sql, NULL, NULL, cancellable);

  call->output = stream ? g_object_ref (stream) : NULL;
  return call;
}

static CopyCall *
to_callback (const char *sql, PgeCopyToFunc func, gpointer user_data, GDestroyNotify notify)
{
  CopyCall *call = copy_call_new (sql, user_data, notify, NULL);

  call->to = func;
  return call;
}

/* ------------------------------------------------------------ engine API */

/**
 * pge_engine_copy_from_stream:
 * @engine: a #PgeEngine
 * @sql: one `COPY table [(columns)] FROM STDIN [WITH (...)]` statement;
 *   COPY takes no `$n` parameters
 * @stream: the data, in the format @sql names (text by default); read,
 *   not closed
 * @cancellable: (nullable): stops the reads of @stream (a cancelled read
 *   fails the COPY with %G_IO_ERROR_CANCELLED)
 *
 * Loads @stream into a table with `COPY ... FROM STDIN`, as one job:
 * routed like pge_engine_query() (inside the calling thread's current
 * transaction if it has one). The job reads @stream with blocking reads
 * on the thread that runs it — a worker thread, or for the `_sync`
 * variant possibly the calling thread — 64 KiB at a time, sending each
 * chunk before it reads the next, so memory stays bounded whatever the
 * size. Do not use @stream until the future resolves.
 *
 * The future's result has the number of rows loaded as
 * pge_result_get_rows_affected() (the `COPY n` command tag). A server
 * error (a malformed row) is a %PGE_ERROR_QUERY with its SQLSTATE and the
 * server's context line in the message (`...; context: COPY t, line
 * 4711, column x: "abc" [SQLSTATE 22P02]`: the tag once, at the end); an
 * error reading @stream is that error as @stream reported it; pge_future_cancel() fails the COPY with
 * %PGE_ERROR_CANCELLED (it takes effect between two reads: only
 * @cancellable interrupts a read blocked on @stream); a
 * `statement_timeout` fails it with %PGE_ERROR_TIMEOUT.
 * On any failure nothing is loaded (COPY is all or nothing) and the
 * connection stays usable. After a server error the rest of @stream is
 * still read (and discarded by the server): libpq reports the error only
 * once the data has ended. SQL whose first keyword is not COPY fails with
 * %PGE_ERROR_INVALID_ARGUMENT without being sent; a COPY that turns out
 * not to be FROM STDIN fails the same way (`COPY ... TO STDOUT` is
 * stopped; a server-side `COPY ... TO 'file'` has run by then).
 *
 * Thread-safe; never blocks.
 *
 * Returns: (transfer full): a future for the result
 *
 * Since: 1.0
 */
PgeFuture *
pge_engine_copy_from_stream (PgeEngine *engine, const char *sql, GInputStream *stream,
                             GCancellable *cancellable)
{
  g_return_val_if_fail (PGE_IS_ENGINE (engine), NULL);
  return copy_submit (engine, NULL, from_stream (sql, stream, cancellable));
}

/**
 * pge_engine_copy_from_stream_sync:
 * @engine: a #PgeEngine
 * @sql: one `COPY ... FROM STDIN` statement
 * @stream: the data; read, not closed
 * @cancellable: (nullable): stops the reads of @stream
 * @error: return location for a #GError
 *
 * pge_engine_copy_from_stream() and pge_future_wait() in one call: blocks
 * until the COPY is over, running it on the calling thread when a
 * connection is free. Refused (%PGE_ERROR_WOULD_DEADLOCK) on one of the
 * engine's own threads. Thread-safe.
 *
 * Returns: (transfer full) (nullable): the result (rows loaded:
 *   pge_result_get_rows_affected()), or %NULL with @error set
 *
 * Since: 1.0
 */
PgeResult *
pge_engine_copy_from_stream_sync (PgeEngine *engine, const char *sql, GInputStream *stream,
                                  GCancellable *cancellable, GError **error)
{
  g_return_val_if_fail (PGE_IS_ENGINE (engine), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);
  return copy_run_sync (engine, NULL, from_stream (sql, stream, cancellable),
                        "pge_engine_copy_from_stream_sync()", error);
}

/**
 * pge_engine_copy_from_callback:
 * @engine: a #PgeEngine
 * @sql: one `COPY ... FROM STDIN` statement
 * @func: (scope notified) (closure user_data): supplies the data, chunk
 *   by chunk, until it returns 0
 * @user_data: data for @func
 * @notify: (nullable): frees @user_data once the job is over (also when
 *   the call fails at once), on whichever thread finishes with it
 *
 * As pge_engine_copy_from_stream(), with the data from @func, called on
 * the thread that runs the job (a worker, or a blocking caller), one call
 * at a time. @func returning -1 stops the COPY: nothing is loaded, and
 * the future fails with @func's error (%PGE_ERROR_FAILED if it set none).
 * pge_future_cancel() takes effect between two calls of @func. A %NULL
 * @func fails with %PGE_ERROR_INVALID_ARGUMENT. Thread-safe; never blocks.
 *
 * Returns: (transfer full): a future for the result
 *
 * Since: 1.0
 */
PgeFuture *
pge_engine_copy_from_callback (PgeEngine *engine, const char *sql, PgeCopyFromFunc func,
                               gpointer user_data, GDestroyNotify notify)
{
  g_return_val_if_fail (PGE_IS_ENGINE (engine), NULL);
  return copy_submit (engine, NULL, from_callback (sql, func, user_data, notify));
}

/**
 * pge_engine_copy_from_callback_sync:
 * @engine: a #PgeEngine
 * @sql: one `COPY ... FROM STDIN` statement
 * @func: (scope call) (closure user_data): supplies the data
 * @user_data: data for @func
 * @error: return location for a #GError
 *
 * pge_engine_copy_from_callback() and pge_future_wait() in one call, as
 * pge_engine_copy_from_stream_sync(). @func may run on the calling thread.
 *
 * Returns: (transfer full) (nullable): the result, or %NULL with @error set
 *
 * Since: 1.0
 */
PgeResult *
pge_engine_copy_from_callback_sync (PgeEngine *engine, const char *sql, PgeCopyFromFunc func,
                                    gpointer user_data, GError **error)
{
  g_return_val_if_fail (PGE_IS_ENGINE (engine), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);
  return copy_run_sync (engine, NULL, from_callback (sql, func, user_data, NULL),
                        "pge_engine_copy_from_callback_sync()", error);
}

/**
 * pge_engine_copy_to_stream:
 * @engine: a #PgeEngine
 * @sql: one `COPY table TO STDOUT` or `COPY (SELECT ...) TO STDOUT
 *   [WITH (...)]` statement; COPY takes no `$n` parameters
 * @stream: where the output goes; written and flushed, not closed
 * @cancellable: (nullable): stops the writes to @stream
 *
 * Writes the output of a `COPY ... TO STDOUT` to @stream, as one job
 * routed like pge_engine_query(). Each chunk (a row, in the text and csv
 * formats) is written with a blocking g_output_stream_write_all() from
 * the thread that runs the job — a worker thread, or for the `_sync`
 * variant possibly the calling thread — as soon as it arrives: memory
 * stays bounded whatever the size, and a slow stream slows the server
 * down. Do not use @stream until the future resolves.
 *
 * The future's result has the number of rows as
 * pge_result_get_rows_affected(). A failed write stops the COPY (the
 * server is sent a cancel request, the rest is discarded) and fails the
 * future with the stream's error; a server error is a %PGE_ERROR_QUERY
 * with its SQLSTATE and context; pge_future_cancel() gives
 * %PGE_ERROR_CANCELLED. What was written before a failure stays written.
 * The connection stays usable. Non-COPY SQL fails with
 * %PGE_ERROR_INVALID_ARGUMENT without being sent, and a `COPY ... FROM
 * STDIN` is ended at once, loading nothing. Thread-safe; never blocks.
 *
 * Returns: (transfer full): a future for the result
 *
 * Since: 1.0
 */
PgeFuture *
pge_engine_copy_to_stream (PgeEngine *engine, const char *sql, GOutputStream *stream,
                           GCancellable *cancellable)
{
  g_return_val_if_fail (PGE_IS_ENGINE (engine), NULL);
  return copy_submit (engine, NULL, to_stream (sql, stream, cancellable));
}

/**
 * pge_engine_copy_to_stream_sync:
 * @engine: a #PgeEngine
 * @sql: one `COPY ... TO STDOUT` statement
 * @stream: where the output goes; written and flushed, not closed
 * @cancellable: (nullable): stops the writes to @stream
 * @error: return location for a #GError
 *
 * pge_engine_copy_to_stream() and pge_future_wait() in one call: blocks
 * until the COPY is over, possibly writing @stream from the calling
 * thread. Refused (%PGE_ERROR_WOULD_DEADLOCK) on one of the engine's
 * own threads. Thread-safe.
 *
 * Returns: (transfer full) (nullable): the result, or %NULL with @error set
 *
 * Since: 1.0
 */
PgeResult *
pge_engine_copy_to_stream_sync (PgeEngine *engine, const char *sql, GOutputStream *stream,
                                GCancellable *cancellable, GError **error)
{
  g_return_val_if_fail (PGE_IS_ENGINE (engine), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);
  return copy_run_sync (engine, NULL, to_stream (sql, stream, cancellable),
                        "pge_engine_copy_to_stream_sync()", error);
}

/**
 * pge_engine_copy_to_callback:
 * @engine: a #PgeEngine
 * @sql: one `COPY ... TO STDOUT` statement
 * @func: (scope notified) (closure user_data): receives each chunk
 * @user_data: data for @func
 * @notify: (nullable): frees @user_data once the job is over (also when
 *   the call fails at once), on whichever thread finishes with it
 *
 * As pge_engine_copy_to_stream(), handing each chunk to @func on the
 * thread that runs the job, one call at a time, in order. @func returning
 * %FALSE stops the COPY with @func's error (%PGE_ERROR_FAILED if it set
 * none). Thread-safe; never blocks.
 *
 * Returns: (transfer full): a future for the result
 *
 * Since: 1.0
 */
PgeFuture *
pge_engine_copy_to_callback (PgeEngine *engine, const char *sql, PgeCopyToFunc func,
                             gpointer user_data, GDestroyNotify notify)
{
  g_return_val_if_fail (PGE_IS_ENGINE (engine), NULL);
  return copy_submit (engine, NULL, to_callback (sql, func, user_data, notify));
}

/**
 * pge_engine_copy_to_callback_sync:
 * @engine: a #PgeEngine
 * @sql: one `COPY ... TO STDOUT` statement
 * @func: (scope call) (closure user_data): receives each chunk
 * @user_data: data for @func
 * @error: return location for a #GError
 *
 * pge_engine_copy_to_callback() and pge_future_wait() in one call, as
 * pge_engine_copy_to_stream_sync(). @func may run on the calling thread.
 *
 * Returns: (transfer full) (nullable): the result, or %NULL with @error set
 *
 * Since: 1.0
 */
PgeResult *
pge_engine_copy_to_callback_sync (PgeEngine *engine, const char *sql, PgeCopyToFunc func,
                                  gpointer user_data, GError **error)
{
  g_return_val_if_fail (PGE_IS_ENGINE (engine), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);
  return copy_run_sync (engine, NULL, to_callback (sql, func, user_data, NULL),
                        "pge_engine_copy_to_callback_sync()", error);
}

/* ------------------------------------------------------- transaction API */

/**
 * pge_transaction_copy_from_stream:
 * @tx: a #PgeTransaction
 * @sql: one `COPY ... FROM STDIN` statement
 * @stream: the data; read, not closed
 * @cancellable: (nullable): stops the reads of @stream
 *
 * pge_engine_copy_from_stream() inside @tx: on its pinned worker, after
 * everything queued in @tx before it. The rows commit or roll back with
 * @tx; a failed COPY aborts @tx's server transaction like any failed
 * statement. An ended transaction fails the future with
 * %PGE_ERROR_TRANSACTION_STATE. Thread-safe; never blocks.
 *
 * Returns: (transfer full): a future for the result
 *
 * Since: 1.0
 */
PgeFuture *
pge_transaction_copy_from_stream (PgeTransaction *tx, const char *sql, GInputStream *stream,
                                  GCancellable *cancellable)
{
  g_return_val_if_fail (tx != NULL, NULL);
  return copy_submit (pge_transaction_get_engine (tx), tx, from_stream (sql, stream, cancellable));
}

/**
 * pge_transaction_copy_from_stream_sync:
 * @tx: a #PgeTransaction
 * @sql: one `COPY ... FROM STDIN` statement
 * @stream: the data; read, not closed
 * @cancellable: (nullable): stops the reads of @stream
 * @error: return location for a #GError
 *
 * pge_transaction_copy_from_stream() and pge_future_wait() in one call:
 * blocks, possibly reading @stream on the calling thread. Refused
 * (%PGE_ERROR_WOULD_DEADLOCK) on one of the engine's own threads.
 *
 * Returns: (transfer full) (nullable): the result, or %NULL with @error set
 *
 * Since: 1.0
 */
PgeResult *
pge_transaction_copy_from_stream_sync (PgeTransaction *tx, const char *sql, GInputStream *stream,
                                       GCancellable *cancellable, GError **error)
{
  g_return_val_if_fail (tx != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);
  return copy_run_sync (pge_transaction_get_engine (tx), tx, from_stream (sql, stream, cancellable),
                        "pge_transaction_copy_from_stream_sync()", error);
}

/**
 * pge_transaction_copy_from_callback:
 * @tx: a #PgeTransaction
 * @sql: one `COPY ... FROM STDIN` statement
 * @func: (scope notified) (closure user_data): supplies the data
 * @user_data: data for @func
 * @notify: (nullable): frees @user_data once the job is over
 *
 * pge_engine_copy_from_callback() inside @tx, as
 * pge_transaction_copy_from_stream(). Thread-safe; never blocks.
 *
 * Returns: (transfer full): a future for the result
 *
 * Since: 1.0
 */
PgeFuture *
pge_transaction_copy_from_callback (PgeTransaction *tx, const char *sql, PgeCopyFromFunc func,
                                    gpointer user_data, GDestroyNotify notify)
{
  g_return_val_if_fail (tx != NULL, NULL);
  return copy_submit (pge_transaction_get_engine (tx), tx,
                      from_callback (sql, func, user_data, notify));
}

/**
 * pge_transaction_copy_from_callback_sync:
 * @tx: a #PgeTransaction
 * @sql: one `COPY ... FROM STDIN` statement
 * @func: (scope call) (closure user_data): supplies the data
 * @user_data: data for @func
 * @error: return location for a #GError
 *
 * pge_transaction_copy_from_callback() and pge_future_wait() in one call;
 * @func may run on the calling thread.
 *
 * Returns: (transfer full) (nullable): the result, or %NULL with @error set
 *
 * Since: 1.0
 */
PgeResult *
pge_transaction_copy_from_callback_sync (PgeTransaction *tx, const char *sql, PgeCopyFromFunc func,
                                         gpointer user_data, GError **error)
{
  g_return_val_if_fail (tx != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);
  return copy_run_sync (pge_transaction_get_engine (tx), tx,
                        from_callback (sql, func, user_data, NULL),
                        "pge_transaction_copy_from_callback_sync()", error);
}

/**
 * pge_transaction_copy_to_stream:
 * @tx: a #PgeTransaction
 * @sql: one `COPY ... TO STDOUT` statement
 * @stream: where the output goes; written and flushed, not closed
 * @cancellable: (nullable): stops the writes to @stream
 *
 * pge_engine_copy_to_stream() inside @tx, on its pinned worker, after
 * everything queued in @tx before it: it sees @tx's uncommitted rows.
 * Thread-safe; never blocks.
 *
 * Returns: (transfer full): a future for the result
 *
 * Since: 1.0
 */
PgeFuture *
pge_transaction_copy_to_stream (PgeTransaction *tx, const char *sql, GOutputStream *stream,
                                GCancellable *cancellable)
{
  g_return_val_if_fail (tx != NULL, NULL);
  return copy_submit (pge_transaction_get_engine (tx), tx, to_stream (sql, stream, cancellable));
}

/**
 * pge_transaction_copy_to_stream_sync:
 * @tx: a #PgeTransaction
 * @sql: one `COPY ... TO STDOUT` statement
 * @stream: where the output goes; written and flushed, not closed
 * @cancellable: (nullable): stops the writes to @stream
 * @error: return location for a #GError
 *
 * pge_transaction_copy_to_stream() and pge_future_wait() in one call;
 * @stream may be written from the calling thread.
 *
 * Returns: (transfer full) (nullable): the result, or %NULL with @error set
 *
 * Since: 1.0
 */
PgeResult *
pge_transaction_copy_to_stream_sync (PgeTransaction *tx, const char *sql, GOutputStream *stream,
                                     GCancellable *cancellable, GError **error)
{
  g_return_val_if_fail (tx != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);
  return copy_run_sync (pge_transaction_get_engine (tx), tx, to_stream (sql, stream, cancellable),
                        "pge_transaction_copy_to_stream_sync()", error);
}

/**
 * pge_transaction_copy_to_callback:
 * @tx: a #PgeTransaction
 * @sql: one `COPY ... TO STDOUT` statement
 * @func: (scope notified) (closure user_data): receives each chunk
 * @user_data: data for @func
 * @notify: (nullable): frees @user_data once the job is over
 *
 * pge_engine_copy_to_callback() inside @tx. Thread-safe; never blocks.
 *
 * Returns: (transfer full): a future for the result
 *
 * Since: 1.0
 */
PgeFuture *
pge_transaction_copy_to_callback (PgeTransaction *tx, const char *sql, PgeCopyToFunc func,
                                  gpointer user_data, GDestroyNotify notify)
{
  g_return_val_if_fail (tx != NULL, NULL);
  return copy_submit (pge_transaction_get_engine (tx), tx,
                      to_callback (sql, func, user_data, notify));
}

/**
 * pge_transaction_copy_to_callback_sync:
 * @tx: a #PgeTransaction
 * @sql: one `COPY ... TO STDOUT` statement
 * @func: (scope call) (closure user_data): receives each chunk
 * @user_data: data for @func
 * @error: return location for a #GError
 *
 * pge_transaction_copy_to_callback() and pge_future_wait() in one call;
 * @func may run on the calling thread.
 *
 * Returns: (transfer full) (nullable): the result, or %NULL with @error set
 *
 * Since: 1.0
 */
PgeResult *
pge_transaction_copy_to_callback_sync (PgeTransaction *tx, const char *sql, PgeCopyToFunc func,
                                       gpointer user_data, GError **error)
{
  g_return_val_if_fail (tx != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);
  return copy_run_sync (pge_transaction_get_engine (tx), tx,
                        to_callback (sql, func, user_data, NULL),
                        "pge_transaction_copy_to_callback_sync()", error);
}
