/* session.c — PgeSession: one pinned connection, outside any transaction.
 *
 * Shape: a session owns a lease (pool.c) of the main node, pinned by the
 * same PIN job as a transaction (so it waits its turn and obeys the
 * acquire timeout), and marked `reset`: when the lease is unpinned —
 * pge_session_end(), the last unref, or engine close — the holder rolls
 * back what is open and runs `DISCARD ALL` (dispatch.c and connection.c)
 * before the connection serves anyone else, and forgets its statement
 * cache, which DISCARD ALL deallocated. A reset that fails drops the
 * connection: it is never handed on dirty.
 *
 * Current session: pge_engine_session() makes the session current on the
 * calling thread (engine.c keeps a registry of per-thread stacks apart
 * from the transactions'); submit.c routes that thread's engine-level
 * calls into it when it has no current transaction, and transaction.c
 * begins that thread's transactions on the session's connection. Entries
 * are weak, hence the try_ref (pge_current_try_ref(), as in transaction.c).
 *
 * Threads: `ended` is atomic; the lease has its own lock (queue_lock).
 * No other state changes after creation.
 *
 * Lifetime: the last unref ends a session that was not ended (without
 * waiting on one of the engine's own threads), then drops the lease and
 * the engine.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "async-private.h"
#include "dispatch-private.h"
#include "engine-private.h"
#include "session-private.h"

struct _PgeSession {
  gint       ref;      /* atomic; see pge_current_try_ref() */
  PgeEngine *engine;   /* owned */
  PgeLease  *lease;    /* owned; immutable */
  gint       ended;    /* atomic */
};

/**
 * pge_session_get_type:
 *
 * Returns: the boxed #GType of #PgeSession
 *
 * Since: 1.0
 */
G_DEFINE_BOXED_TYPE (PgeSession, pge_session, pge_session_ref, pge_session_unref)

static gpointer
session_try_ref (gpointer data)
{
  PgeSession *session = data;

  return pge_current_try_ref (&session->ref) ? session : NULL;
}

PgeSession *
pge_session_dup_current (PgeEngine *engine)
{
  PgeSession *session = pge_current_dup (pge_engine_get_session_registry (engine), session_try_ref);

  /* One that ended on another thread is about to leave the stack. */
  if (session != NULL && g_atomic_int_get (&session->ended))
    g_clear_pointer (&session, pge_session_unref);
  return session;
}

PgeLease *
pge_session_get_lease (PgeSession *session)
{
  return g_atomic_int_get (&session->ended) ? NULL : session->lease;
}

/* TRANSACTION_STATE, not a code of its own: a session is a pinned
 * connection like a transaction's, and "used after its end" is one
 * condition callers match for both (pge-error.h's error policy). */
static GError *
session_ended_error (void)
{
  return g_error_new_literal (PGE_ERROR, PGE_ERROR_TRANSACTION_STATE, "the session has ended");
}

/* Queues @job; with @taken, a free connection may come back to run it
 * on this thread. */
static void
session_enqueue (PgeSession *session, PgeJob *job, PgeSlot **taken)
{
  if (g_atomic_int_get (&session->ended))
    {
      pge_job_finish (job, NULL, session_ended_error ());
      return;
    }
  if (taken != NULL)
    *taken = pge_dispatch_lease_submit_or_take (session->lease, job);
  else
    pge_dispatch_lease_submit (session->lease, job, FALSE);
}

void
pge_session_submit (PgeSession *session, PgeJob *job)
{
  session_enqueue (session, job, NULL);
}

PgeResult *
pge_session_run_sync (PgeSession *session, PgeJob *job, GError **error)
{
  PgeSlot *slot = NULL;

  session_enqueue (session, job, &slot);
  if (slot != NULL)
    pge_dispatch_run_taken (slot, job);
  return pge_job_wait (job, FALSE, error);
}

/* Pins a connection for a new session; with @make_current, it becomes
 * the calling thread's current session (not for the _async call). */
static PgeSession *
session_begin (PgeEngine *engine, gboolean make_current, GError **error)
{
  g_autoptr(PgeLease) lease = NULL;
  PgeSession *session;

  if (!pge_engine_check_open (engine, error) ||
      !pge_engine_check_may_block (engine, "pge_engine_session()", error))
    return NULL;
  if (make_current && pge_current_any (pge_engine_get_transaction_registry (engine)))
    {
      g_set_error_literal (error, PGE_ERROR, PGE_ERROR_NESTED,
                           "this thread has a transaction open on this engine: "
                           "begin the session first, then the transaction inside it");
      return NULL;
    }
  lease = pge_lease_new (pge_engine_get_primary (engine));
  pge_lease_set_reset (lease);
  if (!pge_dispatch_pin_sync (lease, error))
    {
      pge_dispatch_lease_end (lease, TRUE);
      return NULL;
    }
  session = g_new0 (PgeSession, 1);
  session->ref = 1;
  session->engine = pge_engine_ref (engine);
  session->lease = g_steal_pointer (&lease);
  if (make_current)
    pge_current_push (pge_engine_get_session_registry (engine), session);
  return session;
}

