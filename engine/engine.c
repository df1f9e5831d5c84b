/* engine.c — PgeEngine: the nodes, their pools, and where work goes.
 *
 * An engine owns one pool per node (the main node "primary" first, then
 * the extra nodes of pge_config_add_node()). Routing: a thread that has a
 * current transaction on this engine sends its engine-level calls into
 * that transaction; everything else goes to the main node's queue;
 * pge_engine_query_on_node() goes to the named node.
 *
 * Threads: `pools` and `nodes` are fixed after pge_engine_new() and read
 * without locks. `current_lock` guards `current` (GThread* -> stack of
 * weak PgeTransaction*), the per-engine thread-local slots; `n_current`
 * counts its entries atomically so the common no-transaction case takes no
 * lock. `close_lock` serializes the joining part of close.
 *
 * Lifetime: the last unref closes the engine (queued jobs fail with
 * PGE_ERROR_CLOSED, running ones end, pinned workers roll back, threads
 * are joined), then frees it. Close from a worker thread of the engine
 * itself (a callback) cannot join that thread, so it only starts the close
 * and leaves the joining to a later close, or to a short-lived thread when
 * it was the last unref.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "async-private.h"
#include "config-private.h"
#include "engine-private.h"
#include "errors-private.h"
#include "result-private.h"
#include "transaction-private.h"
#include "worker-private.h"

struct _PgeEngine {
  gatomicrefcount ref;
  PgeSettings *settings;     /* immutable */
  GPtrArray   *pools;        /* of PgePool*, [0] is the main node */
  GHashTable  *nodes;        /* name -> PgePool*, borrowed from pools */

  GMutex       current_lock;
  GHashTable  *current;      /* GThread* -> GPtrArray* of weak PgeTransaction* */
  gint         n_current;    /* atomic: entries over all stacks */

  GMutex       close_lock;
  gboolean     closed;       /* atomic */
  gboolean     joined;       /* guarded by close_lock */
};

/**
 * PgeEngine:
 *
 * A pool of worker threads, each owning one libpq connection, per node.
 *
 * Callers submit jobs and get #PgeFuture handles. Thread-safe; the last
 * unref closes it.
 */
/**
 * pge_engine_get_type:
 *
 * Returns: the boxed #GType of #PgeEngine
 */
G_DEFINE_BOXED_TYPE (PgeEngine, pge_engine, pge_engine_ref, pge_engine_unref)

static void
engine_free (PgeEngine *engine)
{
  g_clear_pointer (&engine->nodes, g_hash_table_unref);
  g_clear_pointer (&engine->pools, g_ptr_array_unref);
  g_clear_pointer (&engine->current, g_hash_table_unref);
  g_clear_pointer (&engine->settings, pge_settings_free);
  g_mutex_clear (&engine->current_lock);
  g_mutex_clear (&engine->close_lock);
  g_free (engine);
}

static PgeEngine *
engine_alloc (PgeSettings *settings)
{
  PgeEngine *engine = g_new0 (PgeEngine, 1);

  g_atomic_ref_count_init (&engine->ref);
  engine->settings = settings;
  engine->pools = g_ptr_array_new_with_free_func ((GDestroyNotify) pge_pool_unref);
  engine->nodes = g_hash_table_new (g_str_hash, g_str_equal);
  engine->current = g_hash_table_new_full (NULL, NULL, NULL, (GDestroyNotify) g_ptr_array_unref);
  g_mutex_init (&engine->current_lock);
  g_mutex_init (&engine->close_lock);
  return engine;
}

static void
engine_add_pool (PgeEngine *engine, const PgeNodeSettings *node)
{
  PgePool *pool = pge_pool_new (node, engine->settings);

  g_ptr_array_add (engine->pools, pool);
  g_hash_table_insert (engine->nodes, pool->name, pool);
}

