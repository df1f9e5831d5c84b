/* config.c — PgeConfig, the settings an engine starts from.
 *
 * A config is a small mutable value guarded by its own `lock`, so setters
 * may race with each other or with pge_engine_new() without tearing. The
 * engine never keeps the config: it takes a PgeSettings snapshot, so a
 * config may be reused or changed for the next engine.
 *
 * Setters take any value; pge_engine_new() validates the whole snapshot and
 * reports bad values as PGE_ERROR_INVALID_ARGUMENT, because a void setter
 * has no way to report them.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <string.h>

#include "config-private.h"
#include "onconnect-private.h"

struct _PgeConfig {
  GMutex lock;            /* guards every field below */
  PgeSettings settings;
};

/**
 * PgeConfig:
 *
 * The settings an engine starts from.
 *
 * pge_engine_new() copies them, so a config may be changed or reused
 * afterwards. Thread-safe.
 *
 * Since: 1.0
 */
/**
 * pge_config_get_type:
 *
 * Returns: the boxed #GType of #PgeConfig
 *
 * Since: 1.0
 */
G_DEFINE_BOXED_TYPE (PgeConfig, pge_config, pge_config_ref, pge_config_unref)

static void
node_settings_free (gpointer data)
{
  PgeNodeSettings *node = data;

  g_free (node->name);
  g_free (node->conninfo);
  g_free (node);
}

static PgeNodeSettings *
node_settings_new (const char *name, const char *conninfo, guint n_workers)
{
  PgeNodeSettings *node = g_new0 (PgeNodeSettings, 1);

  node->name = g_strdup (name ? name : "");  /* NULL: reported as empty by pge_engine_new() */
  node->conninfo = g_strdup (conninfo ? conninfo : "");
  node->n_workers = n_workers;
  return node;
}

static void
settings_init (PgeSettings *settings, const char *conninfo)
{
  settings->primary.name = g_strdup (PGE_PRIMARY_NODE);
  settings->primary.conninfo = g_strdup (conninfo ? conninfo : "");
  settings->primary.n_workers = 4;
  settings->nodes = g_ptr_array_new_with_free_func (node_settings_free);
  settings->extensions = g_ptr_array_new_with_free_func (g_free);
  settings->acquire_timeout_ms = 30000;
  settings->pipeline_depth = PGE_DEFAULT_PIPELINE_DEPTH;
  settings->statement_cache = PGE_DEFAULT_STATEMENT_CACHE;
  settings->replica_check_ms = PGE_DEFAULT_REPLICA_CHECK_MS;
  settings->max_lifetime_ms = PGE_DEFAULT_MAX_LIFETIME_MS;
  settings->reconnect_timeout_ms = PGE_DEFAULT_RECONNECT_TIMEOUT_MS;
}

static void
settings_clear (PgeSettings *settings)
{
  g_clear_pointer (&settings->primary.name, g_free);
  g_clear_pointer (&settings->primary.conninfo, g_free);
  g_clear_pointer (&settings->nodes, g_ptr_array_unref);
  g_clear_pointer (&settings->extensions, g_ptr_array_unref);
  g_clear_pointer (&settings->on_connect, pge_connect_hook_unref);
}

/**
 * pge_config_new:
 * @conninfo: (nullable): a libpq keyword/value string or URI; %NULL or ""
 *   means libpq's defaults and the `PG*` environment variables
 *
 * Creates a configuration with the defaults: 4 workers, acquire timeout
 * 30 s, no statement timeout, unbounded queue, no logging; auto-pipelining
 * (depth 16) and the statement cache (256 statements) on; connections
 * replaced after about an hour (max lifetime, plus or minus 10%); a node
 * given up on after 5 minutes unreachable (reconnect timeout). The string
 * is checked by pge_engine_new(), not here. Never blocks.
 *
 * Returns: (transfer full): a new #PgeConfig
 *
 * Since: 1.0
 */
PgeConfig *
pge_config_new (const char *conninfo)
{
  PgeConfig *config = g_atomic_rc_box_new0 (PgeConfig);

  g_mutex_init (&config->lock);
  settings_init (&config->settings, conninfo);
  return config;
}

/**
 * pge_config_ref:
 * @config: a #PgeConfig
 *
 * Thread-safe.
 *
 * Returns: (transfer full): @config
 *
 * Since: 1.0
 */
PgeConfig *
pge_config_ref (PgeConfig *config)
{
  g_return_val_if_fail (config != NULL, NULL);
  return g_atomic_rc_box_acquire (config);
}

