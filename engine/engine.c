/* engine.c — PgeEngine: lifecycle and nodes (its stats and metrics: metrics.c).
 *
 * An engine owns one pool per node (the main node "primary" first, then
 * the extra nodes of pge_config_add_node()), starts each slot's worker
 * thread, and owns the two registries (current.c) of per-thread current
 * transactions and sessions that transaction.c and session.c fill and
 * submit.c consults. It sits
 * below transactions, sessions, submit.c and reads.c, and above routing
 * (it makes and closes the router), dispatch and the pools: nothing here
 * calls up.
 *
 * Threads: `pools` and `nodes` are fixed after pge_engine_new() and read
 * without locks; the registry has its own lock. `close_lock` serializes
 * the joining part of close.
 *
 * GObject: a final type built like GDBusConnection. The "config"
 * construct-only property is snapshotted at construction; GInitable's
 * init (pge_engine_new()) starts the workers and blocks until they are
 * connected, GAsyncInitable's (pge_engine_new_async()) starts them and
 * completes in the caller's context once the pools' "started" futures
 * are done (the worker threads resolve them; no other thread waits), then
 * runs the CREATE EXTENSION jobs one after another the same way. A failed
 * init leaves the object unusable: every call then fails as on a closed
 * engine.
 *
 * Signals: worker threads notice lost and restored connections (pool.c's
 * link hook) and nodes given up on and back (its reach hook, see
 * lifecycle.c); the engine emits "connection-lost" / "connection-restored",
 * "node-unreachable" / "node-reachable"
 * and "notify::closed" in its main context, the thread-default
 * GMainContext of the thread that created it, through an idle source that
 * holds only a weak reference (EngineLink), so a context nobody iterates
 * never keeps the engine alive.
 *
 * Lifetime: the last unref (dispose) closes the engine (queued jobs fail
 * with PGE_ERROR_CLOSED, running ones end, pinned workers roll back,
 * threads are joined), then finalize frees it. Close from a worker thread
 * of the engine itself (a callback) cannot join that thread, so it only
 * starts the close and leaves the joining to a later close, or, when it was
 * the last unref, to a short-lived thread that takes over the pools.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "async-private.h"
#include "config-private.h"
#include "future-private.h"
#include "job-private.h"
#include "engine-private.h"
#include "errors-private.h"
#include "current-private.h"
#include "dispatch-private.h"
#include "lifecycle-private.h"
#include "notifier-private.h"
#include "routing-private.h"
#include "worker-private.h"

/* What the worker threads' link hook needs to reach the engine: shared by
 * the pools and the idle sources in flight; never a strong reference. */
typedef struct {
  gatomicrefcount ref;
  GWeakRef        engine;
  GMainContext   *context;   /* owned: the engine's main context */
} EngineLink;

struct _PgeEngine {
  GObject      parent_instance;

  PgeSettings *settings;     /* immutable after construction; NULL once init failed */
  GPtrArray   *pools;        /* of PgePool*, [0] is the main node; fixed after init */
  GHashTable  *nodes;        /* name -> PgePool*, borrowed from pools */
  PgeCurrent  *current;      /* the per-thread current transactions */
  PgeCurrent  *sessions;     /* the per-thread current sessions */
  PgeNotifier *notifier;     /* nullable, guarded by close_lock: made by
                              * the first listener, shut down at close */
  PgeRouter   *router;       /* reads and the replica checker; set once
                              * init succeeded (before the engine is shared) */
  EngineLink  *link;         /* owned ref */

  /* Main thread only (the init call's). */
  gboolean     init_started;
  GError      *init_error;   /* why init failed, for a repeated init */

  GMutex       close_lock;
  gboolean     closed;       /* atomic */
  gboolean     joined;       /* guarded by close_lock */
};

enum {
  PROP_0,
  PROP_CONFIG,
  PROP_SERVER_VERSION,
  PROP_N_WORKERS,
  PROP_CLOSED,
  N_PROPS
};

enum {
  SIGNAL_CONNECTION_LOST,
  SIGNAL_CONNECTION_RESTORED,
  SIGNAL_NOTIFICATION,
  SIGNAL_NODE_UNREACHABLE,
  SIGNAL_NODE_REACHABLE,
  N_SIGNALS
};

static GParamSpec *props[N_PROPS];
static guint signals[N_SIGNALS];

static void pge_engine_initable_iface_init       (GInitableIface      *iface);
static void pge_engine_async_initable_iface_init (GAsyncInitableIface *iface);