static gboolean
engine_create_extensions (PgeEngine *engine, GError **error)
{
  for (guint i = 0; i < engine->settings->extensions->len; i++)
    {
      const char *name = engine->settings->extensions->pdata[i];
      g_autofree char *quoted = NULL;
      g_autofree char *sql = NULL;
      g_autoptr(PgeJob) job = NULL;
      g_autoptr(PgeFuture) future = NULL;
      g_autoptr(PgeResult) result = NULL;
      GError *local = NULL;

      /* Same quoting as PQescapeIdentifier, without needing a connection. */
      {
        g_auto(GStrv) parts = g_strsplit (name, "\"", -1);
        g_autofree char *doubled = g_strjoinv ("\"\"", parts);
        quoted = g_strdup_printf ("\"%s\"", doubled);
      }
      sql = g_strdup_printf ("CREATE EXTENSION IF NOT EXISTS %s", quoted);
      job = pge_job_new_exec (sql);
      pge_pool_submit (pge_engine_get_primary (engine), job);
      future = pge_future_ref (job->future);
      result = pge_future_wait (future, &local);
      if (local != NULL)
        {
          g_propagate_prefixed_error (error, local, "extension \"%s\": ", name);
          return FALSE;
        }
    }
  return TRUE;
}

/**
 * pge_engine_new:
 * @config: a #PgeConfig; its settings are copied
 * @error: return location for a #GError
 *
 * Starts the workers of every node and connects each, in parallel; then
 * creates the configured extensions. Blocks until all are connected or one
 * has failed: then fails fast with %PGE_ERROR_CONNECTION and the server's
 * message (never the password), leaving nothing running. A bad setting
 * (0 workers, a malformed connection string, a repeated node name) is
 * %PGE_ERROR_INVALID_ARGUMENT. May be called from any thread.
 *
 * Returns: (transfer full) (nullable): the engine, or %NULL with @error set
 */
PgeEngine *
pge_engine_new (PgeConfig *config, GError **error)
{
  g_autoptr(PgeSettings) settings = NULL;
  PgeEngine *engine;
  GError *local = NULL;

  g_return_val_if_fail (error == NULL || *error == NULL, NULL);
  if (config == NULL)
    {
      g_set_error_literal (error, PGE_ERROR, PGE_ERROR_INVALID_ARGUMENT, "config is NULL");
      return NULL;
    }
  /* Registered here, before any worker exists, so no two threads race to
   * do it first (and ThreadSanitizer sees why). */
  g_type_ensure (pge_engine_get_type ());
  g_type_ensure (pge_future_get_type ());
  g_type_ensure (pge_result_get_type ());
  (void) pge_error_quark ();
  settings = pge_config_snapshot (config);
  if (!pge_settings_validate (settings, error))
    return NULL;

  engine = engine_alloc (g_steal_pointer (&settings));
  engine_add_pool (engine, &engine->settings->primary);
  for (guint i = 0; i < engine->settings->nodes->len; i++)
    engine_add_pool (engine, engine->settings->nodes->pdata[i]);

  for (guint i = 0; i < engine->pools->len && local == NULL; i++)
    pge_pool_start (engine->pools->pdata[i], &local);
  if (local == NULL)
    engine_create_extensions (engine, &local);
  if (local != NULL)
    {
      g_propagate_error (error, local);
      pge_engine_unref (engine);
      return NULL;
    }
  return engine;
}

/**
 * pge_engine_ref:
 * @engine: a #PgeEngine
 *
 * Thread-safe.
 *
 * Returns: (transfer full): @engine
 */
PgeEngine *
pge_engine_ref (PgeEngine *engine)
{
  g_return_val_if_fail (engine != NULL, NULL);
  g_atomic_ref_count_inc (&engine->ref);
  return engine;
}

static gpointer
engine_finalize_thread (gpointer data)
{
  PgeEngine *engine = data;

  pge_engine_close (engine);
  engine_free (engine);
  return NULL;
}

/**
 * pge_engine_unref:
 * @engine: (transfer full): a #PgeEngine
 *
 * Drops a reference. The last one closes the engine (see
 * pge_engine_close(), so it blocks like it) and frees it. Transactions and
 * batches hold a reference; futures do not, so dropping the engine with
 * jobs still queued fails them with %PGE_ERROR_CLOSED. Thread-safe.
 */
void
pge_engine_unref (PgeEngine *engine)
{
  g_return_if_fail (engine != NULL);
  if (!g_atomic_ref_count_dec (&engine->ref))
    return;
  if (pge_engine_is_worker_thread (engine))
    {
      /* This thread is one the close must join: let another one do it. */
      for (guint i = 0; i < engine->pools->len; i++)
        pge_pool_close (engine->pools->pdata[i]);
      g_thread_unref (g_thread_new ("pge-finalize", engine_finalize_thread, engine));
      return;
    }
  engine_finalize_thread (engine);
}