static void
pge_config_free (PgeConfig *config)
{
  settings_clear (&config->settings);
  g_mutex_clear (&config->lock);
}

/**
 * pge_config_unref:
 * @config: (transfer full): a #PgeConfig
 *
 * Drops a reference; the last one frees the config. Thread-safe.
 *
 * Since: 1.0
 */
void
pge_config_unref (PgeConfig *config)
{
  g_return_if_fail (config != NULL);
  g_atomic_rc_box_release_full (config, (GDestroyNotify) pge_config_free);
}

#define CONFIG_SET(config, field, value) \
  G_STMT_START {                         \
    g_mutex_lock (&(config)->lock);      \
    (config)->settings.field = (value);  \
    g_mutex_unlock (&(config)->lock);    \
  } G_STMT_END

#define CONFIG_GET(config, field, out)   \
  G_STMT_START {                         \
    g_mutex_lock (&(config)->lock);      \
    (out) = (config)->settings.field;    \
    g_mutex_unlock (&(config)->lock);    \
  } G_STMT_END

/**
 * pge_config_set_workers:
 * @config: a #PgeConfig
 * @n_workers: worker threads (one connection each at most) for the main
 *   node; 1 to 1024, checked by pge_engine_new()
 *
 * The most connections of the main node; all are opened at start unless
 * pge_config_set_min_workers() says fewer. Default 4. Thread-safe.
 *
 * Since: 1.0
 */
void
pge_config_set_workers (PgeConfig *config, guint n_workers)
{
  g_return_if_fail (config != NULL);
  CONFIG_SET (config, primary.n_workers, n_workers);
}

/**
 * pge_config_get_workers:
 * @config: a #PgeConfig
 *
 * Returns: the main node's worker count set on @config
 *
 * Since: 1.0
 */
guint
pge_config_get_workers (PgeConfig *config)
{
  guint value;

  g_return_val_if_fail (config != NULL, 0);
  CONFIG_GET (config, primary.n_workers, value);
  return value;
}

/**
 * pge_config_set_acquire_timeout:
 * @config: a #PgeConfig
 * @timeout_ms: milliseconds, 0 to wait forever
 *
 * How long any job, transaction or batch may wait for a free worker (all
 * busy or pinned, or the server down) before it fails with
 * %PGE_ERROR_TIMEOUT. Default 30000. Thread-safe.
 *
 * Since: 1.0
 */
void
pge_config_set_acquire_timeout (PgeConfig *config, guint timeout_ms)
{
  g_return_if_fail (config != NULL);
  CONFIG_SET (config, acquire_timeout_ms, timeout_ms);
}

/**
 * pge_config_get_acquire_timeout:
 * @config: a #PgeConfig
 *
 * Returns: the acquire timeout in milliseconds (0: forever)
 *
 * Since: 1.0
 */
guint
pge_config_get_acquire_timeout (PgeConfig *config)
{
  guint value;

  g_return_val_if_fail (config != NULL, 0);
  CONFIG_GET (config, acquire_timeout_ms, value);
  return value;
}

/**
 * pge_config_set_statement_timeout:
 * @config: a #PgeConfig
 * @timeout_ms: milliseconds, 0 for none
 *
 * Sets the server's `statement_timeout` on every connection; a statement
 * that runs longer fails with %PGE_ERROR_TIMEOUT (SQLSTATE 57014) and the
 * connection stays usable. Default 0. Thread-safe.
 *
 * Since: 1.0
 */
void
pge_config_set_statement_timeout (PgeConfig *config, guint timeout_ms)
{
  g_return_if_fail (config != NULL);
  CONFIG_SET (config, statement_timeout_ms, timeout_ms);
}

/**
 * pge_config_get_statement_timeout:
 * @config: a #PgeConfig
 *
 * Returns: the statement timeout in milliseconds (0: none)
 *
 * Since: 1.0
 */
guint
pge_config_get_statement_timeout (PgeConfig *config)
{
  guint value;

  g_return_val_if_fail (config != NULL, 0);
  CONFIG_GET (config, statement_timeout_ms, value);
  return value;
}

/**
 * pge_config_set_max_queue:
 * @config: a #PgeConfig
 * @max_jobs: most jobs that may wait for a worker on one node, 0 for no bound
 *
 * A job submitted while @max_jobs already wait fails at once with
 * %PGE_ERROR_QUEUE_FULL. A thread keeps queries for its next
 * pge_future_wait() (see pge_engine_query()) only while fewer than
 * @max_jobs wait in all; past that they queue and count. Jobs of a
 * transaction or batch wait on their own pinned worker and do not count.
 * Default 0. Thread-safe.
 *
 * Since: 1.0
 */
