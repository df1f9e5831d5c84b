/* submit.c — where an engine-level call goes, and the calls themselves.
 *
 * Routing: a thread that has a current transaction on the engine sends
 * its engine-level calls into that transaction (transaction.c keeps the
 * per-thread current transactions); one with a current session (and no
 * transaction) into that session; everything else goes to the main
 * node; pge_engine_query_on_node() goes to the named node. Blocking calls
 * take the direct path (dispatch.c): the calling thread runs its
 * statement on a free connection itself instead of waking a worker and
 * sleeping. Each `_async` call sits beside its blocking twin.
 *
 * Threads: no state of its own; every function may be called from any
 * thread.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "async-private.h"
#include "calloptions-private.h"
#include "connection-private.h"
#include "dispatch-private.h"
#include "engine-private.h"
#include "errors-private.h"
#include "result-private.h"
#include "session-private.h"
#include "submit-private.h"
#include "transaction-private.h"

PgeFuture *
pge_engine_submit (PgeEngine *engine, PgeJob *job)
{
  g_autoptr(PgeTransaction) tx = pge_transaction_dup_current (engine);
  g_autoptr(PgeSession) session = tx == NULL ? pge_session_dup_current (engine) : NULL;
  GError *error = NULL;

  /* An engine a binding made but never initialized has no pool. */
  if (!pge_engine_check_open (engine, &error))
    pge_job_finish (job, NULL, error);
  else if (tx != NULL)
    pge_transaction_submit (tx, job);
  else if (session != NULL)
    pge_session_submit (session, job);
  else
    pge_dispatch_submit (pge_engine_get_primary (engine), job, FALSE);
  return pge_future_ref (job->future);
}

PgeResult *
pge_engine_run_sync (PgeEngine *engine, PgeJob *job, GError **error)
{
  g_autoptr(PgeTransaction) tx = pge_transaction_dup_current (engine);
  g_autoptr(PgeSession) session = tx == NULL ? pge_session_dup_current (engine) : NULL;

  if (!pge_engine_check_open (engine, error))
    return NULL;
  if (tx != NULL)
    return pge_transaction_run_sync (tx, job, error);
  if (session != NULL)
    return pge_session_run_sync (session, job, error);
  return pge_dispatch_run_sync (pge_engine_get_primary (engine), job, error);
}

/**
 * pge_engine_query:
 * @engine: a #PgeEngine
 * @sql: one SQL statement, with `$1`, `$2` ... placeholders
 * @params: (nullable): the parameters, copied before this returns
 *
 * Queues @sql (extended protocol) and returns at once. A plain query
 * from a thread that waits for its futures, submitted while a connection
 * is free and nothing is queued, waits (at most a millisecond) for that
 * thread's next pge_future_wait(), which runs it and the thread's other
 * such queries on the calling thread as one pipeline; anything else the
 * thread does with the engine, a callback attached to the future, or a
 * wait from elsewhere hands it to the workers at once. On a thread that
 * has a current transaction on @engine, the statement runs inside it, on
 * its worker, after the statements queued before it; on one with a
 * current session (and no transaction), on the session's connection.
 * Errors show on the
 * future: %PGE_ERROR_INVALID_ARGUMENT for a %NULL or empty @sql,
 * %PGE_ERROR_QUERY with the SQLSTATE for a server error, and so on.
 * Thread-safe; never blocks.
 *
 * Returns: (transfer full): a future for the result
 *
 * Since: 1.0
 */
PgeFuture *
pge_engine_query (PgeEngine *engine, const char *sql, PgeParams *params)
{
  g_autoptr(PgeJob) job = NULL;

  g_return_val_if_fail (PGE_IS_ENGINE (engine), NULL);
  if (sql == NULL)
    return pge_future_new_invalid ("the SQL is NULL");
  job = pge_job_new_query (sql, params);
  return pge_engine_submit (engine, job);
}

/**
 * pge_engine_query_sync:
 * @engine: a #PgeEngine
 * @sql: one SQL statement, with `$1`, `$2` ... placeholders
 * @params: (nullable): the parameters, read while the call runs (not
 *   copied): no other thread may change them before it returns
 * @error: return location for a #GError
 *
 * pge_engine_query() and pge_future_wait() in one call: blocks until the
 * result is in. When a connection is free (and nothing is queued ahead),
 * the statement runs on the calling thread itself, with no hand-off to a
 * worker; else it queues like pge_engine_query(). Thread-safe; do not call
 * it from a %NULL-context future callback on one of @engine's threads:
 * there it fails at once with %PGE_ERROR_WOULD_DEADLOCK, since it could
 * wait for itself.
 *
 * Returns: (transfer full) (nullable): the result, or %NULL with @error set
 *
 * Since: 1.0
 */