/**
 * pge_engine_close:
 * @engine: a #PgeEngine
 *
 * Stops the engine. Idempotent. New work fails with %PGE_ERROR_CLOSED;
 * queued jobs resolve with %PGE_ERROR_CLOSED without running; running jobs
 * end (queries still running 5 s later are cancelled, so close never hangs
 * on a long statement); open transactions and batches are rolled back;
 * every thread is joined. Blocks until then, except on one of the
 * engine's own worker threads (a callback), where it starts the close and
 * returns. Thread-safe.
 */
void
pge_engine_close (PgeEngine *engine)
{
  g_return_if_fail (engine != NULL);
  g_atomic_int_set (&engine->closed, TRUE);
  for (guint i = 0; i < engine->pools->len; i++)
    pge_pool_close (engine->pools->pdata[i]);
  if (pge_engine_is_worker_thread (engine))
    return;
  g_mutex_lock (&engine->close_lock);
  if (!engine->joined)
    {
      for (guint i = 0; i < engine->pools->len; i++)
        pge_pool_join (engine->pools->pdata[i]);
      engine->joined = TRUE;
    }
  g_mutex_unlock (&engine->close_lock);
}

/**
 * pge_engine_is_closed:
 * @engine: a #PgeEngine
 *
 * Never blocks; thread-safe.
 *
 * Returns: %TRUE once pge_engine_close() has been called
 */
gboolean
pge_engine_is_closed (PgeEngine *engine)
{
  g_return_val_if_fail (engine != NULL, TRUE);
  return g_atomic_int_get (&engine->closed);
}

gboolean
pge_engine_check_open (PgeEngine *engine, GError **error)
{
  if (!g_atomic_int_get (&engine->closed))
    return TRUE;
  g_set_error_literal (error, PGE_ERROR, PGE_ERROR_CLOSED, "the engine is closed");
  return FALSE;
}

/* Worker and janitor threads both resolve futures, so both run
 * NULL-context callbacks; neither may block on, or join, its own engine. */
gboolean
pge_engine_is_worker_thread (PgeEngine *engine)
{
  PgeWorker *worker = pge_worker_get_current ();
  PgePool *own = worker != NULL ? worker->pool : pge_pool_get_current_janitor ();

  if (own == NULL)
    return FALSE;
  for (guint i = 0; i < engine->pools->len; i++)
    if (own == engine->pools->pdata[i])
      return TRUE;
  return FALSE;
}

PgePool *
pge_engine_get_primary (PgeEngine *engine)
{
  return engine->pools->pdata[0];
}

/**
 * pge_engine_get_server_version:
 * @engine: a #PgeEngine
 *
 * Never blocks; thread-safe.
 *
 * Returns: the main node's server version as libpq reports it, e.g.
 *   150004 for 15.4
 */
int
pge_engine_get_server_version (PgeEngine *engine)
{
  g_return_val_if_fail (engine != NULL, 0);
  return g_atomic_int_get (&pge_engine_get_primary (engine)->server_version);
}

/**
 * pge_engine_get_n_workers:
 * @engine: a #PgeEngine
 *
 * Never blocks; thread-safe.
 *
 * Returns: the number of worker threads (one connection each) over all
 *   nodes
 */
guint
pge_engine_get_n_workers (PgeEngine *engine)
{
  guint n = 0;

  g_return_val_if_fail (engine != NULL, 0);
  for (guint i = 0; i < engine->pools->len; i++)
    n += ((PgePool *) engine->pools->pdata[i])->n_workers;
  return n;
}

/**
 * pge_engine_get_stats:
 * @engine: a #PgeEngine
 * @stats: (out caller-allocates): filled with a snapshot of the counters,
 *   summed over all nodes
 *
 * Never blocks for long; thread-safe.
 */
void
pge_engine_get_stats (PgeEngine *engine, PgeStats *stats)
{
  g_return_if_fail (engine != NULL);
  g_return_if_fail (stats != NULL);
  *stats = (PgeStats) { 0 };
  for (guint i = 0; i < engine->pools->len; i++)
    pge_pool_add_stats (engine->pools->pdata[i], stats);
}