/**
 * PgeEngine:
 *
 * A pool of worker threads, each owning one libpq connection, per node.
 *
 * Callers submit jobs and get #PgeFuture handles. A #GObject that
 * implements #GInitable (pge_engine_new()) and #GAsyncInitable
 * (pge_engine_new_async()), built from a #PgeConfig given as the
 * #PgeEngine:config construct property. Its signals and property
 * notifications are emitted in the thread-default #GMainContext of the
 * thread that created it. Thread-safe; the last unref closes it.
 *
 * Since: 1.0
 */
/**
 * pge_engine_get_type:
 *
 * Returns: the #GType of #PgeEngine, a final #GObject type
 *
 * Since: 1.0
 */
G_DEFINE_FINAL_TYPE_WITH_CODE (PgeEngine, pge_engine, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (G_TYPE_INITABLE,
                                                      pge_engine_initable_iface_init)
                               G_IMPLEMENT_INTERFACE (G_TYPE_ASYNC_INITABLE,
                                                      pge_engine_async_initable_iface_init))

/* ------------------------------------------------------------- link */

static EngineLink *
engine_link_ref (EngineLink *link)
{
  g_atomic_ref_count_inc (&link->ref);
  return link;
}

static void
engine_link_unref (gpointer data)
{
  EngineLink *link = data;

  if (!g_atomic_ref_count_dec (&link->ref))
    return;
  g_weak_ref_clear (&link->engine);
  g_main_context_unref (link->context);
  g_free (link);
}

typedef struct {
  EngineLink *link;   /* owned ref */
  char       *node;   /* NULL: notify::closed */
  gboolean    up;
  gboolean    reach;  /* node-(un)reachable rather than connection-* */
} LinkEvent;

static void
link_event_free (gpointer data)
{
  LinkEvent *event = data;

  engine_link_unref (event->link);
  g_free (event->node);
  g_free (event);
}

static gboolean
link_event_dispatch (gpointer data)
{
  LinkEvent *event = data;
  g_autoptr(PgeEngine) engine = g_weak_ref_get (&event->link->engine);

  if (engine == NULL)
    return G_SOURCE_REMOVE;
  if (event->node == NULL)
    g_object_notify_by_pspec (G_OBJECT (engine), props[PROP_CLOSED]);
  else if (pge_engine_is_closed (engine))
    ;
  else if (event->reach)
    g_signal_emit (engine, signals[event->up ? SIGNAL_NODE_REACHABLE : SIGNAL_NODE_UNREACHABLE],
                   0, event->node);
  else
    g_signal_emit (engine, signals[event->up ? SIGNAL_CONNECTION_RESTORED : SIGNAL_CONNECTION_LOST],
                   0, event->node);
  return G_SOURCE_REMOVE;
}

/* Any thread: queues @node's event (or notify::closed) in the engine's
 * main context. */
static void
engine_link_post_full (EngineLink *link, const char *node, gboolean up, gboolean reach)
{
  LinkEvent *event = g_new0 (LinkEvent, 1);
  GSource *source = g_idle_source_new ();

  event->link = engine_link_ref (link);
  event->node = g_strdup (node);
  event->up = up;
  event->reach = reach;
  g_source_set_priority (source, G_PRIORITY_DEFAULT);
  g_source_set_static_name (source, "[pgengine] engine signal");
  g_source_set_callback (source, link_event_dispatch, event, link_event_free);
  g_source_attach (source, link->context);
  g_source_unref (source);
}

static void
engine_link_post (EngineLink *link, const char *node, gboolean up)
{
  engine_link_post_full (link, node, up, FALSE);
}

/* pool.c's link hook, on the thread that noticed. */
static void
engine_pool_link (PgePool *pool, gboolean up, gpointer data)
{
  engine_link_post (data, pge_pool_get_name (pool), up);
}

/* pool.c's give-up hook (lifecycle.c), on the thread that noticed. */
static void
engine_pool_reach (PgePool *pool, gboolean up, gpointer data)
{
  engine_link_post_full (data, pge_pool_get_name (pool), up, TRUE);
}

/* ------------------------------------------------------------ GObject */

static void
pge_engine_init (PgeEngine *engine)
{
  engine->pools = g_ptr_array_new_with_free_func ((GDestroyNotify) pge_pool_unref);
  engine->nodes = g_hash_table_new (g_str_hash, g_str_equal);
  engine->current = pge_current_new ();
  engine->sessions = pge_current_new ();
  engine->link = g_new0 (EngineLink, 1);
  g_atomic_ref_count_init (&engine->link->ref);
  g_weak_ref_init (&engine->link->engine, engine);
  engine->link->context = g_main_context_ref_thread_default ();
  g_mutex_init (&engine->close_lock);
}

