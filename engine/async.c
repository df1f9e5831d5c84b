/* async.c — GIO-style `_async` / `_finish` pairs for main-loop programs.
 *
 * Every pair here is a GTask with no source object (the pgengine types are
 * boxed, not GObjects); the task captures the thread-default GMainContext
 * of the `_async` caller and its callback always runs there. Two shapes:
 *
 * - Work that is one job (a query, a batch step, an atomic run) follows its
 *   PgeFuture. The GCancellable is connected to pge_future_cancel(): a
 *   queued job is removed and never runs, a running one gets libpq's
 *   cancel request. The future's completion reaches the task through
 *   pge_future_on_done() in the task's context, where the task returns.
 *
 * - Work that is a blocking call of several round trips (connect, begin,
 *   commit, rollback, declare a cursor) runs in GTask's thread pool
 *   (g_task_run_in_thread()), so the main loop never waits on the network.
 *   Cancelling before it starts means it never runs. Once it runs it is
 *   finished, and its outcome reported, except where the result would be a
 *   new object the caller did not get to see (an engine, a transaction, a
 *   batch): those are released on the pool thread — not in the main loop,
 *   since releasing them blocks — and the task reports the cancellation.
 *
 * Why a future's completion hops into the task's context before touching
 * the GCancellable: cancelling a queued job resolves its future on the
 * spot, that is inside the GCancellable's "cancelled" handler, and
 * g_cancellable_disconnect() called from there waits for that same handler
 * to return: a self-deadlock. In the context, the handler has returned.
 *
 * Errors: what the work did decides, not whether the GCancellable was
 * cancelled (the GTasks do not check it when propagating): a job stopped by
 * the cancellation gives G_IO_ERROR_CANCELLED, as everywhere in GIO, but a
 * statement that completed before the cancel took effect reports its
 * result — an INSERT that committed is never called cancelled. Everything
 * else is a PGE_ERROR.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "async-private.h"
#include "config-private.h"
#include "params-private.h"
#include "transaction-private.h"

/* ------------------------------------------------------ following futures */

typedef enum {
  FOLLOW_RESULT,    /* the task returns the PgeResult (or NULL) */
  FOLLOW_BOOLEAN    /* the task returns TRUE, or the error */
} FollowKind;

typedef struct {
  GTask     *task;        /* owned */
  FollowKind kind;
  gulong     cancel_id;
} Follow;

static void
follow_done (PgeFuture *future, gpointer user_data)
{
  Follow *follow = user_data;
  GCancellable *cancellable = g_task_get_cancellable (follow->task);
  GError *error = NULL;
  PgeResult *result = pge_future_wait (future, &error); /* done: never blocks */

  /* Safe here, in the task's context: see the top of the file. */
  if (cancellable != NULL)
    g_cancellable_disconnect (cancellable, follow->cancel_id);
  if (error != NULL)
    g_task_return_error (follow->task, pge_async_translate_cancel (error, cancellable));
  else if (follow->kind == FOLLOW_BOOLEAN)
    {
      g_clear_pointer (&result, pge_result_unref);
      g_task_return_boolean (follow->task, TRUE);
    }
  else
    g_task_return_pointer (follow->task, result, (GDestroyNotify) pge_result_unref);
  g_object_unref (follow->task);
  g_free (follow);
}

static void
follow_cancelled (GCancellable *cancellable, gpointer user_data)
{
  pge_future_cancel (user_data);
}

static void
follow_future (GTask *task, PgeFuture *future, FollowKind kind)
{
  GCancellable *cancellable = g_task_get_cancellable (task);
  Follow *follow = g_new0 (Follow, 1);

  follow->task = task;
  follow->kind = kind;
  /* Connected before the callback is registered: the task's context may be
   * run by another thread, which could otherwise see follow_done() before
   * cancel_id is set. If the cancellable is already cancelled, the handler
   * runs right here and resolves the future, which is fine. */
  if (cancellable != NULL)
    follow->cancel_id = g_cancellable_connect (cancellable, G_CALLBACK (follow_cancelled),
                                               pge_future_ref (future),
                                               (GDestroyNotify) pge_future_unref);
  pge_future_on_done (future, g_task_get_context (task), follow_done, follow, NULL);
}

/* GIO's code for a job that our GCancellable stopped; any other error,
 * including a cancel made directly with pge_future_cancel(), stays. */
