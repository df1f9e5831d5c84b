/* engine.c — PgeEngine: lifecycle, nodes and stats.
 *
 * An engine owns one pool per node (the main node "primary" first, then
 * the extra nodes of pge_config_add_node()), starts each slot's worker
 * thread, and owns the registry of per-thread current transactions
 * (current.c) that transaction.c fills and submit.c consults. It sits
 * below transactions and routing: nothing here calls up.
 *
 * Threads: `pools` and `nodes` are fixed after pge_engine_new() and read
 * without locks; the registry has its own lock. `close_lock` serializes
 * the joining part of close.
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
#include "current-private.h"
#include "dispatch-private.h"
#include "notifier-private.h"
#include "routing-private.h"
#include "worker-private.h"

struct _PgeEngine {
  gatomicrefcount ref;
  PgeSettings *settings;     /* immutable */
  GPtrArray   *pools;        /* of PgePool*, [0] is the main node */
  GHashTable  *nodes;        /* name -> PgePool*, borrowed from pools */

  PgeCurrent  *current;      /* the per-thread current transactions */
  PgeCurrent  *sessions;     /* the per-thread current sessions */
  PgeNotifier *notifier;     /* nullable, guarded by close_lock: made by
                              * the first listener, shut down at close */
  PgeRouter   *router;       /* reads and the replica checker; set once started */

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
  g_clear_pointer (&engine->router, pge_router_free);
  g_clear_pointer (&engine->nodes, g_hash_table_unref);
  g_clear_pointer (&engine->pools, g_ptr_array_unref);
  g_clear_pointer (&engine->current, pge_current_free);
  g_clear_pointer (&engine->sessions, pge_current_free);
  g_clear_pointer (&engine->notifier, pge_notifier_unref);
  g_clear_pointer (&engine->settings, pge_settings_free);
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
  engine->current = pge_current_new ();
  engine->sessions = pge_current_new ();
  g_mutex_init (&engine->close_lock);
  return engine;
}

static void
engine_add_pool (PgeEngine *engine, const PgeNodeSettings *node)
{
  PgePool *pool = pge_pool_new (node, engine->settings);

  pool->owner = engine;

  g_ptr_array_add (engine->pools, pool);
  g_hash_table_insert (engine->nodes, pool->name, pool);
}

/* Starts every worker (they connect in parallel) and the janitor, then
 * waits for every first connection attempt. */
static gboolean
engine_start_pool (PgePool *pool, GError **error)
{
  for (guint i = 0; i < pool->slots->len; i++)
    pge_worker_start (pool->slots->pdata[i], NULL);
  pge_pool_start_janitor (pool);
  return pge_pool_wait_started (pool, error);
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
      result = pge_dispatch_run_sync (pge_engine_get_primary (engine), job, &local);
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
    {
      /* A replica that is down starts marked down (pool.c), not as an error. */
      if (!engine_start_pool (engine->pools->pdata[i], &local) && i > 0 &&
          ((PgeNodeSettings *) engine->settings->nodes->pdata[i - 1])->replica)
        g_clear_error (&local);
    }
  if (local == NULL)
    engine_create_extensions (engine, &local);
  if (local == NULL)
    engine->router = pge_router_new (engine->settings, engine->pools);
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
  if (engine->router != NULL)
    pge_router_close (engine->router);
  for (guint i = 0; i < engine->pools->len; i++)
    pge_pool_close (engine->pools->pdata[i]);
  if (pge_engine_is_worker_thread (engine))
    return;
  g_mutex_lock (&engine->close_lock);
  /* Its thread never runs callbacks: shutting it down cannot wait for
   * the calling thread. */
  if (engine->notifier != NULL)
    pge_notifier_shutdown (engine->notifier);
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
  for (guint i = 0; i < engine->pools->len; i++)
    if (pge_pool_is_own_thread (engine->pools->pdata[i]))
      return TRUE;
  return pge_router_is_own_thread (engine->router);
}

/* Blocking on the engine from one of its own threads (a worker, the
 * janitor, or a thread running a job directly: where NULL-context future
 * callbacks run) could mean waiting for that very thread: refused, with
 * PGE_ERROR_INVALID_ARGUMENT naming @what. */
gboolean
pge_engine_check_may_block (PgeEngine *engine, const char *what, GError **error)
{
  if (!pge_engine_is_worker_thread (engine))
    return TRUE;
  g_set_error (error, PGE_ERROR, PGE_ERROR_INVALID_ARGUMENT,
               "%s blocks, and cannot be called on one of the engine's own threads "
               "(from a NULL-context future callback): it could wait for itself", what);
  return FALSE;
}

PgePool *
pge_engine_get_primary (PgeEngine *engine)
{
  return engine->pools->pdata[0];
}

/* Borrowed; NULL for an unknown node. */
PgePool *
pge_engine_get_node (PgeEngine *engine, const char *name)
{
  return g_hash_table_lookup (engine->nodes, name);
}

/* Borrowed; NULL until the engine has started. */
PgeRouter *
pge_engine_get_router (PgeEngine *engine)
{
  return engine->router;
}

PgeCurrent *
pge_engine_get_current (PgeEngine *engine)
{
  return engine->current;
}

PgeCurrent *
pge_engine_get_sessions (PgeEngine *engine)
{
  return engine->sessions;
}

/* A new reference to the engine's notifier, made on first use; NULL with
 * PGE_ERROR_CLOSED once the engine is closed. */
PgeNotifier *
pge_engine_dup_notifier (PgeEngine *engine, GError **error)
{
  PgeNotifier *notifier = NULL;

  g_mutex_lock (&engine->close_lock);
  if (pge_engine_check_open (engine, error))
    {
      if (engine->notifier == NULL)
        engine->notifier = pge_notifier_new (engine->settings->primary.conninfo,
                                             MAX (engine->settings->acquire_timeout_ms, 1000));
      notifier = pge_notifier_ref (engine->notifier);
    }
  g_mutex_unlock (&engine->close_lock);
  return notifier;
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
  PgePool *primary;

  g_return_val_if_fail (engine != NULL, 0);
  primary = pge_engine_get_primary (engine);
  for (guint i = 0; i < primary->slots->len; i++)
    {
      int version = pge_connection_get_server_version (((PgeSlot *) primary->slots->pdata[i])->conn);

      if (version != 0)
        return version;
    }
  return 0;
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
    n += ((PgePool *) engine->pools->pdata[i])->n_slots;
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
  g_return_val_if_fail (pge_async_task_check (result, pge_engine_new_async), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}