/* --------------------------------------------------------- current slots */

PgeTransaction *
pge_engine_dup_current (PgeEngine *engine)
{
  PgeTransaction *tx = NULL;
  GPtrArray *stack;

  if (g_atomic_int_get (&engine->n_current) == 0)
    return NULL;
  g_mutex_lock (&engine->current_lock);
  stack = g_hash_table_lookup (engine->current, g_thread_self ());
  if (stack != NULL && stack->len > 0)
    tx = pge_transaction_try_ref (stack->pdata[stack->len - 1]);
  g_mutex_unlock (&engine->current_lock);
  return tx;
}

void
pge_engine_push_current (PgeEngine *engine, PgeTransaction *tx)
{
  GThread *self = g_thread_self ();
  GPtrArray *stack;

  g_mutex_lock (&engine->current_lock);
  stack = g_hash_table_lookup (engine->current, self);
  if (stack == NULL)
    {
      stack = g_ptr_array_new ();
      g_hash_table_insert (engine->current, self, stack);
    }
  g_ptr_array_add (stack, tx);
  g_atomic_int_inc (&engine->n_current);
  g_mutex_unlock (&engine->current_lock);
}

/* Removes @tx from whichever thread's stack holds it: a transaction may be
 * ended, or freed, on another thread than the one it is current on. */
void
pge_engine_remove_current (PgeEngine *engine, PgeTransaction *tx)
{
  GHashTableIter iter;
  gpointer key, value;

  g_mutex_lock (&engine->current_lock);
  g_hash_table_iter_init (&iter, engine->current);
  while (g_hash_table_iter_next (&iter, &key, &value))
    {
      GPtrArray *stack = value;

      if (g_ptr_array_remove (stack, tx))
        {
          g_atomic_int_add (&engine->n_current, -1);
          if (stack->len == 0)
            g_hash_table_iter_remove (&iter);
          break;
        }
    }
  g_mutex_unlock (&engine->current_lock);
}

/* ------------------------------------------------------------- queries */

PgeFuture *
pge_engine_submit (PgeEngine *engine, PgeJob *job)
{
  g_autoptr(PgeTransaction) tx = pge_engine_dup_current (engine);

  if (tx != NULL)
    pge_transaction_submit (tx, job);
  else
    pge_pool_submit (pge_engine_get_primary (engine), job);
  return pge_future_ref (job->future);
}

static PgeFuture *
invalid_future (const char *message)
{
  return pge_future_new_error (g_error_new_literal (PGE_ERROR, PGE_ERROR_INVALID_ARGUMENT, message));
}

/**
 * pge_engine_query:
 * @engine: a #PgeEngine
 * @sql: one SQL statement, with `$1`, `$2` ... placeholders
 * @params: (nullable): the parameters, copied before this returns
 *
 * Queues @sql (extended protocol) and returns at once. On a thread that
 * has a current transaction on @engine, the statement runs inside it, on
 * its worker, after the statements queued before it. Errors show on the
 * future: %PGE_ERROR_INVALID_ARGUMENT for a %NULL or empty @sql,
 * %PGE_ERROR_QUERY with the SQLSTATE for a server error, and so on.
 * Thread-safe; never blocks.
 *
 * Returns: (transfer full): a future for the result
 */
PgeFuture *
pge_engine_query (PgeEngine *engine, const char *sql, PgeParams *params)
{
  g_autoptr(PgeJob) job = NULL;

  g_return_val_if_fail (engine != NULL, NULL);
  if (sql == NULL)
    return invalid_future ("the SQL is NULL");
  job = pge_job_new_query (sql, params);
  return pge_engine_submit (engine, job);
}

/**
 * pge_engine_query_sync:
 * @engine: a #PgeEngine
 * @sql: one SQL statement, with `$1`, `$2` ... placeholders
 * @params: (nullable): the parameters
 * @error: return location for a #GError
 *
 * pge_engine_query() and pge_future_wait() in one call: blocks until the
 * result is in. Thread-safe; do not call it from a %NULL-context future
 * callback on one of @engine's workers.
 *
 * Returns: (transfer full) (nullable): the result, or %NULL with @error set
 */