GError *
pge_async_translate_cancel (GError *error, GCancellable *cancellable)
{
  if (cancellable != NULL && g_cancellable_is_cancelled (cancellable) &&
      g_error_matches (error, PGE_ERROR, PGE_ERROR_CANCELLED))
    {
      GError *cancelled = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CANCELLED, error->message);

      g_error_free (error);
      return cancelled;
    }
  return error;
}

GTask *
pge_async_task_new (gpointer            source_tag,
                    const char         *name,
                    GCancellable       *cancellable,
                    GAsyncReadyCallback callback,
                    gpointer            user_data)
{
  g_autoptr(GTask) task = g_task_new (NULL, cancellable, callback, user_data);

  g_task_set_source_tag (task, source_tag);
  g_task_set_name (task, name);
  if (g_task_return_error_if_cancelled (task))
    return NULL;
  /* The outcome of the work decides (see the top of the file). */
  g_task_set_check_cancellable (task, FALSE);
  return g_steal_pointer (&task);
}

void
pge_async_follow_result (GTask *task, PgeFuture *future)
{
  follow_future (task, future, FOLLOW_RESULT);
}

static void
follow_boolean (GTask *task, PgeFuture *future)
{
  follow_future (task, future, FOLLOW_BOOLEAN);
}

static gboolean
task_check (GAsyncResult *result, gpointer source_tag)
{
  return g_task_is_valid (result, NULL) && g_task_get_source_tag (G_TASK (result)) == source_tag;
}

/* ------------------------------------------------------------ engine new */