/* Frees what the pools' threads may touch; they must be joined. */
typedef struct {
  GPtrArray   *pools;
  GHashTable  *nodes;
  PgeCurrent  *current;
  PgeCurrent  *sessions;
  PgeRouter   *router;
  PgeSettings *settings;
} EngineCore;

/* Takes what the engine's threads may still touch. */
static void
engine_core_steal (PgeEngine *engine, EngineCore *core)
{
  core->pools = g_steal_pointer (&engine->pools);
  core->nodes = g_steal_pointer (&engine->nodes);
  core->current = g_steal_pointer (&engine->current);
  core->sessions = g_steal_pointer (&engine->sessions);
  core->router = g_steal_pointer (&engine->router);
  core->settings = g_steal_pointer (&engine->settings);
}

/* Frees it; the pools' threads must be joined (the router joins its own). */
static void
engine_core_free (EngineCore *core)
{
  g_clear_pointer (&core->router, pge_router_free);
  g_clear_pointer (&core->nodes, g_hash_table_unref);
  g_clear_pointer (&core->pools, g_ptr_array_unref);
  g_clear_pointer (&core->current, pge_current_free);
  g_clear_pointer (&core->sessions, pge_current_free);
  g_clear_pointer (&core->settings, pge_settings_free);
}

static gpointer
engine_join_thread (gpointer data)
{
  EngineCore *core = data;

  for (guint i = 0; i < core->pools->len; i++)
    pge_pool_join (core->pools->pdata[i]);
  engine_core_free (core);
  g_free (core);
  return NULL;
}

static void
pge_engine_finalize (GObject *object)
{
  PgeEngine *engine = PGE_ENGINE (object);

  if (pge_engine_is_worker_thread (engine))
    {
      /* This thread is one the close must join: let another one do it. */
      EngineCore *core = g_new0 (EngineCore, 1);

      if (engine->router != NULL)
        pge_router_close (engine->router);
      for (guint i = 0; i < engine->pools->len; i++)
        pge_pool_close (engine->pools->pdata[i]);
      engine_core_steal (engine, core);
      g_thread_unref (g_thread_new ("pge-finalize", engine_join_thread, core));
    }
  else
    {
      /* Nobody is left to be told that it closed. */
      g_atomic_int_set (&engine->closed, TRUE);
      EngineCore core = { 0 };

      pge_engine_close (engine);
      engine_core_steal (engine, &core);
      engine_core_free (&core);
    }
  /* Shut down by the close (or, closed from a worker, by this unref). */
  g_clear_pointer (&engine->notifier, pge_notifier_unref);
  engine_link_unref (engine->link);
  g_clear_error (&engine->init_error);
  g_mutex_clear (&engine->close_lock);
  G_OBJECT_CLASS (pge_engine_parent_class)->finalize (object);
}