PgeResult *
pge_engine_query_sync (PgeEngine *engine, const char *sql, PgeParams *params, GError **error)
{
  g_autoptr(PgeFuture) future = NULL;

  g_return_val_if_fail (engine != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);
  future = pge_engine_query (engine, sql, params);
  return pge_future_wait (future, error);
}

/**
 * pge_engine_query_on_node:
 * @engine: a #PgeEngine
 * @node: a node name from pge_config_add_node(), or "primary"
 * @sql: one SQL statement
 * @params: (nullable): the parameters
 *
 * Queues @sql on the named node's workers, never inside the calling
 * thread's transaction (another node is another server). An unknown or
 * %NULL node fails the future with %PGE_ERROR_INVALID_ARGUMENT.
 * Thread-safe; never blocks.
 *
 * Returns: (transfer full): a future for the result
 */
PgeFuture *
pge_engine_query_on_node (PgeEngine *engine, const char *node, const char *sql, PgeParams *params)
{
  g_autoptr(PgeJob) job = NULL;
  PgePool *pool;

  g_return_val_if_fail (engine != NULL, NULL);
  if (node == NULL)
    return invalid_future ("the node name is NULL");
  pool = g_hash_table_lookup (engine->nodes, node);
  if (pool == NULL)
    return pge_future_new_error (g_error_new (PGE_ERROR, PGE_ERROR_INVALID_ARGUMENT,
                                              "no node is called \"%s\"", node));
  if (sql == NULL)
    return invalid_future ("the SQL is NULL");
  job = pge_job_new_query (sql, params);
  pge_pool_submit (pool, job);
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
 * Inside the thread's current transaction, it runs there. Thread-safe.
 *
 * Returns: %TRUE on success
 */
gboolean
pge_engine_exec_sync (PgeEngine *engine, const char *script, GError **error)
{
  g_autoptr(PgeJob) job = NULL;
  g_autoptr(PgeFuture) future = NULL;
  g_autoptr(PgeResult) result = NULL;
  GError *local = NULL;

  g_return_val_if_fail (engine != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);
  if (script == NULL)
    {
      g_set_error_literal (error, PGE_ERROR, PGE_ERROR_INVALID_ARGUMENT, "the script is NULL");
      return FALSE;
    }
  job = pge_job_new_exec (script);
  future = pge_engine_submit (engine, job);
  result = pge_future_wait (future, &local);
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
user_call_run (PgeJob *job, PGconn *conn, gpointer data, GError **error)
{
  UserCall *call = data;
  GError *local = NULL;
  PGresult *res = call->func (conn, call->user_data, &local);

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
      g_propagate_error (error, pge_worker_error_from_result (job, conn, res));
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
 * Runs @func on a worker thread with that worker's idle connection, for
 * what queries cannot do (COPY, LISTEN, large objects ...). The PGresult
 * it returns becomes the future's result (an error result becomes a
 * %PGE_ERROR_QUERY error); %NULL gives no result. @func must leave the
 * connection idle and must not close it; a connection left mid-protocol is
 * replaced, one left inside a transaction is rolled back (unless this runs
 * inside the thread's current transaction, where it runs on its worker).
 * pge_future_cancel() sends a cancel request to whatever @func is running.
 * Thread-safe; never blocks.
 *
 * Returns: (transfer full): a future for the result
 */
PgeFuture *
pge_engine_run_in_worker (PgeEngine *engine, PgeWorkerFunc func, gpointer user_data, GDestroyNotify notify)
{
  g_autoptr(PgeJob) job = NULL;
  UserCall *call;

  g_return_val_if_fail (engine != NULL, NULL);
  if (func == NULL)
    {
      if (notify != NULL)
        notify (user_data);
      return invalid_future ("the worker function is NULL");
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

  g_return_if_fail (engine != NULL);
  /* The task and its cancellation live in async.c, with the other pairs. */
  task = pge_async_task_new (pge_engine_query_async, "pge_engine_query_async",
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
 */
PgeResult *
pge_engine_query_finish (PgeEngine *engine, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (engine != NULL, NULL);
  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == pge_engine_query_async, NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}