void
pge_config_set_max_queue (PgeConfig *config, guint max_jobs)
{
  g_return_if_fail (config != NULL);
  CONFIG_SET (config, max_queue, max_jobs);
}

/**
 * pge_config_get_max_queue:
 * @config: a #PgeConfig
 *
 * Returns: the queue bound (0: none)
 *
 * Since: 1.0
 */
guint
pge_config_get_max_queue (PgeConfig *config)
{
  guint value;

  g_return_val_if_fail (config != NULL, 0);
  CONFIG_GET (config, max_queue, value);
  return value;
}

/**
 * pge_config_set_pipeline_depth:
 * @config: a #PgeConfig
 * @depth: the most queued queries one worker may send in one round trip,
 *   1 (off) to 64, checked by pge_engine_new(); the default is 16
 *
 * Auto-pipelining: a worker that finds jobs queued while every other
 * connection is busy takes up to @depth queued independent queries at
 * once and sends them as one libpq pipeline, each still in its own
 * implicit transaction with its own outcome (one failure never touches
 * the others). Under load this multiplies throughput — the queue is
 * waiting anyway, and one round trip serves many (see tools/pge-bench and
 * PERFORMANCE.md) — and it costs nothing when jobs do not queue up.
 *
 * The price is head-of-line blocking: a quick query taken behind a slow
 * one waits for it, and the acquire timeout no longer applies to it once
 * taken. It is bounded: only statements this connection has already run
 * (through the statement cache, see pge_config_set_statement_cache()) in
 * under 2 ms on average are pipelined, so a slow or never-seen query
 * always runs alone; with the statement cache off, every plain query may
 * be pipelined. Only pool queries are pipelined (not those of a
 * transaction or batch, not BEGIN, COPY, SET or DDL, not parameter sets
 * of 16 KiB or more). Thread-safe.
 *
 * Since: 1.0
 */
void
pge_config_set_pipeline_depth (PgeConfig *config, guint depth)
{
  g_return_if_fail (config != NULL);
  CONFIG_SET (config, pipeline_depth, depth);
}

/**
 * pge_config_get_pipeline_depth:
 * @config: a #PgeConfig
 *
 * Returns: the pipeline depth (1: no pipelining; 16 unless set)
 *
 * Since: 1.0
 */
guint
pge_config_get_pipeline_depth (PgeConfig *config)
{
  guint value;

  g_return_val_if_fail (config != NULL, PGE_DEFAULT_PIPELINE_DEPTH);
  CONFIG_GET (config, pipeline_depth, value);
  return value;
}

/**
 * pge_config_set_statement_cache:
 * @config: a #PgeConfig
 * @max_statements: how many prepared statements each connection keeps,
 *   0 (off) to 10000, checked by pge_engine_new(); the default is 256
 *
 * The statement cache: each connection prepares every distinct plain
 * query it runs (SELECT, INSERT, UPDATE, DELETE, MERGE, VALUES, TABLE,
 * WITH; keyed by SQL and parameter types) once, in the same round trip as
 * its first run, and from then on sends only its parameters, so the
 * server skips parsing and planning. Used for pool queries and inside
 * transactions and batches alike. When full, the least recently used
 * statement is evicted, one at a time (`DEALLOCATE` of that name only,
 * sent once the connection is outside any transaction), so statements a
 * program prepared itself are never touched.
 *
 * Statements are named after a hash of their SQL and types (`pge_` and 32
 * hex digits), so behind a transaction pooler such as PgBouncer a name
 * found on another server connection is the same statement, never another
 * query's. A statement the server lost (a `DEALLOCATE`/`DISCARD`, a pooler
 * moving the session) or already has is prepared again or run unprepared,
 * transparently, outside a transaction; so is one whose plan went stale
 * (a table's columns changed under it). Inside a transaction such an
 * error has already aborted the transaction, so it is reported (and the
 * statement forgotten, so that a retry of the transaction works); behind
 * a transaction pooler, which the engine recognises at connect, the cache
 * is not used inside transactions for that reason.
 *
 * What it costs: up to @max_statements prepared statements of server
 * memory per connection, and one extra `SELECT pg_backend_pid()` per
 * connect. Like any prepared statement, after five runs the server may
 * switch to a generic plan (see the server's `plan_cache_mode`).
 * Thread-safe.
 *
 * Since: 1.0
 */
void
pge_config_set_statement_cache (PgeConfig *config, guint max_statements)
{
  g_return_if_fail (config != NULL);
  CONFIG_SET (config, statement_cache, max_statements);
}