static void
pge_engine_set_property (GObject *object, guint prop_id, const GValue *value, GParamSpec *pspec)
{
  PgeEngine *engine = PGE_ENGINE (object);
  PgeConfig *config;

  switch (prop_id)
    {
    case PROP_CONFIG:
      config = g_value_get_boxed (value);
      /* A snapshot: the caller may change or drop @config afterwards. */
      engine->settings = config != NULL ? pge_config_snapshot (config) : NULL;
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
pge_engine_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  PgeEngine *engine = PGE_ENGINE (object);

  switch (prop_id)
    {
    case PROP_SERVER_VERSION:
      g_value_set_int (value, pge_engine_get_server_version (engine));
      break;
    case PROP_N_WORKERS:
      g_value_set_uint (value, pge_engine_get_n_workers (engine));
      break;
    case PROP_CLOSED:
      g_value_set_boolean (value, pge_engine_is_closed (engine));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
pge_engine_class_init (PgeEngineClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = pge_engine_finalize;
  object_class->set_property = pge_engine_set_property;
  object_class->get_property = pge_engine_get_property;

  /**
   * PgeEngine:config:
   *
   * The settings the engine is built from: a snapshot is taken at
   * construction, so the #PgeConfig may be changed or dropped afterwards.
   * Write-only, construct-only.
   *
   * Since: 1.0
   */
  props[PROP_CONFIG] =
    g_param_spec_boxed ("config", NULL, NULL, PGE_TYPE_CONFIG,
                        G_PARAM_WRITABLE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  /**
   * PgeEngine:server-version:
   *
   * The main node's server version as libpq reports it (150004 for 15.4),
   * 0 while no connection is up. See pge_engine_get_server_version().
   *
   * Since: 1.0
   */
  props[PROP_SERVER_VERSION] =
    g_param_spec_int ("server-version", NULL, NULL, 0, G_MAXINT, 0,
                      G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  /**
   * PgeEngine:n-workers:
   *
   * The number of worker threads over all nodes (one connection each at
   * most: with pge_config_set_min_workers(), some may have none open).
   * See pge_engine_get_n_workers().
   *
   * Since: 1.0
   */
  props[PROP_N_WORKERS] =
    g_param_spec_uint ("n-workers", NULL, NULL, 0, G_MAXUINT, 0,
                       G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  /**
   * PgeEngine:closed:
   *
   * Whether pge_engine_close() has been called. Its change is notified
   * in the engine's main context (see #PgeEngine).
   *
   * Since: 1.0
   */
  props[PROP_CLOSED] =
    g_param_spec_boolean ("closed", NULL, NULL, FALSE,
                          G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, props);

  /**
   * PgeEngine::connection-lost:
   * @engine: the engine
   * @node: the name of the node ("primary" for the main one)
   *
   * One of @node's connections was found broken (the server went away, a
   * backend was terminated, the network failed). Its worker reconnects on
   * its own, with backoff; #PgeEngine::connection-restored follows once it
   * succeeds. Emitted once per lost connection, in the engine's main
   * context (the thread-default #GMainContext of the thread that created
   * the engine), some time after the worker noticed: never on a worker
   * thread. Not emitted once the engine is closed.
   *
   * Since: 1.0
   */
  signals[SIGNAL_CONNECTION_LOST] =
    g_signal_new ("connection-lost", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_STRING);
  /**
   * PgeEngine::connection-restored:
   * @engine: the engine
   * @node: the name of the node ("primary" for the main one)
   *
   * A connection of @node that #PgeEngine::connection-lost reported is up
   * again. Emitted in the engine's main context, like it.
   *
   * Since: 1.0
   */
  signals[SIGNAL_CONNECTION_RESTORED] =
    g_signal_new ("connection-restored", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_STRING);
  /**
   * PgeEngine::notification:
   * @engine: the engine
   * @channel: the channel, as given to pge_engine_listen_signal()
   * @payload: (nullable): the payload (`""` when NOTIFY had none); %NULL
   *   when @missed
   * @sender_pid: the PID of the server process that sent it; 0 when @missed
   * @missed: %TRUE when this carries no notification but says that the
   *   listening connection was lost and is back: notifications sent
   *   meanwhile were not received (the server does not keep them)
   *
   * A notification on a channel that pge_engine_listen_signal() listens
   * on, emitted in the engine's main context, in the order the server
   * sent them, across channels too. The signal detail is the channel, so
   * `g_signal_connect (engine, "notification::orders", ...)` sees only
   * that channel's.
   *
   * Since: 1.0
   */
  signals[SIGNAL_NOTIFICATION] =
    g_signal_new ("notification", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST | G_SIGNAL_DETAILED,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 4, G_TYPE_STRING, G_TYPE_STRING, G_TYPE_INT,
                  G_TYPE_BOOLEAN);
  /**
   * PgeEngine::node-unreachable:
   * @engine: the engine
   * @node: the name of the node ("primary" for the main one)
   *
   * The engine gave up on @node: no connection to it has been up, and
   * every attempt failed, for the reconnect timeout
   * (pge_config_set_reconnect_timeout()). Its queued calls failed, and new
   * ones fail at once, with %PGE_ERROR_CONNECTION instead of waiting out
   * the acquire timeout. Its workers keep retrying in the background;
   * #PgeEngine::node-reachable follows when one succeeds. Emitted in the
   * engine's main context, like #PgeEngine::connection-lost.
   *
   * Since: 1.2
   */
  signals[SIGNAL_NODE_UNREACHABLE] =
    g_signal_new ("node-unreachable", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_STRING);
  /**
   * PgeEngine::node-reachable:
   * @engine: the engine
   * @node: the name of the node
   *
   * A node that #PgeEngine::node-unreachable reported is back: a
   * connection to it succeeded, and calls are accepted again. Emitted in
   * the engine's main context.
   *
   * Since: 1.2
   */
  signals[SIGNAL_NODE_REACHABLE] =
    g_signal_new ("node-reachable", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_STRING);
}

/* For notify.c, in the engine's main context. */
void
pge_engine_emit_notification (PgeEngine  *engine,
                              const char *channel,
                              const char *payload,
                              gint        sender_pid,
                              gboolean    missed)
{
  g_signal_emit (engine, signals[SIGNAL_NOTIFICATION], g_quark_from_string (channel), channel,
                 payload, sender_pid, missed);
}

/* Borrowed: the thread-default context of the thread that created it. */
GMainContext *
pge_engine_get_main_context (PgeEngine *engine)
{
  return engine->link->context;
}

/* ---------------------------------------------------------------- init */

static void
engine_add_pool (PgeEngine *engine, const PgeNodeSettings *node)
{
  PgeNodeSettings copy = *node;
  g_autofree char *conninfo = NULL;
  PgePool *pool;

  /* A replica node's workers prefer a standby among its hosts (routing.c). */
  if (node->replica)
    copy.conninfo = conninfo = pge_router_replica_conninfo (node->conninfo);
  pool = pge_pool_new (&copy, engine->settings);

  pge_pool_set_owner (pool, engine);
  pge_pool_set_link_func (pool, engine_pool_link, engine_link_ref (engine->link), engine_link_unref);
  pge_pool_set_reach_func (pool, engine_pool_reach);
  g_ptr_array_add (engine->pools, pool);
  g_hash_table_insert (engine->nodes, (gpointer) pge_pool_get_name (pool), pool);
}

/* Validates the settings and starts every worker (they connect in
 * parallel) and janitor. Never blocks. Once per engine: the inits check
 * init_started first. */
static gboolean
engine_start (PgeEngine *engine, GError **error)
{
  engine->init_started = TRUE;
  /* Registered here, before any worker exists, so no two threads race to
   * do it first (and ThreadSanitizer sees why). */
  g_type_ensure (pge_future_get_type ());
  g_type_ensure (pge_result_get_type ());
  (void) pge_error_quark ();
  if (engine->settings == NULL)
    {
      g_set_error_literal (error, PGE_ERROR, PGE_ERROR_INVALID_ARGUMENT, "config is NULL");
      return FALSE;
    }
  if (!pge_settings_validate (engine->settings, error))
    return FALSE;

  engine_add_pool (engine, &engine->settings->primary);
  for (guint i = 0; i < engine->settings->nodes->len; i++)
    engine_add_pool (engine, engine->settings->nodes->pdata[i]);
  for (guint i = 0; i < engine->pools->len; i++)
    {
      PgePool *pool = engine->pools->pdata[i];

      for (guint j = 0; j < pge_pool_get_n_slots (pool); j++)
        pge_worker_start (pge_pool_get_slot (pool, j), NULL);
      pge_pool_start_janitor (pool);
    }
  return TRUE;
}

/* Whether pools[@i] is a replica node: one that may be down at start. */
static gboolean
engine_is_replica (PgeEngine *engine, guint i)
{
  return i > 0 && ((PgeNodeSettings *) engine->settings->nodes->pdata[i - 1])->replica;
}

/* A failed engine takes no work: it is closed (threads still run until
 * the last unref joins them). */
static void
engine_fail (PgeEngine *engine, const GError *error)
{
  g_atomic_int_set (&engine->closed, TRUE);
  for (guint i = 0; i < engine->pools->len; i++)
    pge_pool_close (engine->pools->pdata[i]);
  if (engine->init_error == NULL)
    engine->init_error = g_error_copy (error);
}

static char *
extension_sql (const char *name)
{
  /* Same quoting as PQescapeIdentifier, without needing a connection. */
  g_auto(GStrv) parts = g_strsplit (name, "\"", -1);
  g_autofree char *doubled = g_strjoinv ("\"\"", parts);

  return g_strdup_printf ("CREATE EXTENSION IF NOT EXISTS \"%s\"", doubled);
}

static gboolean
engine_create_extensions (PgeEngine *engine, GError **error)
{
  for (guint i = 0; i < engine->settings->extensions->len; i++)
    {
      const char *name = engine->settings->extensions->pdata[i];
      g_autofree char *sql = extension_sql (name);
      g_autoptr(PgeJob) job = pge_job_new_exec (sql);
      g_autoptr(PgeResult) result = NULL;
      GError *local = NULL;

      result = pge_dispatch_run_sync (pge_engine_get_primary (engine), job, &local);
      if (local != NULL)
        {
          g_propagate_prefixed_error (error, local, "extension \"%s\": ", name);
          return FALSE;
        }
    }
  return TRUE;
}

static gboolean
pge_engine_initable_init (GInitable *initable, GCancellable *cancellable, GError **error)
{
  PgeEngine *engine = PGE_ENGINE (initable);
  GError *local = NULL;

  if (engine->init_error != NULL)
    {
      g_propagate_error (error, g_error_copy (engine->init_error));
      return FALSE;
    }
  /* GInitable: a repeated init returns what the first one did. */
  if (engine->init_started)
    return TRUE;
  if (engine_start (engine, &local))
    {
      for (guint i = 0; i < engine->pools->len && local == NULL; i++)
        if (!pge_pool_wait_started (engine->pools->pdata[i], &local) && engine_is_replica (engine, i))
          g_clear_error (&local);   /* it starts marked down (pool.c) */
      if (local == NULL)
        engine_create_extensions (engine, &local);
    }
  if (local == NULL)
    {
      engine->router = pge_router_new (engine->settings, engine->pools);
      return TRUE;
    }
  engine_fail (engine, local);
  g_propagate_error (error, local);
  return FALSE;
}

static void
pge_engine_initable_iface_init (GInitableIface *iface)
{
  iface->init = pge_engine_initable_init;
}

/* The asynchronous init: a chain of steps, each run in the caller's
 * context when a future is done. The task's data is the index of the
 * next pool to wait for, then of the next extension to create. */
typedef struct {
  guint next_pool;
  guint next_extension;
} InitState;

static void init_async_next (GTask *task);

static void
init_async_failed (GTask *task, GError *error)
{
  PgeEngine *engine = g_task_get_source_object (task);

  error = pge_async_translate_cancel (error, g_task_get_cancellable (task));
  engine_fail (engine, error);
  g_task_return_error (task, error);
}

static void
init_async_step_done (GTask *task, PgeResult *result, GError *error)
{
  g_clear_pointer (&result, pge_result_unref);
  if (error != NULL)
    init_async_failed (task, error);
  else
    init_async_next (task);
}

static void
init_async_pool_done (GTask *task, PgeResult *result, GError *error)
{
  PgeEngine *engine = g_task_get_source_object (task);
  InitState *state = g_task_get_task_data (task);

  if (error != NULL && engine_is_replica (engine, state->next_pool - 1))
    g_clear_error (&error);   /* it starts marked down (pool.c) */
  init_async_step_done (task, result, error);
}

static void
init_async_extension_done (GTask *task, PgeResult *result, GError *error)
{
  PgeEngine *engine = g_task_get_source_object (task);
  InitState *state = g_task_get_task_data (task);

  if (error != NULL)
    g_prefix_error (&error, "extension \"%s\": ",
                    (const char *) engine->settings->extensions->pdata[state->next_extension - 1]);
  init_async_step_done (task, result, error);
}

static void
init_async_next (GTask *task)
{
  PgeEngine *engine = g_task_get_source_object (task);
  InitState *state = g_task_get_task_data (task);

  if (g_cancellable_is_cancelled (g_task_get_cancellable (task)))
    {
      init_async_failed (task, g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CANCELLED,
                                                    "the operation was cancelled"));
      return;
    }
  if (state->next_pool < engine->pools->len)
    {
      PgePool *pool = engine->pools->pdata[state->next_pool++];

      pge_async_then (task, pge_pool_get_started (pool), init_async_pool_done);
      return;
    }
  if (state->next_extension < engine->settings->extensions->len)
    {
      const char *name = engine->settings->extensions->pdata[state->next_extension++];
      g_autofree char *sql = extension_sql (name);
      g_autoptr(PgeJob) job = pge_job_new_exec (sql);

      pge_dispatch_submit (pge_engine_get_primary (engine), job, FALSE);
      pge_async_then (task, job->future, init_async_extension_done);
      return;
    }
  engine->router = pge_router_new (engine->settings, engine->pools);
  g_task_return_boolean (task, TRUE);
}

static void
pge_engine_async_initable_init_async (GAsyncInitable     *initable,
                                      int                 io_priority,
                                      GCancellable       *cancellable,
                                      GAsyncReadyCallback callback,
                                      gpointer            user_data)
{
  PgeEngine *engine = PGE_ENGINE (initable);
  GTask *task = pge_async_task_new (engine, pge_engine_async_initable_init_async,
                                    "pge_engine_new_async", cancellable, callback, user_data);
  GError *error = NULL;

  if (task == NULL)
    return;
  g_task_set_priority (task, io_priority);
  g_task_set_task_data (task, g_new0 (InitState, 1), g_free);
  if (engine->init_error != NULL)
    g_task_return_error (task, g_error_copy (engine->init_error));
  else if (engine->init_started)
    g_task_return_boolean (task, TRUE);
  else if (!engine_start (engine, &error))
    init_async_failed (task, error);
  else
    init_async_next (task);
  g_object_unref (task);
}

static gboolean
pge_engine_async_initable_init_finish (GAsyncInitable *initable, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (pge_async_task_check (result, initable, pge_engine_async_initable_init_async),
                        FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

static void
pge_engine_async_initable_iface_init (GAsyncInitableIface *iface)
{
  iface->init_async = pge_engine_async_initable_init_async;
  iface->init_finish = pge_engine_async_initable_init_finish;
}

/* ---------------------------------------------------------- public API */

/**
 * pge_engine_new:
 * @config: a #PgeConfig; its settings are copied
 * @error: return location for a #GError
 *
 * Starts the workers of every node and connects each, in parallel; then
 * creates the configured extensions. Blocks until all are connected or one
 * has failed: then fails fast with %PGE_ERROR_CONNECTION and the server's
 * message (never the password), leaving nothing running. A server that
 * does not answer holds it at most `connect_timeout` (10 s unless the
 * connection string says otherwise), then the error says "timeout
 * expired". A bad setting
 * (0 workers, a malformed connection string, a repeated node name) is
 * %PGE_ERROR_INVALID_ARGUMENT. May be called from any thread.
 *
 * The same as g_initable_new() of %PGE_TYPE_ENGINE with the #PgeEngine:config
 * property. The thread-default #GMainContext of the calling thread becomes
 * the engine's main context, where its signals are emitted.
 *
 * Returns: (transfer full) (nullable): the engine, or %NULL with @error set
 *
 * Since: 1.0
 */
PgeEngine *
pge_engine_new (PgeConfig *config, GError **error)
{
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);
  return g_initable_new (PGE_TYPE_ENGINE, NULL, error, "config", config, NULL);
}

/**
 * pge_engine_ref:
 * @engine: a #PgeEngine
 *
 * g_object_ref(), for symmetry with the other types. Thread-safe.
 *
 * Returns: (transfer full): @engine
 *
 * Since: 1.0
 */
PgeEngine *
pge_engine_ref (PgeEngine *engine)
{
  g_return_val_if_fail (PGE_IS_ENGINE (engine), NULL);
  return g_object_ref (engine);
}

/**
 * pge_engine_unref:
 * @engine: (transfer full): a #PgeEngine
 *
 * g_object_unref(). The last reference closes the engine (see
 * pge_engine_close(), so it blocks like it) and frees it. Transactions,
 * batches and sessions hold a reference; futures do not, so dropping the engine
 * with jobs still queued fails them with %PGE_ERROR_CLOSED. Thread-safe.
 *
 * Since: 1.0
 */
void
pge_engine_unref (PgeEngine *engine)
{
  g_return_if_fail (PGE_IS_ENGINE (engine));
  g_object_unref (engine);
}

/**
 * pge_engine_close:
 * @engine: a #PgeEngine
 *
 * Stops the engine. Idempotent. New work fails with %PGE_ERROR_CLOSED;
 * queued jobs resolve with %PGE_ERROR_CLOSED without running; connection
 * attempts in progress give up at once; running jobs
 * end (queries still running 5 s later are cancelled, so close never hangs
 * on a long statement); open transactions and batches are rolled back,
 * and open sessions end (their connections rolled back and reset as by
 * pge_session_end()); every thread is joined. Blocks until then, except on one of the
 * engine's own worker threads (a callback), where it starts the close and
 * returns. #PgeEngine:closed is notified in the engine's main context.
 * Thread-safe.
 *
 * Since: 1.0
 */
void
pge_engine_close (PgeEngine *engine)
{
  g_return_if_fail (PGE_IS_ENGINE (engine));
  if (!g_atomic_int_exchange (&engine->closed, TRUE))
    engine_link_post (engine->link, NULL, FALSE);
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
 * Returns: %TRUE once pge_engine_close() has been called (or the engine
 *   failed to start)
 *
 * Since: 1.0
 */
gboolean
pge_engine_is_closed (PgeEngine *engine)
{
  g_return_val_if_fail (PGE_IS_ENGINE (engine), TRUE);
  return g_atomic_int_get (&engine->closed);
}

gboolean
pge_engine_check_open (PgeEngine *engine, GError **error)
{
  if (engine->pools->len == 0)
    {
      /* g_object_new() without g_initable_init(): nothing to run on. */
      g_set_error_literal (error, PGE_ERROR, PGE_ERROR_CLOSED, "the engine was never initialized");
      return FALSE;
    }
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
 * PGE_ERROR_WOULD_DEADLOCK naming @what. */
gboolean
pge_engine_check_may_block (PgeEngine *engine, const char *what, GError **error)
{
  if (!pge_engine_is_worker_thread (engine))
    return TRUE;
  g_set_error (error, PGE_ERROR, PGE_ERROR_WOULD_DEADLOCK,
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

GPtrArray *
pge_engine_get_pools (PgeEngine *engine)
{
  return engine->pools;
}

/* Borrowed; NULL until the engine has started. */
PgeRouter *
pge_engine_get_router (PgeEngine *engine)
{
  return engine->router;
}

PgeCurrent *
pge_engine_get_transaction_registry (PgeEngine *engine)
{
  return engine->current;
}

PgeCurrent *
pge_engine_get_session_registry (PgeEngine *engine)
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
 *
 * Since: 1.0
 */
int
pge_engine_get_server_version (PgeEngine *engine)
{
  PgePool *primary;

  g_return_val_if_fail (PGE_IS_ENGINE (engine), 0);
  if (engine->pools->len == 0)
    return 0;
  primary = pge_engine_get_primary (engine);
  for (guint i = 0; i < pge_pool_get_n_slots (primary); i++)
    {
      int version = pge_connection_get_server_version (pge_slot_get_connection (pge_pool_get_slot (primary, i)));

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
 * Returns: the number of worker threads over all nodes (one connection
 *   each at most: with pge_config_set_min_workers(), some may have none
 *   open)
 *
 * Since: 1.0
 */
guint
pge_engine_get_n_workers (PgeEngine *engine)
{
  guint n = 0;

  g_return_val_if_fail (PGE_IS_ENGINE (engine), 0);
  for (guint i = 0; i < engine->pools->len; i++)
    n += pge_pool_get_n_slots (engine->pools->pdata[i]);
  return n;
}

/* ------------------------------------------------------------ engine new */

/**
 * pge_engine_new_async:
 * @config: a #PgeConfig; its settings are copied before this returns
 * @cancellable: (nullable): a #GCancellable
 * @callback: (scope async) (closure user_data): called with the outcome
 * @user_data: data for @callback
 *
 * pge_engine_new() without blocking and without any helper thread:
 * g_async_initable_new_async() of %PGE_TYPE_ENGINE. The engine's own
 * worker threads connect, in parallel; @callback runs in the
 * thread-default #GMainContext of the calling thread at the time of this
 * call (which becomes the engine's main context), with the new engine as
 * its source object, once every first connection attempt is over and the
 * configured extensions exist. pge_engine_new_finish() then gets the
 * engine. Cancelling gives %G_IO_ERROR_CANCELLED, and the engine is
 * closed when the task lets it go. Never blocks.
 *
 * Since: 1.0
 */
void
pge_engine_new_async (PgeConfig          *config,
                      GCancellable       *cancellable,
                      GAsyncReadyCallback callback,
                      gpointer            user_data)
{
  g_async_initable_new_async (PGE_TYPE_ENGINE, G_PRIORITY_DEFAULT, cancellable, callback, user_data,
                              "config", config, NULL);
}

/**
 * pge_engine_new_finish:
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError
 *
 * Gets the engine started by pge_engine_new_async(): errors as for
 * pge_engine_new(), or %G_IO_ERROR_CANCELLED. A failed engine is closed
 * here (this may wait briefly for its threads to exit). Never blocks on
 * the network.
 *
 * Returns: (transfer full) (nullable): the engine, or %NULL with @error set
 *
 * Since: 1.0
 */
PgeEngine *
pge_engine_new_finish (GAsyncResult *result, GError **error)
{
  g_autoptr(GObject) source = NULL;

  g_return_val_if_fail (G_IS_ASYNC_RESULT (result), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);
  source = g_async_result_get_source_object (result);
  g_return_val_if_fail (PGE_IS_ENGINE (source), NULL);
  return PGE_ENGINE (g_async_initable_new_finish (G_ASYNC_INITABLE (source), result, error));
}

/**
 * pge_engine_recycle:
 * @engine: a #PgeEngine
 *
 * Replaces every connection of every node with a new one, gracefully:
 * idle connections at once, busy ones when their job ends, pinned ones
 * (transactions, sessions, batches) when they are released; nothing that
 * runs is interrupted, and no connection is reported lost. For after a
 * credential rotation (libpq reads a password file or the `PG*`
 * environment at each connect), a migration that changed what the
 * on-connect setup looks up, or a failover a DNS name or a multi-host
 * conninfo now resolves differently. The new connections run the
 * on-connect setup. Never blocks; thread-safe; does nothing on a closed
 * engine.
 *
 * Since: 1.2
 */
void
pge_engine_recycle (PgeEngine *engine)
{
  g_return_if_fail (PGE_IS_ENGINE (engine));

  if (pge_engine_is_closed (engine) || engine->pools == NULL)
    return;
  for (guint i = 0; i < engine->pools->len; i++)
    pge_lifecycle_recycle (engine->pools->pdata[i]);
}