PgeResult *
pge_engine_query_sync (PgeEngine *engine, const char *sql, PgeParams *params, GError **error)
{
  g_autoptr(PgeJob) job = NULL;

  g_return_val_if_fail (PGE_IS_ENGINE (engine), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);
  if (sql == NULL)
    {
      g_set_error_literal (error, PGE_ERROR, PGE_ERROR_INVALID_ARGUMENT, "the SQL is NULL");
      return NULL;
    }
  if (!pge_engine_check_may_block (engine, "pge_engine_query_sync()", error))
    return NULL;
  job = pge_job_new_query_borrowed (sql, params);
  return pge_engine_run_sync (engine, job, error);
}

/**
 * pge_engine_query_on_node:
 * @engine: a #PgeEngine
 * @node: a node name from pge_config_add_node(), or "primary"
 * @sql: one SQL statement
 * @params: (nullable): the parameters, copied before this returns
 *
 * Queues @sql on the named node's workers, never inside the calling
 * thread's transaction or session (another node is another server; even
 * "primary" gets a connection of the pool). An unknown or
 * %NULL node fails the future with %PGE_ERROR_INVALID_ARGUMENT.
 * Thread-safe; never blocks.
 *
 * Returns: (transfer full): a future for the result
 *
 * Since: 1.0
 */
PgeFuture *
pge_engine_query_on_node (PgeEngine *engine, const char *node, const char *sql, PgeParams *params)
{
  g_autoptr(PgeJob) job = NULL;
  PgePool *pool;

  g_return_val_if_fail (PGE_IS_ENGINE (engine), NULL);
  if (node == NULL)
    return pge_future_new_invalid ("the node name is NULL");
  pool = pge_engine_get_node (engine, node);
  if (pool == NULL)
    return pge_future_new_error (g_error_new (PGE_ERROR, PGE_ERROR_INVALID_ARGUMENT,
                                              "no node is called \"%s\"", node));
  if (sql == NULL)
    return pge_future_new_invalid ("the SQL is NULL");
  job = pge_job_new_query (sql, params);
  pge_dispatch_submit (pool, job, FALSE);
  return pge_future_ref (job->future);
}

/**
 * pge_engine_exec_sync:
 * @engine: a #PgeEngine
 * @script: one or more statements separated by `;` (simple protocol, no
 *   parameters): DDL, migrations
 * @error: return location for a #GError
 *
 * Runs @script and blocks until it is done. Outside a transaction the
 * statements run as one implicit transaction: if one fails, none stays.
 * Inside the thread's current transaction, it runs there; in its current
 * session (and no transaction), on the session's connection. A %NULL
 * @script is %PGE_ERROR_INVALID_ARGUMENT. Thread-safe, but refused
 * (%PGE_ERROR_WOULD_DEADLOCK) on one of @engine's own threads.
 *
 * Returns: %TRUE on success
 *
 * Since: 1.0
 */
gboolean
pge_engine_exec_sync (PgeEngine *engine, const char *script, GError **error)
{
  g_autoptr(PgeJob) job = NULL;
  g_autoptr(PgeResult) result = NULL;
  GError *local = NULL;

  g_return_val_if_fail (PGE_IS_ENGINE (engine), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);
  if (script == NULL)
    {
      g_set_error_literal (error, PGE_ERROR, PGE_ERROR_INVALID_ARGUMENT, "the script is NULL");
      return FALSE;
    }
  if (!pge_engine_check_may_block (engine, "pge_engine_exec_sync()", error))
    return FALSE;
  job = pge_job_new_exec (script);
  result = pge_engine_run_sync (engine, job, &local);
  if (local != NULL)
    {
      g_propagate_error (error, local);
      return FALSE;
    }
  return TRUE;
}

typedef struct {
  PgeWorkerFunc  func;
  gpointer       user_data;
  GDestroyNotify notify;
} UserCall;

static void
user_call_free (gpointer data)
{
  UserCall *call = data;

  if (call->notify != NULL)
    call->notify (call->user_data);
  g_free (call);
}