/**
 * pge_config_get_statement_cache:
 * @config: a #PgeConfig
 *
 * Returns: the prepared statements kept per connection (0: none; 256
 *   unless set)
 *
 * Since: 1.0
 */
guint
pge_config_get_statement_cache (PgeConfig *config)
{
  guint value;

  g_return_val_if_fail (config != NULL, 0);
  CONFIG_GET (config, statement_cache, value);
  return value;
}

/**
 * pge_config_set_log_queries:
 * @config: a #PgeConfig
 * @enabled: whether to log each query
 *
 * Logs every statement through GLib structured logging, domain "pgengine",
 * level %G_LOG_LEVEL_MESSAGE, with the SQL (password literals masked), the
 * worker and the duration. Parameters are never logged. Thread-safe.
 *
 * Since: 1.0
 */
void
pge_config_set_log_queries (PgeConfig *config, gboolean enabled)
{
  g_return_if_fail (config != NULL);
  CONFIG_SET (config, log_queries, !!enabled);
}

/**
 * pge_config_set_log_responses:
 * @config: a #PgeConfig
 * @enabled: whether to add row counts and command tags
 *
 * Adds the response (command tag, row count) to each query record; implies
 * query logging. Thread-safe.
 *
 * Since: 1.0
 */
void
pge_config_set_log_responses (PgeConfig *config, gboolean enabled)
{
  g_return_if_fail (config != NULL);
  CONFIG_SET (config, log_responses, !!enabled);
}

/**
 * pge_config_add_extension:
 * @config: a #PgeConfig
 * @name: an extension name, e.g. "pgcrypto"
 *
 * pge_engine_new() runs `CREATE EXTENSION IF NOT EXISTS` for it (quoted as
 * an identifier) and fails if the server cannot; it reports an empty or
 * %NULL @name as %PGE_ERROR_INVALID_ARGUMENT. Thread-safe.
 *
 * Since: 1.0
 */
void
pge_config_add_extension (PgeConfig *config, const char *name)
{
  g_return_if_fail (config != NULL);
  /* Data, not a programmer error: a binding may pass None. Kept as an
   * empty name, which pge_engine_new() reports. */
  g_mutex_lock (&config->lock);
  g_ptr_array_add (config->settings.extensions, g_strdup (name ? name : ""));
  g_mutex_unlock (&config->lock);
}

/**
 * pge_config_add_node:
 * @config: a #PgeConfig
 * @name: the node's name, used with pge_engine_query_on_node()
 * @conninfo: (nullable): the node's libpq connection string
 * @n_workers: its worker count, 1 to 1024
 *
 * Adds an extra node, such as a read replica. Queries go there only when
 * asked by name. pge_engine_new() rejects (%PGE_ERROR_INVALID_ARGUMENT) an
 * empty, %NULL or repeated name, or "primary", the main node's own name.
 * Thread-safe.
 *
 * Since: 1.0
 */
void
pge_config_add_node (PgeConfig *config, const char *name, const char *conninfo, guint n_workers)
{
  g_return_if_fail (config != NULL);
  g_mutex_lock (&config->lock);
  g_ptr_array_add (config->settings.nodes, node_settings_new (name, conninfo, n_workers));
  g_mutex_unlock (&config->lock);
}

/**
 * pge_config_add_replica:
 * @config: a #PgeConfig
 * @name: the node's name, for pge_engine_query_on_node() and
 *   pge_engine_get_node_stats()
 * @conninfo: (nullable): the replica's libpq connection string
 * @n_workers: its worker count, 1 to 1024
 *
 * Adds a read replica: a node like pge_config_add_node()'s that
 * pge_engine_query_read() also sends reads to, by the read policy, while
 * it is up and within the lag limits. Unlike other nodes, a replica that
 * cannot be reached does not fail pge_engine_new(): it starts marked
 * down. Name rules as for pge_config_add_node(). Thread-safe.
 *
 * Unless @conninfo names one, the node's connections use
 * `target_session_attrs=prefer-standby`: with several hosts (the members
 * of an HA cluster) they go to a standby when there is one. A replica
 * whose server is promoted (a failover) gets no reads, and the node
 * looks for a standby among its hosts again (see the README, "Running
 * under Patroni").
 *
 * Since: 1.0
 */
void
pge_config_add_replica (PgeConfig *config, const char *name, const char *conninfo, guint n_workers)
{
  PgeNodeSettings *node;

  g_return_if_fail (config != NULL);
  node = node_settings_new (name, conninfo, n_workers);
  node->replica = TRUE;
  g_mutex_lock (&config->lock);
  g_ptr_array_add (config->settings.nodes, node);
  g_mutex_unlock (&config->lock);
}