static void
engine_new_thread (GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
{
  GError *error = NULL;
  PgeEngine *engine;

  if (g_task_return_error_if_cancelled (task))
    return;
  engine = pge_engine_new (task_data, &error);
  if (engine == NULL)
    {
      g_task_return_error (task, error);
      return;
    }
  /* Nobody will see this engine: close it here, off the main loop. */
  if (g_cancellable_is_cancelled (cancellable))
    {
      pge_engine_unref (engine);
      g_task_return_error_if_cancelled (task);
      return;
    }
  g_task_return_pointer (task, engine, (GDestroyNotify) pge_engine_unref);
}

/**
 * pge_engine_new_async:
 * @config: a #PgeConfig; its settings are copied before this returns
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async) (closure user_data): called with the outcome
 * @user_data: data for @callback
 *
 * pge_engine_new() without blocking: the workers are started and connected
 * on a thread of GLib's pool, and @callback runs in the thread-default
 * #GMainContext of the calling thread at the time of this call, where
 * pge_engine_new_finish() gets the engine. Cancelling before the
 * connection is made closes the new engine (on that pool thread) and gives
 * %G_IO_ERROR_CANCELLED. Never blocks.
 */
void
pge_engine_new_async (PgeConfig          *config,
                      GCancellable       *cancellable,
                      GAsyncReadyCallback callback,
                      gpointer            user_data)
{
  GTask *task = pge_async_task_new (pge_engine_new_async, "pge_engine_new_async", cancellable, callback, user_data);

  if (task == NULL)
    return;
  if (config == NULL)
    {
      g_task_return_new_error (task, PGE_ERROR, PGE_ERROR_INVALID_ARGUMENT, "config is NULL");
      g_object_unref (task);
      return;
    }
  /* A copy: the caller may change or drop @config as soon as this returns. */
  g_task_set_task_data (task, pge_config_copy (config), (GDestroyNotify) pge_config_unref);
  g_task_run_in_thread (task, engine_new_thread);
  g_object_unref (task);
}

/**
 * pge_engine_new_finish:
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError
 *
 * Gets the engine started by pge_engine_new_async(): errors as for
 * pge_engine_new(), or %G_IO_ERROR_CANCELLED. Never blocks.
 *
 * Returns: (transfer full) (nullable): the engine, or %NULL with @error set
 */
PgeEngine *
pge_engine_new_finish (GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (task_check (result, pge_engine_new_async), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

/* ----------------------------------------------------------- transactions */

static void
transaction_begin_thread (GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
{
  PgeEngine *engine = task_data;
  PgeTransactionFlags flags = GPOINTER_TO_UINT (g_object_get_data (G_OBJECT (task), "pge-flags"));
  GError *error = NULL;
  PgeTransaction *tx;

  if (g_task_return_error_if_cancelled (task))
    return;
  tx = pge_transaction_begin_detached (engine, flags, cancellable, &error);
  if (tx == NULL)
    {
      g_task_return_error (task, pge_async_translate_cancel (error, cancellable));
      return;
    }
  /* Nobody will see this transaction: roll it back here, off the main
   * loop (its last unref would block wherever it happens). */
  if (g_cancellable_is_cancelled (cancellable))
    {
      pge_transaction_rollback (tx, NULL);
      pge_transaction_unref (tx);
      g_task_return_error_if_cancelled (task);
      return;
    }
  g_task_return_pointer (task, tx, (GDestroyNotify) pge_transaction_unref);
}

/**
 * pge_engine_transaction_async:
 * @engine: a #PgeEngine
 * @flags: isolation and access mode; the nesting flags have no effect
 * @cancellable: (nullable): stops the wait for a free worker, or the
 *   `BEGIN`; a transaction begun before the cancel is rolled back
 * @callback: (scope async) (closure user_data): called with the outcome
 * @user_data: data for @callback
 *
 * Begins a new outermost transaction without blocking: a worker is pinned
 * and `BEGIN` sent from a thread of GLib's pool, and @callback runs in
 * the thread-default #GMainContext of the calling thread at the time of
 * this call, where pge_engine_transaction_finish() gets the transaction.
 *
 * Unlike pge_engine_transaction(), the transaction is never made the
 * current transaction of any thread, and never nests into one: a main
 * loop interleaves unrelated work, which must not be routed into it. So
 * pge_engine_query() and the other engine-level calls run outside it, even
 * on the thread that began it: use the explicit calls on the transaction —
 * pge_transaction_query_async(), pge_transaction_batch(),
 * pge_transaction_commit_async(), pge_transaction_rollback_async().
 * Drop the last reference after it has ended: the last unref of an open
 * transaction rolls it back and blocks until the worker is free.
 *
 * Never blocks.
 */
void
pge_engine_transaction_async (PgeEngine          *engine,
                              PgeTransactionFlags flags,
                              GCancellable       *cancellable,
                              GAsyncReadyCallback callback,
                              gpointer            user_data)
{
  GTask *task;

  g_return_if_fail (engine != NULL);
  task = pge_async_task_new (pge_engine_transaction_async, "pge_engine_transaction_async",
                             cancellable, callback, user_data);
  if (task == NULL)
    return;
  g_task_set_task_data (task, pge_engine_ref (engine), (GDestroyNotify) pge_engine_unref);
  g_object_set_data (G_OBJECT (task), "pge-flags", GUINT_TO_POINTER (flags));
  g_task_run_in_thread (task, transaction_begin_thread);
  g_object_unref (task);
}

/**
 * pge_engine_transaction_finish:
 * @engine: the #PgeEngine given to pge_engine_transaction_async()
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError
 *
 * Gets the transaction begun by pge_engine_transaction_async(). It is not
 * the current transaction of any thread (see there). Errors as for
 * pge_engine_transaction() (%PGE_ERROR_TIMEOUT when no worker became free
 * in time ...), or %G_IO_ERROR_CANCELLED. Never blocks.
 *
 * Returns: (transfer full) (nullable): the open transaction, or %NULL
 *   with @error set
 */
PgeTransaction *
pge_engine_transaction_finish (PgeEngine *engine, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (engine != NULL, NULL);
  g_return_val_if_fail (task_check (result, pge_engine_transaction_async), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

/**
 * pge_transaction_query_async:
 * @tx: an open transaction
 * @sql: one SQL statement, with `$1`, `$2` ... placeholders
 * @params: (nullable): the parameters, copied before this returns
 * @cancellable: (nullable): cancels the statement if it is still queued
 *   (it never runs), or through libpq's cancel API if it runs; a
 *   cancelled statement aborts @tx, as in psql
 * @callback: (scope async) (closure user_data): called with the outcome
 * @user_data: data for @callback
 *
 * GIO-style pge_transaction_query(): queues @sql inside @tx, on its
 * worker, after the statements queued before it, whichever thread calls
 * this; @callback runs in the thread-default #GMainContext of the calling
 * thread at the time of this call, where pge_transaction_query_finish()
 * gets the result. Never blocks.
 */
void
pge_transaction_query_async (PgeTransaction     *tx,
                             const char         *sql,
                             PgeParams          *params,
                             GCancellable       *cancellable,
                             GAsyncReadyCallback callback,
                             gpointer            user_data)
{
  g_autoptr(PgeFuture) future = NULL;
  GTask *task;

  g_return_if_fail (tx != NULL);
  task = pge_async_task_new (pge_transaction_query_async, "pge_transaction_query_async",
                             cancellable, callback, user_data);
  if (task == NULL)
    return;
  future = pge_transaction_query (tx, sql, params);
  pge_async_follow_result (task, future);
}

/**
 * pge_transaction_query_finish:
 * @tx: the #PgeTransaction given to pge_transaction_query_async()
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError
 *
 * A statement stopped by the #GCancellable gives %G_IO_ERROR_CANCELLED;
 * one that completed before the cancel took effect keeps its result. A
 * statement on an ended transaction gives %PGE_ERROR_TRANSACTION_STATE.
 * Never blocks.
 *
 * Returns: (transfer full) (nullable): the result, or %NULL with @error set
 */
PgeResult *
pge_transaction_query_finish (PgeTransaction *tx, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (tx != NULL, NULL);
  g_return_val_if_fail (task_check (result, pge_transaction_query_async), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

static void
transaction_end_thread (GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
{
  PgeTransaction *tx = task_data;
  gboolean commit = g_task_get_source_tag (task) == pge_transaction_commit_async;
  GError *error = NULL;
  gboolean ok;

  /* Cancelled before it started: nothing was sent, @tx is still open. */
  if (g_task_return_error_if_cancelled (task))
    return;
  /* Once sent, COMMIT or ROLLBACK is not cancelled: the outcome is
   * reported as it is, so that the caller knows what was kept. */
  ok = commit ? pge_transaction_commit (tx, &error) : pge_transaction_rollback (tx, &error);
  if (ok)
    g_task_return_boolean (task, TRUE);
  else
    g_task_return_error (task, error);
}

static void
transaction_end_async (PgeTransaction     *tx,
                       gpointer            source_tag,
                       const char         *name,
                       GCancellable       *cancellable,
                       GAsyncReadyCallback callback,
                       gpointer            user_data)
{
  GTask *task = pge_async_task_new (source_tag, name, cancellable, callback, user_data);

  if (task == NULL)
    return;
  g_task_set_task_data (task, pge_transaction_ref (tx), (GDestroyNotify) pge_transaction_unref);
  g_task_run_in_thread (task, transaction_end_thread);
  g_object_unref (task);
}

/**
 * pge_transaction_commit_async:
 * @tx: a transaction
 * @cancellable: (nullable): cancels the commit only if it has not started
 *   (then nothing is sent and @tx stays open)
 * @callback: (scope async) (closure user_data): called with the outcome
 * @user_data: data for @callback
 *
 * pge_transaction_commit() without blocking: the `COMMIT` (or, for an
 * inner transaction, `RELEASE SAVEPOINT`) is sent and waited for from a
 * thread of GLib's pool, and @callback runs in the thread-default
 * #GMainContext of the calling thread at the time of this call, where
 * pge_transaction_commit_finish() gets the outcome. Never blocks.
 */
void
pge_transaction_commit_async (PgeTransaction     *tx,
                              GCancellable       *cancellable,
                              GAsyncReadyCallback callback,
                              gpointer            user_data)
{
  g_return_if_fail (tx != NULL);
  transaction_end_async (tx, pge_transaction_commit_async, "pge_transaction_commit_async",
                         cancellable, callback, user_data);
}

/**
 * pge_transaction_commit_finish:
 * @tx: the #PgeTransaction given to pge_transaction_commit_async()
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError
 *
 * Errors as for pge_transaction_commit(): committing a transaction that an
 * earlier error aborted rolls it back and fails with
 * %PGE_ERROR_TRANSACTION_STATE, and so does an ended one; or
 * %G_IO_ERROR_CANCELLED if it was cancelled before it started. Never
 * blocks.
 *
 * Returns: %TRUE if the transaction was committed
 */
gboolean
pge_transaction_commit_finish (PgeTransaction *tx, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (tx != NULL, FALSE);
  g_return_val_if_fail (task_check (result, pge_transaction_commit_async), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

/**
 * pge_transaction_rollback_async:
 * @tx: a transaction
 * @cancellable: (nullable): cancels the rollback only if it has not
 *   started (then nothing is sent and @tx stays open)
 * @callback: (scope async) (closure user_data): called with the outcome
 * @user_data: data for @callback
 *
 * pge_transaction_rollback() without blocking: the `ROLLBACK` (or, for an
 * inner transaction, `ROLLBACK TO SAVEPOINT`) is sent and waited for from
 * a thread of GLib's pool, and @callback runs in the thread-default
 * #GMainContext of the calling thread at the time of this call, where
 * pge_transaction_rollback_finish() gets the outcome. Never blocks.
 */
void
pge_transaction_rollback_async (PgeTransaction     *tx,
                                GCancellable       *cancellable,
                                GAsyncReadyCallback callback,
                                gpointer            user_data)
{
  g_return_if_fail (tx != NULL);
  transaction_end_async (tx, pge_transaction_rollback_async, "pge_transaction_rollback_async",
                         cancellable, callback, user_data);
}

/**
 * pge_transaction_rollback_finish:
 * @tx: the #PgeTransaction given to pge_transaction_rollback_async()
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError
 *
 * Errors as for pge_transaction_rollback() (%PGE_ERROR_TRANSACTION_STATE
 * for an ended transaction), or %G_IO_ERROR_CANCELLED if it was cancelled
 * before it started. Never blocks.
 *
 * Returns: %TRUE if the transaction was rolled back
 */
gboolean
pge_transaction_rollback_finish (PgeTransaction *tx, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (tx != NULL, FALSE);
  g_return_val_if_fail (task_check (result, pge_transaction_rollback_async), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

/* ----------------------------------------------------------------- batch */

typedef struct {
  PgeEngine *engine;     /* owned */
  char      *sql;
  PgeParams *params;     /* owned, nullable */
  guint      batch_size;
} BatchCall;

static void
batch_call_free (BatchCall *call)
{
  pge_engine_unref (call->engine);
  g_free (call->sql);
  g_clear_pointer (&call->params, pge_params_unref);
  g_free (call);
}

static void
batch_open_thread (GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
{
  BatchCall *call = task_data;
  GError *error = NULL;
  PgeBatch *batch;

  if (g_task_return_error_if_cancelled (task))
    return;
  /* A pool thread has no current transaction: the batch gets its own. */
  batch = pge_engine_batch (call->engine, call->sql, call->params, call->batch_size, &error);
  if (batch == NULL)
    {
      g_task_return_error (task, error);
      return;
    }
  if (g_cancellable_is_cancelled (cancellable))
    {
      pge_batch_close (batch, NULL);
      pge_batch_unref (batch);
      g_task_return_error_if_cancelled (task);
      return;
    }
  g_task_return_pointer (task, batch, (GDestroyNotify) pge_batch_unref);
}

/**
 * pge_engine_batch_async:
 * @engine: a #PgeEngine
 * @sql: a query that returns rows, with `$1`, `$2` ... placeholders
 * @params: (nullable): the parameters, copied before this returns
 * @batch_size: rows per chunk; 0 means 100
 * @cancellable: (nullable): cancels the batch before its cursor is
 *   declared; a batch opened before the cancel is closed again
 * @callback: (scope async) (closure user_data): called with the outcome
 * @user_data: data for @callback
 *
 * pge_engine_batch() without blocking: a worker is pinned and the cursor
 * declared from a thread of GLib's pool, and @callback runs in the
 * thread-default #GMainContext of the calling thread at the time of this
 * call, where pge_engine_batch_finish() gets the batch. The batch always
 * has its own transaction (it never joins the calling thread's current
 * one); inside a transaction, use pge_transaction_batch(). Read it with
 * pge_batch_next_async(). Never blocks.
 */
void
pge_engine_batch_async (PgeEngine          *engine,
                        const char         *sql,
                        PgeParams          *params,
                        guint               batch_size,
                        GCancellable       *cancellable,
                        GAsyncReadyCallback callback,
                        gpointer            user_data)
{
  BatchCall *call;
  GTask *task;

  g_return_if_fail (engine != NULL);
  task = pge_async_task_new (pge_engine_batch_async, "pge_engine_batch_async",
                             cancellable, callback, user_data);
  if (task == NULL)
    return;
  call = g_new0 (BatchCall, 1);
  call->engine = pge_engine_ref (engine);
  call->sql = g_strdup (sql);
  /* A private copy: the caller may reuse @params once this returns. */
  call->params = params ? pge_params_copy (params) : NULL;
  call->batch_size = batch_size;
  g_task_set_task_data (task, call, (GDestroyNotify) batch_call_free);
  g_task_run_in_thread (task, batch_open_thread);
  g_object_unref (task);
}

/**
 * pge_engine_batch_finish:
 * @engine: the #PgeEngine given to pge_engine_batch_async()
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError
 *
 * Errors as for pge_engine_batch() (bad SQL fails here), or
 * %G_IO_ERROR_CANCELLED. Never blocks.
 *
 * Returns: (transfer full) (nullable): the batch, or %NULL with @error set
 */
PgeBatch *
pge_engine_batch_finish (PgeEngine *engine, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (engine != NULL, NULL);
  g_return_val_if_fail (task_check (result, pge_engine_batch_async), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

/**
 * pge_batch_next_async:
 * @batch: a #PgeBatch
 * @cancellable: (nullable): cancels the chunk's `FETCH` (queued: it never
 *   runs; running: through libpq's cancel API), which ends the scan like
 *   any error
 * @callback: (scope async) (closure user_data): called with the outcome
 * @user_data: data for @callback
 *
 * GIO-style pge_batch_next(), on pge_batch_fetch(): takes the next chunk
 * (so chunks come in call order, and the following one is prefetched) and
 * @callback runs in the thread-default #GMainContext of the calling
 * thread at the time of this call, where pge_batch_next_finish() gets the
 * rows. Never blocks.
 */
void
pge_batch_next_async (PgeBatch           *batch,
                      GCancellable       *cancellable,
                      GAsyncReadyCallback callback,
                      gpointer            user_data)
{
  g_autoptr(PgeFuture) future = NULL;
  GTask *task;

  g_return_if_fail (batch != NULL);
  task = pge_async_task_new (pge_batch_next_async, "pge_batch_next_async",
                             cancellable, callback, user_data);
  if (task == NULL)
    return;
  future = pge_batch_fetch (batch);
  pge_async_follow_result (task, future);
}

/**
 * pge_batch_next_finish:
 * @batch: the #PgeBatch given to pge_batch_next_async()
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError
 *
 * Gets a chunk taken by pge_batch_next_async(): up to the batch size rows,
 * or %NULL without an error once the rows are exhausted. An error mid-scan
 * is returned here, as by pge_batch_next(); a cancelled #GCancellable
 * gives %G_IO_ERROR_CANCELLED. Never blocks.
 *
 * Returns: (transfer full) (nullable): the rows, or %NULL at the end or
 *   with @error set
 */
PgeResult *
pge_batch_next_finish (PgeBatch *batch, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (batch != NULL, NULL);
  g_return_val_if_fail (task_check (result, pge_batch_next_async), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

/* ---------------------------------------------------------------- atomic */

/**
 * pge_atomic_run_async:
 * @atomic: a #PgeAtomic
 * @cancellable: (nullable): cancels the run if it is still queued (nothing
 *   runs), or through libpq's cancel API if it runs (nothing is
 *   committed)
 * @callback: (scope async) (closure user_data): called with the outcome
 * @user_data: data for @callback
 *
 * GIO-style pge_atomic_run(): the queries run as one transaction (inside
 * the calling thread's current transaction, if it has one, like
 * pge_atomic_run()), and @callback runs in the thread-default
 * #GMainContext of the calling thread at the time of this call, where
 * pge_atomic_run_finish() gets the outcome. Never blocks.
 */
void
pge_atomic_run_async (PgeAtomic          *atomic,
                      GCancellable       *cancellable,
                      GAsyncReadyCallback callback,
                      gpointer            user_data)
{
  g_autoptr(PgeFuture) future = NULL;
  GTask *task;

  g_return_if_fail (atomic != NULL);
  task = pge_async_task_new (pge_atomic_run_async, "pge_atomic_run_async",
                             cancellable, callback, user_data);
  if (task == NULL)
    return;
  future = pge_atomic_run (atomic);
  follow_boolean (task, future);
}

/**
 * pge_atomic_run_finish:
 * @atomic: the #PgeAtomic given to pge_atomic_run_async()
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError
 *
 * On success every query ran and the work was committed (or, inside a
 * transaction, kept in it); pge_atomic_get_result() then gives each
 * query's result. On failure nothing was committed and the error says
 * which query (1-based) failed; a cancelled #GCancellable gives
 * %G_IO_ERROR_CANCELLED. Never blocks.
 *
 * Returns: %TRUE if every query ran and the work was committed
 */
gboolean
pge_atomic_run_finish (PgeAtomic *atomic, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (atomic != NULL, FALSE);
  g_return_val_if_fail (task_check (result, pge_atomic_run_async), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}