static PgeResult *
user_call_run (PgeJob *job, PgeConnection *conn, gpointer data, GError **error)
{
  UserCall *call = data;
  GError *local = NULL;
  PGresult *res = call->func (pge_connection_get_pgconn (conn), call->user_data, &local);

  if (local != NULL)
    {
      g_clear_pointer (&res, PQclear);
      g_propagate_error (error, local);
      return NULL;
    }
  if (res == NULL)
    return NULL;
  if (PQresultStatus (res) == PGRES_FATAL_ERROR || PQresultStatus (res) == PGRES_BAD_RESPONSE)
    {
      g_propagate_error (error, pge_connection_error_from_result (conn, res));
      PQclear (res);
      return NULL;
    }
  return pge_result_new_take (res);
}

/**
 * pge_engine_run_in_worker: (skip)
 * @engine: a #PgeEngine
 * @func: (scope notified) (closure user_data): blocking code to run with a
 *   worker's connection
 * @user_data: data for @func
 * @notify: (nullable): frees @user_data once the job is over, on whichever
 *   thread finishes with it
 *
 * Runs @func with an idle connection of the engine, on the thread that
 * holds it: a worker thread, or a thread that waits for the future and
 * found the connection free (it then runs @func itself rather than wake a
 * worker). For what queries cannot do (LISTEN, large objects ...; COPY
 * has its own functions, such as pge_engine_copy_from_stream()). The PGresult
 * it returns becomes the future's result (an error result becomes a
 * %PGE_ERROR_QUERY error); %NULL gives no result. @func must leave the
 * connection idle and must not close it; a connection left mid-protocol is
 * replaced, one left inside a transaction is rolled back (unless this runs
 * inside the thread's current transaction, where it runs on its
 * connection). In the thread's current session (and no transaction) it
 * runs on the session's connection.
 * pge_future_cancel() sends a cancel request to whatever @func is running.
 * Thread-safe; never blocks.
 *
 * Returns: (transfer full): a future for the result
 *
 * Since: 1.0
 */
PgeFuture *
pge_engine_run_in_worker (PgeEngine *engine, PgeWorkerFunc func, gpointer user_data, GDestroyNotify notify)
{
  g_autoptr(PgeJob) job = NULL;
  UserCall *call;

  g_return_val_if_fail (PGE_IS_ENGINE (engine), NULL);
  if (func == NULL)
    {
      if (notify != NULL)
        notify (user_data);
      return pge_future_new_invalid ("the worker function is NULL");
    }
  call = g_new0 (UserCall, 1);
  call->func = func;
  call->user_data = user_data;
  call->notify = notify;
  job = pge_job_new_call (user_call_run, call, user_call_free);
  return pge_engine_submit (engine, job);
}

/* ------------------------------------------------------------- GIO async */

/**
 * pge_engine_query_async:
 * @engine: a #PgeEngine
 * @sql: one SQL statement, with `$1`, `$2` ... placeholders
 * @params: (nullable): the parameters, copied before this returns
 * @cancellable: (nullable): cancels a queued job before it runs, or a
 *   running one through libpq's cancel API
 * @callback: (scope async) (closure user_data): called with the outcome
 * @user_data: data for @callback
 *
 * GIO-style pge_engine_query(): @callback runs in the thread-default
 * #GMainContext of the calling thread at the time of this call; get the
 * result there with pge_engine_query_finish(). Routed like
 * pge_engine_query(). Never blocks.
 *
 * Since: 1.0
 */
void
pge_engine_query_async (PgeEngine          *engine,
                        const char         *sql,
                        PgeParams          *params,
                        GCancellable       *cancellable,
                        GAsyncReadyCallback callback,
                        gpointer            user_data)
{
  g_autoptr(PgeFuture) future = NULL;
  GTask *task;

  g_return_if_fail (PGE_IS_ENGINE (engine));
  task = pge_async_task_new (engine, pge_engine_query_async, "pge_engine_query_async",
                             cancellable, callback, user_data);
  if (task == NULL)
    return;
  future = pge_engine_query (engine, sql, params);
  pge_async_follow_result (task, future);
}

/**
 * pge_engine_query_finish:
 * @engine: a #PgeEngine
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError
 *
 * A statement stopped by the #GCancellable gives %G_IO_ERROR_CANCELLED
 * (GIO convention); one that completed before the cancel took effect keeps
 * its result. Other failures are a %PGE_ERROR. Never blocks.
 *
 * Returns: (transfer full) (nullable): the result, or %NULL with @error set
 *
 * Since: 1.0
 */