/**
 * pge_config_set_read_policy:
 * @config: a #PgeConfig
 * @policy: a #PgeReadPolicy (default %PGE_READ_ROUND_ROBIN)
 *
 * How pge_engine_query_read() picks a replica. A value that is not a
 * #PgeReadPolicy makes pge_engine_new() fail with
 * %PGE_ERROR_INVALID_ARGUMENT. Thread-safe.
 *
 * Since: 1.0
 */
void
pge_config_set_read_policy (PgeConfig *config, PgeReadPolicy policy)
{
  g_return_if_fail (config != NULL);
  g_mutex_lock (&config->lock);
  config->settings.read_policy = (guint) policy;
  g_mutex_unlock (&config->lock);
}

/**
 * pge_config_set_max_replica_lag:
 * @config: a #PgeConfig
 * @max_bytes: most bytes of WAL a replica may be behind the primary, 0
 *   for no limit (the default)
 * @max_ms: most milliseconds a replica's replay may be behind, 0 for no
 *   limit (the default)
 *
 * A replica found beyond either limit by the periodic check
 * (pge_config_set_replica_check_interval()) gets no reads until a later
 * check finds it within them; reads go to the other replicas, or to the
 * primary. The lag is measured in the background, never per query.
 * Thread-safe.
 *
 * Since: 1.0
 */
void
pge_config_set_max_replica_lag (PgeConfig *config, guint64 max_bytes, guint max_ms)
{
  g_return_if_fail (config != NULL);
  g_mutex_lock (&config->lock);
  config->settings.max_lag_bytes = max_bytes;
  config->settings.max_lag_ms = max_ms;
  g_mutex_unlock (&config->lock);
}

/**
 * pge_config_set_replica_check_interval:
 * @config: a #PgeConfig
 * @interval_ms: how often the engine's replica checker asks each replica
 *   for its replay position, 10 to 60000 ms (default 200)
 *
 * The checker runs on a thread of its own with one connection to the
 * primary and one to each replica; it also notices a replica that went
 * down while idle, and one that came back. A value out of range makes
 * pge_engine_new() fail with %PGE_ERROR_INVALID_ARGUMENT. Thread-safe.
 *
 * Since: 1.0
 */
void
pge_config_set_replica_check_interval (PgeConfig *config, guint interval_ms)
{
  g_return_if_fail (config != NULL);
  g_mutex_lock (&config->lock);
  config->settings.replica_check_ms = interval_ms;
  g_mutex_unlock (&config->lock);
}

/**
 * pge_config_set_max_lifetime:
 * @config: a #PgeConfig
 * @lifetime_ms: milliseconds, 0 for no limit; else at least 100, checked
 *   by pge_engine_new()
 *
 * How long a connection serves before it is replaced by a fresh one, so
 * that server-side memory does not grow without bound and a load
 * balancer or a failover sees connections move. Each connection gets
 * @lifetime_ms plus or minus a random 10%, so connections made together do
 * not all expire together. A connection past its lifetime is replaced
 * between jobs, by its worker thread: never inside a transaction, a
 * session or a batch (those end first), and it is not reported as lost
 * (#PgeEngine::connection-lost). Default one hour. Thread-safe.
 *
 * Since: 1.2
 */
void
pge_config_set_max_lifetime (PgeConfig *config, guint lifetime_ms)
{
  g_return_if_fail (config != NULL);
  CONFIG_SET (config, max_lifetime_ms, lifetime_ms);
}

/**
 * pge_config_get_max_lifetime:
 * @config: a #PgeConfig
 *
 * Returns: the connection lifetime in milliseconds (0: unlimited)
 *
 * Since: 1.2
 */
guint
pge_config_get_max_lifetime (PgeConfig *config)
{
  guint value;

  g_return_val_if_fail (config != NULL, 0);
  CONFIG_GET (config, max_lifetime_ms, value);
  return value;
}

/**
 * pge_config_set_max_idle:
 * @config: a #PgeConfig
 * @idle_ms: milliseconds, 0 for no limit; else at least 100, checked by
 *   pge_engine_new()
 *
 * A connection left idle longer than @idle_ms is closed, and opened again
 * when a job needs it (that job then waits for the connect). This serves
 * networks whose firewalls or NAT drop idle TCP connections silently.
 * The connections used most stay warm: idle ones are taken last-in,
 * first-out. Default 0 (never). Thread-safe.
 *
 * Since: 1.2
 */