/**
 * pge_engine_session:
 * @engine: a #PgeEngine
 * @error: return location for a #GError
 *
 * Takes one connection of the main node for the caller alone, outside
 * any transaction, until pge_session_end() (or the last unref): what a
 * connection remembers between statements — temp tables, `SET`,
 * advisory locks, `PREPARE`, `LISTEN` — is kept from one statement of
 * the session to the next. Before the connection serves anyone else it
 * is rolled back and reset with `DISCARD ALL`.
 *
 * The session becomes the calling thread's current session on @engine:
 * until it ends, engine-level calls from this thread (pge_engine_query()
 * and the rest) run on its connection, and pge_engine_transaction()
 * begins its transaction there. Other threads are not affected.
 *
 * Blocks until a connection is free, at most the configured acquire
 * timeout. Thread-safe, but refused on one of @engine's own threads.
 *
 * Returns: (transfer full) (nullable): the session, or %NULL with @error
 *   set: %PGE_ERROR_NESTED when the calling thread has a transaction open
 *   on @engine (a session inside it could not see its work),
 *   %PGE_ERROR_CLOSED, %PGE_ERROR_TIMEOUT, %PGE_ERROR_WOULD_DEADLOCK on
 *   one of the engine's own threads
 *
 * Since: 1.0
 */
PgeSession *
pge_engine_session (PgeEngine *engine, GError **error)
{
  g_return_val_if_fail (PGE_IS_ENGINE (engine), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);
  return session_begin (engine, TRUE, error);
}

/* An asynchronous session is one PIN job (a queued lease request, no
 * thread waits for the worker) completing in the caller's context. */
typedef struct {
  PgeEngine *engine;   /* owned */
  PgeLease  *lease;    /* owned until handed to the session */
} SessionCall;

static void
session_call_free (gpointer data)
{
  SessionCall *call = data;

  /* Pinned but never handed over (cancelled, failed): the worker resets
   * the connection and returns it to the pool. */
  if (call->lease != NULL)
    pge_lease_release (call->lease, FALSE);
  g_clear_pointer (&call->lease, pge_lease_unref);
  pge_engine_unref (call->engine);
  g_free (call);
}

static void
session_async_pinned (GTask *task)
{
  SessionCall *call = g_task_get_task_data (task);
  PgeSession *session;

  session = g_new0 (PgeSession, 1);
  session->ref = 1;
  session->engine = pge_engine_ref (call->engine);
  session->lease = g_steal_pointer (&call->lease);
  g_task_return_pointer (task, session, (GDestroyNotify) pge_session_unref);
}

/**
 * pge_engine_session_async:
 * @engine: a #PgeEngine
 * @cancellable: (nullable): a session taken after the cancel is ended
 *   at once
 * @callback: (scope async) (closure user_data): called with the outcome
 * @user_data: data for @callback
 *
 * Takes a session without blocking and without any helper thread: a
 * request for a connection is queued like any job (it waits its turn, at
 * most the acquire timeout), and @callback runs in the thread-default
 * #GMainContext of the calling thread at the time of this call, where
 * pge_engine_session_finish() gets the session.
 *
 * Unlike pge_engine_session(), the session is never made the current
 * session of any thread: a main loop interleaves unrelated work, which
 * must not be routed into it. Use the calls on the session itself
 * (pge_session_query() gives a future). Never blocks.
 *
 * Since: 1.0
 */
void
pge_engine_session_async (PgeEngine          *engine,
                          GCancellable       *cancellable,
                          GAsyncReadyCallback callback,
                          gpointer            user_data)
{
  GError *error = NULL;
  SessionCall *call;
  GTask *task;

  g_return_if_fail (PGE_IS_ENGINE (engine));
  task = pge_async_task_new (engine, pge_engine_session_async, "pge_engine_session_async",
                             cancellable, callback, user_data);
  if (task == NULL)
    return;
  if (!pge_engine_check_open (engine, &error))
    {
      g_task_return_error (task, error);
      g_object_unref (task);
      return;
    }
  call = g_new0 (SessionCall, 1);
  call->engine = pge_engine_ref (engine);
  call->lease = pge_lease_new (pge_engine_get_primary (engine));
  pge_lease_set_reset (call->lease);
  g_task_set_task_data (task, call, session_call_free);
  pge_async_pin_then (task, pge_engine_get_primary (engine), call->lease, session_async_pinned);
  g_object_unref (task);
}