PgeResult *
pge_engine_query_finish (PgeEngine *engine, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (PGE_IS_ENGINE (engine), NULL);
  g_return_val_if_fail (pge_async_task_check (result, engine, pge_engine_query_async), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

/* ------------------------------------------------------- per-call limits */

/**
 * pge_engine_query_with_options:
 * @engine: a #PgeEngine
 * @sql: one SQL statement, with `$1`, `$2` ... placeholders
 * @params: (nullable): the parameters, copied before this returns
 * @options: (nullable): this call's own limits; %NULL: the engine's
 *
 * pge_engine_query() with its own acquire and statement timeouts (see
 * #PgeCallOptions), read before this returns. Routed like
 * pge_engine_query(). Thread-safe; never blocks.
 *
 * Returns: (transfer full): a future for the result
 *
 * Since: 1.2
 */
PgeFuture *
pge_engine_query_with_options (PgeEngine *engine, const char *sql, PgeParams *params,
                               PgeCallOptions *options)
{
  g_autoptr(PgeJob) job = NULL;

  g_return_val_if_fail (PGE_IS_ENGINE (engine), NULL);
  if (sql == NULL)
    return pge_future_new_invalid ("the SQL is NULL");
  job = pge_call_options_new_query_job (options, sql, params, FALSE);
  return pge_engine_submit (engine, job);
}

/**
 * pge_engine_query_with_options_sync:
 * @engine: a #PgeEngine
 * @sql: one SQL statement, with `$1`, `$2` ... placeholders
 * @params: (nullable): the parameters, read while the call runs
 * @options: (nullable): this call's own limits; %NULL: the engine's
 * @error: return location for a #GError
 *
 * pge_engine_query_sync() with its own acquire and statement timeouts
 * (see #PgeCallOptions): blocks at most about the acquire timeout plus
 * the statement timeout. Thread-safe, with the same restriction as
 * pge_engine_query_sync().
 *
 * Returns: (transfer full) (nullable): the result, or %NULL with @error
 *   set (%PGE_ERROR_TIMEOUT when a limit passed)
 *
 * Since: 1.2
 */
PgeResult *
pge_engine_query_with_options_sync (PgeEngine *engine, const char *sql, PgeParams *params,
                                    PgeCallOptions *options, GError **error)
{
  g_autoptr(PgeJob) job = NULL;

  g_return_val_if_fail (PGE_IS_ENGINE (engine), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);
  if (sql == NULL)
    {
      g_set_error_literal (error, PGE_ERROR, PGE_ERROR_INVALID_ARGUMENT, "the SQL is NULL");
      return NULL;
    }
  if (!pge_engine_check_may_block (engine, "pge_engine_query_with_options_sync()", error))
    return NULL;
  job = pge_call_options_new_query_job (options, sql, params, TRUE);
  return pge_engine_run_sync (engine, job, error);
}

/**
 * pge_engine_query_with_options_async:
 * @engine: a #PgeEngine
 * @sql: one SQL statement, with `$1`, `$2` ... placeholders
 * @params: (nullable): the parameters, copied before this returns
 * @options: (nullable): this call's own limits; %NULL: the engine's
 * @cancellable: (nullable): cancels the statement, queued or running
 * @callback: (scope async) (closure user_data): called with the outcome
 * @user_data: data for @callback
 *
 * GIO-style pge_engine_query_with_options(): @callback runs in the
 * thread-default #GMainContext of the calling thread; get the result
 * there with pge_engine_query_with_options_finish(). Never blocks.
 *
 * Since: 1.2
 */
void
pge_engine_query_with_options_async (PgeEngine          *engine,
                                     const char         *sql,
                                     PgeParams          *params,
                                     PgeCallOptions     *options,
                                     GCancellable       *cancellable,
                                     GAsyncReadyCallback callback,
                                     gpointer            user_data)
{
  g_autoptr(PgeFuture) future = NULL;
  GTask *task;

  g_return_if_fail (PGE_IS_ENGINE (engine));
  task = pge_async_task_new (engine, pge_engine_query_with_options_async,
                             "pge_engine_query_with_options_async", cancellable, callback, user_data);
  if (task == NULL)
    return;
  future = pge_engine_query_with_options (engine, sql, params, options);
  pge_async_follow_result (task, future);
}

/**
 * pge_engine_query_with_options_finish:
 * @engine: a #PgeEngine
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError
 *
 * As pge_engine_query_finish(). Never blocks.
 *
 * Returns: (transfer full) (nullable): the result, or %NULL with @error set
 *
 * Since: 1.2
 */
PgeResult *
pge_engine_query_with_options_finish (PgeEngine *engine, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (PGE_IS_ENGINE (engine), NULL);
  g_return_val_if_fail (pge_async_task_check (result, engine, pge_engine_query_with_options_async), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}