void
pge_config_set_max_idle (PgeConfig *config, guint idle_ms)
{
  g_return_if_fail (config != NULL);
  CONFIG_SET (config, max_idle_ms, idle_ms);
}

/**
 * pge_config_get_max_idle:
 * @config: a #PgeConfig
 *
 * Returns: the idle limit in milliseconds (0: none)
 *
 * Since: 1.2
 */
guint
pge_config_get_max_idle (PgeConfig *config)
{
  guint value;

  g_return_val_if_fail (config != NULL, 0);
  CONFIG_GET (config, max_idle_ms, value);
  return value;
}

/**
 * pge_config_set_reconnect_timeout:
 * @config: a #PgeConfig
 * @timeout_ms: milliseconds, 0 to never give up
 *
 * How long a node may stay unreachable (no connection up, every attempt
 * failing) before the engine gives up on it: its queued jobs then fail at
 * once with %PGE_ERROR_CONNECTION, so do new ones instead of waiting out
 * the acquire timeout, and #PgeEngine::node-unreachable is emitted. The
 * workers keep retrying in the background (with backoff); the first
 * connection that succeeds ends it and #PgeEngine::node-reachable is
 * emitted. Default 300000 (5 minutes). Thread-safe.
 *
 * Since: 1.2
 */
void
pge_config_set_reconnect_timeout (PgeConfig *config, guint timeout_ms)
{
  g_return_if_fail (config != NULL);
  CONFIG_SET (config, reconnect_timeout_ms, timeout_ms);
}

/**
 * pge_config_get_reconnect_timeout:
 * @config: a #PgeConfig
 *
 * Returns: the reconnect timeout in milliseconds (0: never give up)
 *
 * Since: 1.2
 */
guint
pge_config_get_reconnect_timeout (PgeConfig *config)
{
  guint value;

  g_return_val_if_fail (config != NULL, 0);
  CONFIG_GET (config, reconnect_timeout_ms, value);
  return value;
}

/**
 * pge_config_set_min_workers:
 * @config: a #PgeConfig
 * @min_workers: connections of the main node kept open, at most the
 *   worker count (checked by pge_engine_new()); 0 for all of them
 *
 * Lets the main node's pool grow and shrink, as pgxpool's MinConns and
 * MaxConns do: pge_config_set_workers() is the most connections, and
 * @min_workers are opened at start and kept open. When work queues and
 * every open connection is busy, another worker opens its connection for
 * it (that job waits for the connect); a connection above @min_workers
 * that stays idle for pge_config_set_max_idle() (60 s when that is 0) is
 * closed again. The worker threads all exist from the start, so growing
 * costs a connect, never a thread. Default 0: a fixed pool, every
 * connection opened at start. Thread-safe.
 *
 * Since: 1.2
 */
void
pge_config_set_min_workers (PgeConfig *config, guint min_workers)
{
  g_return_if_fail (config != NULL);
  CONFIG_SET (config, primary.min_workers, min_workers);
}

/**
 * pge_config_get_min_workers:
 * @config: a #PgeConfig
 *
 * Returns: the connections of the main node kept open (0: all)
 *
 * Since: 1.2
 */
guint
pge_config_get_min_workers (PgeConfig *config)
{
  guint value;

  g_return_val_if_fail (config != NULL, 0);
  CONFIG_GET (config, primary.min_workers, value);
  return value;
}

/**
 * PgeConnectFunc:
 * @conn: the new connection, idle, already set up by the engine
 * @user_data: the data given to pge_config_set_connect_func()
 * @error: return location for a #GError
 *
 * Prepares a new connection before it serves anyone: `SET ROLE`, `SET`s,
 * type look-ups, extensions. It runs on the thread that holds the
 * connection (a worker thread, or a blocking caller that reconnects a
 * connection it took), possibly on several threads at once, each with its
 * own @conn. It must leave @conn idle, outside any transaction, and must
 * not close it.
 *
 * Returns: %TRUE on success; %FALSE with @error set fails that connection
 *   attempt with @error (the connection is closed and never used)
 *
 * Since: 1.2
 */

/**
 * pge_config_set_connect_func: (skip)
 * @config: a #PgeConfig
 * @func: (nullable) (scope notified) (closure user_data): run on every new
 *   connection, or %NULL for none
 * @user_data: data for @func
 * @notify: (nullable): frees @user_data once no config, engine or
 *   connection uses @func any more
 *
 * Runs @func on every connection the engine makes, before the connection
 * serves anyone: at start, after a reconnect, when a connection is
 * replaced (lifetime, recycle) and after a session's `DISCARD ALL`, which
 * undid what it set. It runs after the script of
 * pge_config_set_connect_sql(). A failure fails that connection attempt
 * (at start, pge_engine_new() fails with @func's error). Replaces an
 * earlier function (its @notify runs once nobody uses it). Thread-safe.
 * Bindings use pge_config_set_connect_sql(): @func takes a libpq
 * `PGconn`.
 *
 * Since: 1.2
 */