/**
 * pge_engine_session_finish:
 * @engine: the #PgeEngine given to pge_engine_session_async()
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError
 *
 * Gets the session taken by pge_engine_session_async(): errors as for
 * pge_engine_session() (but never %PGE_ERROR_NESTED), or
 * %G_IO_ERROR_CANCELLED. Never blocks.
 *
 * Returns: (transfer full) (nullable): the session, or %NULL with @error
 *   set
 *
 * Since: 1.0
 */
PgeSession *
pge_engine_session_finish (PgeEngine *engine, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (PGE_IS_ENGINE (engine), NULL);
  g_return_val_if_fail (pge_async_task_check (result, engine, pge_engine_session_async), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

/**
 * pge_engine_get_current_session:
 * @engine: a #PgeEngine
 *
 * The calling thread's current session on @engine: the last one it began
 * with pge_engine_session() that has not ended. Never blocks;
 * thread-safe (each thread sees its own).
 *
 * Returns: (transfer none) (nullable): the session, or %NULL; valid as
 *   long as the caller holds a reference to it
 *
 * Since: 1.0
 */
PgeSession *
pge_engine_get_current_session (PgeEngine *engine)
{
  PgeSession *session;

  g_return_val_if_fail (PGE_IS_ENGINE (engine), NULL);
  session = pge_session_dup_current (engine);
  if (session == NULL)
    return NULL;
  /* The caller's own reference keeps it alive; if another thread just
   * dropped the last one, there is no session to return. */
  if (g_atomic_int_dec_and_test (&session->ref))
    {
      g_atomic_int_inc (&session->ref);
      pge_session_unref (session);
      return NULL;
    }
  return session;
}

/**
 * pge_session_ref:
 * @session: a #PgeSession
 *
 * Thread-safe.
 *
 * Returns: (transfer full): @session
 *
 * Since: 1.0
 */
PgeSession *
pge_session_ref (PgeSession *session)
{
  g_return_val_if_fail (session != NULL, NULL);
  g_return_val_if_fail (g_atomic_int_get (&session->ref) > 0, NULL);
  g_atomic_int_inc (&session->ref);
  return session;
}

/* Ends the session once: it leaves the current stacks and its lease is
 * released (the holder resets the connection before unpinning). FALSE if
 * it had already ended. */
static gboolean
session_finish (PgeSession *session, gboolean wait)
{
  if (!g_atomic_int_compare_and_exchange (&session->ended, FALSE, TRUE))
    return FALSE;
  pge_current_remove (pge_engine_get_session_registry (session->engine), session);
  pge_dispatch_lease_end (session->lease, wait);
  return TRUE;
}

/**
 * pge_session_unref:
 * @session: (transfer full): a #PgeSession
 *
 * Drops a reference. The last one ends a session that was not ended, as
 * pge_session_end() does (without waiting on one of the engine's own
 * threads). Thread-safe.
 *
 * Since: 1.0
 */
void
pge_session_unref (PgeSession *session)
{
  g_return_if_fail (session != NULL);
  if (!g_atomic_int_dec_and_test (&session->ref))
    return;
  session_finish (session, !pge_engine_is_worker_thread (session->engine));
  pge_lease_unref (session->lease);
  pge_engine_unref (session->engine);
  g_free (session);
}

/**
 * pge_session_get_engine:
 * @session: a #PgeSession
 *
 * Never blocks; thread-safe.
 *
 * Returns: (transfer none): the engine @session belongs to
 *
 * Since: 1.0
 */
PgeEngine *
pge_session_get_engine (PgeSession *session)
{
  g_return_val_if_fail (session != NULL, NULL);
  return session->engine;
}

/**
 * pge_session_is_ended:
 * @session: a #PgeSession
 *
 * Never blocks; thread-safe.
 *
 * Returns: %TRUE once pge_session_end() was called (or the engine closed
 *   under it: then its statements fail with %PGE_ERROR_CLOSED)
 *
 * Since: 1.0
 */
gboolean
pge_session_is_ended (PgeSession *session)
{
  g_return_val_if_fail (session != NULL, TRUE);
  /* Close unpins every lease without going through the session. */
  return g_atomic_int_get (&session->ended) || pge_engine_is_closed (session->engine);
}

/**
 * pge_session_query:
 * @session: a #PgeSession
 * @sql: one SQL statement, with `$1`, `$2` ... placeholders
 * @params: (nullable): the parameters, copied before this returns
 *
 * Queues @sql on the session's connection, after what was queued before
 * it, and returns at once. Errors show on the future:
 * %PGE_ERROR_INVALID_ARGUMENT for a %NULL @sql,
 * %PGE_ERROR_TRANSACTION_STATE once the session has ended,
 * %PGE_ERROR_CONNECTION once its connection was lost (what the session
 * held is gone with it: end it and begin another). Thread-safe; never
 * blocks.
 *
 * Returns: (transfer full): a future for the result
 *
 * Since: 1.0
 */
PgeFuture *
pge_session_query (PgeSession *session, const char *sql, PgeParams *params)
{
  g_autoptr(PgeJob) job = NULL;

  g_return_val_if_fail (session != NULL, NULL);
  if (sql == NULL)
    return pge_future_new_invalid ("the SQL is NULL");
  job = pge_job_new_query (sql, params);
  session_enqueue (session, job, NULL);
  return pge_future_ref (job->future);
}

/**
 * pge_session_query_sync:
 * @session: a #PgeSession
 * @sql: one SQL statement, with `$1`, `$2` ... placeholders
 * @params: (nullable): the parameters, read while the call runs
 * @error: return location for a #GError
 *
 * pge_session_query() and pge_future_wait() in one call; the statement
 * runs on this thread when the session's connection is free. Blocks.
 * Thread-safe, but refused (%PGE_ERROR_WOULD_DEADLOCK) on one of the
 * engine's own threads.
 *
 * Returns: (transfer full) (nullable): the result, or %NULL with @error
 *   set (see pge_session_query())
 *
 * Since: 1.0
 */
PgeResult *
pge_session_query_sync (PgeSession *session, const char *sql, PgeParams *params, GError **error)
{
  g_autoptr(PgeJob) job = NULL;

  g_return_val_if_fail (session != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);
  if (sql == NULL)
    {
      g_set_error_literal (error, PGE_ERROR, PGE_ERROR_INVALID_ARGUMENT, "the SQL is NULL");
      return NULL;
    }
  if (!pge_engine_check_may_block (session->engine, "pge_session_query_sync()", error))
    return NULL;
  job = pge_job_new_query_borrowed (sql, params);
  return pge_session_run_sync (session, job, error);
}

/**
 * pge_session_exec_sync:
 * @session: a #PgeSession
 * @script: one or more statements separated by `;` (simple protocol, no
 *   parameters)
 * @error: return location for a #GError
 *
 * Runs @script on the session's connection and blocks until it is done.
 * A %NULL @script is %PGE_ERROR_INVALID_ARGUMENT. Thread-safe, but
 * refused (%PGE_ERROR_WOULD_DEADLOCK) on one of the engine's own threads.
 *
 * Returns: %TRUE on success
 *
 * Since: 1.0
 */
gboolean
pge_session_exec_sync (PgeSession *session, const char *script, GError **error)
{
  g_autoptr(PgeJob) job = NULL;
  g_autoptr(PgeResult) result = NULL;
  GError *local = NULL;

  g_return_val_if_fail (session != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);
  if (script == NULL)
    {
      g_set_error_literal (error, PGE_ERROR, PGE_ERROR_INVALID_ARGUMENT, "the script is NULL");
      return FALSE;
    }
  if (!pge_engine_check_may_block (session->engine, "pge_session_exec_sync()", error))
    return FALSE;
  job = pge_job_new_exec (script);
  result = pge_session_run_sync (session, job, &local);
  if (local != NULL)
    {
      g_propagate_error (error, local);
      return FALSE;
    }
  return TRUE;
}

/**
 * pge_session_end:
 * @session: a #PgeSession
 * @error: return location for a #GError
 *
 * Ends @session: once the statements queued in it are done, its
 * connection rolls back what is open, is reset with `DISCARD ALL` (temp
 * tables dropped, settings back to their defaults, advisory locks and
 * prepared statements released, `UNLISTEN *`) and goes back to the pool.
 * Blocks until it is back, except on one of the engine's own threads.
 * The caller still owns its reference. Thread-safe.
 *
 * Returns: %TRUE, or %FALSE with %PGE_ERROR_TRANSACTION_STATE when
 *   @session had already ended
 *
 * Since: 1.0
 */
gboolean
pge_session_end (PgeSession *session, GError **error)
{
  g_return_val_if_fail (session != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);
  if (session_finish (session, !pge_engine_is_worker_thread (session->engine)))
    return TRUE;
  g_propagate_error (error, session_ended_error ());
  return FALSE;
}