void
pge_config_set_connect_func (PgeConfig *config, PgeConnectFunc func, gpointer user_data,
                             GDestroyNotify notify)
{
  PgeConnectHook *old;

  g_return_if_fail (config != NULL);
  g_mutex_lock (&config->lock);
  old = config->settings.on_connect;
  config->settings.on_connect = pge_connect_hook_with_func (old, func, user_data, notify);
  g_mutex_unlock (&config->lock);
  pge_connect_hook_unref (old);
}

/**
 * pge_config_set_connect_sql:
 * @config: a #PgeConfig
 * @sql: (nullable): one or more statements separated by `;` (simple
 *   protocol, no parameters), or %NULL for none
 *
 * Runs @sql on every connection the engine makes, before the connection
 * serves anyone, and again after a session's `DISCARD ALL`: the script
 * form of pge_config_set_connect_func(), for bindings, e.g.
 * `"SET search_path = app, public; SET ROLE app_user"`. A failing
 * statement fails that connection attempt with its error (at start,
 * pge_engine_new() fails with it). Thread-safe.
 *
 * Since: 1.2
 */
void
pge_config_set_connect_sql (PgeConfig *config, const char *sql)
{
  PgeConnectHook *old;

  g_return_if_fail (config != NULL);
  g_mutex_lock (&config->lock);
  old = config->settings.on_connect;
  config->settings.on_connect = pge_connect_hook_with_sql (old, sql);
  g_mutex_unlock (&config->lock);
  pge_connect_hook_unref (old);
}

/**
 * pge_config_get_connect_sql:
 * @config: a #PgeConfig
 *
 * Returns: (transfer full) (nullable): a copy of the on-connect script,
 *   or %NULL
 *
 * Since: 1.2
 */
char *
pge_config_get_connect_sql (PgeConfig *config)
{
  char *sql;

  g_return_val_if_fail (config != NULL, NULL);
  g_mutex_lock (&config->lock);
  sql = g_strdup (pge_connect_hook_get_sql (config->settings.on_connect));
  g_mutex_unlock (&config->lock);
  return sql;
}

static gboolean
validate_routing (const PgeSettings *settings, GError **error)
{
  if (settings->read_policy > PGE_READ_LEAST_BUSY)
    {
      g_set_error (error, PGE_ERROR, PGE_ERROR_INVALID_ARGUMENT,
                   "%u is not a PgeReadPolicy", settings->read_policy);
      return FALSE;
    }
  if (settings->replica_check_ms < PGE_REPLICA_CHECK_MIN_MS ||
      settings->replica_check_ms > PGE_REPLICA_CHECK_MAX_MS)
    {
      g_set_error (error, PGE_ERROR, PGE_ERROR_INVALID_ARGUMENT,
                   "the replica check interval must be between %d and %d ms, not %u",
                   PGE_REPLICA_CHECK_MIN_MS, PGE_REPLICA_CHECK_MAX_MS, settings->replica_check_ms);
      return FALSE;
    }
  return TRUE;
}

PgeSettings *
pge_config_snapshot (PgeConfig *config)
{
  PgeSettings *copy = g_new0 (PgeSettings, 1);
  const PgeSettings *src;

  g_mutex_lock (&config->lock);
  src = &config->settings;
  *copy = *src;
  copy->primary.name = g_strdup (src->primary.name);
  copy->primary.conninfo = g_strdup (src->primary.conninfo);
  copy->nodes = g_ptr_array_new_with_free_func (node_settings_free);
  for (guint i = 0; i < src->nodes->len; i++)
    {
      const PgeNodeSettings *node = src->nodes->pdata[i];
      PgeNodeSettings *node_copy = node_settings_new (node->name, node->conninfo, node->n_workers);

      node_copy->replica = node->replica;
      node_copy->min_workers = node->min_workers;
      g_ptr_array_add (copy->nodes, node_copy);
    }
  copy->extensions = g_ptr_array_new_with_free_func (g_free);
  for (guint i = 0; i < src->extensions->len; i++)
    g_ptr_array_add (copy->extensions, g_strdup (src->extensions->pdata[i]));
  if (src->on_connect != NULL)
    copy->on_connect = pge_connect_hook_ref (src->on_connect);
  g_mutex_unlock (&config->lock);
  if (copy->log_responses)
    copy->log_queries = TRUE;
  return copy;
}

static gboolean
validate_node (const PgeNodeSettings *node, GError **error)
{
  PQconninfoOption *options;
  char *errmsg = NULL;

  if (node->n_workers == 0 || node->n_workers > PGE_MAX_WORKERS)
    {
      g_set_error (error, PGE_ERROR, PGE_ERROR_INVALID_ARGUMENT,
                   "node \"%s\": worker count must be between 1 and %d, not %u",
                   node->name, PGE_MAX_WORKERS, node->n_workers);
      return FALSE;
    }
  if (node->min_workers > node->n_workers)
    {
      g_set_error (error, PGE_ERROR, PGE_ERROR_INVALID_ARGUMENT,
                   "node \"%s\": min_workers (%u) is more than the worker count (%u)",
                   node->name, node->min_workers, node->n_workers);
      return FALSE;
    }
  /* libpq's parse message can quote a fragment of the string, and that
   * fragment can be a password: never pass it on. */
  options = PQconninfoParse (node->conninfo, &errmsg);
  if (options == NULL)
    {
      PQfreemem (errmsg);
      g_set_error (error, PGE_ERROR, PGE_ERROR_INVALID_ARGUMENT,
                   "node \"%s\": the connection string is not valid libpq syntax "
                   "(keyword=value pairs or a postgresql:// URI)", node->name);
      return FALSE;
    }
  PQconninfoFree (options);
  return TRUE;
}

gboolean
pge_settings_validate (const PgeSettings *settings, GError **error)
{
  g_autoptr(GHashTable) names = g_hash_table_new (g_str_hash, g_str_equal);

  if (!validate_node (&settings->primary, error))
    return FALSE;
  g_hash_table_add (names, settings->primary.name);
  for (guint i = 0; i < settings->nodes->len; i++)
    {
      const PgeNodeSettings *node = settings->nodes->pdata[i];

      if (*node->name == '\0' || g_hash_table_contains (names, node->name))
        {
          g_set_error (error, PGE_ERROR, PGE_ERROR_INVALID_ARGUMENT,
                       "node name \"%s\" is empty, reserved or used twice", node->name);
          return FALSE;
        }
      g_hash_table_add (names, node->name);
      if (!validate_node (node, error))
        return FALSE;
    }
  if (settings->pipeline_depth == 0 || settings->pipeline_depth > PGE_PIPELINE_DEPTH_MAX)
    {
      g_set_error (error, PGE_ERROR, PGE_ERROR_INVALID_ARGUMENT,
                   "pipeline depth must be between 1 and %d, not %u", PGE_PIPELINE_DEPTH_MAX,
                   settings->pipeline_depth);
      return FALSE;
    }
  if (settings->statement_cache > PGE_STATEMENT_CACHE_LIMIT)
    {
      g_set_error (error, PGE_ERROR, PGE_ERROR_INVALID_ARGUMENT,
                   "the statement cache takes at most %d statements, not %u",
                   PGE_STATEMENT_CACHE_LIMIT, settings->statement_cache);
      return FALSE;
    }
  if (!validate_routing (settings, error))
    return FALSE;
  if (settings->max_lifetime_ms != 0 && settings->max_lifetime_ms < PGE_MIN_LIFETIME_MS)
    {
      g_set_error (error, PGE_ERROR, PGE_ERROR_INVALID_ARGUMENT,
                   "the connection lifetime must be 0 (unlimited) or at least %d ms, not %u",
                   PGE_MIN_LIFETIME_MS, settings->max_lifetime_ms);
      return FALSE;
    }
  if (settings->max_idle_ms != 0 && settings->max_idle_ms < PGE_MIN_LIFETIME_MS)
    {
      g_set_error (error, PGE_ERROR, PGE_ERROR_INVALID_ARGUMENT,
                   "the idle limit must be 0 (none) or at least %d ms, not %u",
                   PGE_MIN_LIFETIME_MS, settings->max_idle_ms);
      return FALSE;
    }
  for (guint i = 0; i < settings->extensions->len; i++)
    if (*(const char *) settings->extensions->pdata[i] == '\0')
      {
        g_set_error_literal (error, PGE_ERROR, PGE_ERROR_INVALID_ARGUMENT,
                             "an extension name is empty");
        return FALSE;
      }
  return TRUE;
}

void
pge_settings_free (PgeSettings *settings)
{
  if (settings == NULL)
    return;
  settings_clear (settings);
  g_free (settings);
}
