/* reads.c — the read-routing calls: reads on replicas, read-your-writes,
 * and each node's routing state.
 *
 * Where a read goes is routing.c's to decide; this file checks the
 * caller's input, keeps a read inside the calling thread's current
 * transaction (which must see its own writes), and reports.
 *
 * Threads: no state of its own; every function may be called from any
 * thread.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "dispatch-private.h"
#include "engine-private.h"
#include "transaction-private.h"

static PgeFuture *
submit_read (PgeEngine *engine, guint64 lsn, guint timeout_ms, const char *sql, PgeParams *params)
{
  g_autoptr(PgeTransaction) tx = NULL;
  g_autoptr(PgeJob) job = NULL;
  GError *error = NULL;

  if (sql == NULL)
    return pge_future_new_invalid ("the SQL is NULL");
  if (!pge_engine_check_open (engine, &error))
    return pge_future_new_error (error);
  job = pge_job_new_query (sql, params);
  tx = pge_transaction_dup_current (engine);
  if (tx != NULL)
    pge_transaction_submit (tx, job);
  else
    pge_router_submit_read (pge_engine_get_router (engine), job, lsn, timeout_ms);
  return pge_future_ref (job->future);
}

/**
 * pge_engine_query_read:
 * @engine: a #PgeEngine
 * @sql: one SQL statement that only reads, with `$1`, `$2` ... placeholders
 * @params: (nullable): the parameters, copied before this returns
 *
 * Queues @sql on a read replica (pge_config_add_replica()) picked by the
 * read policy among those that are up and within the lag limits, or on
 * the primary when there is none. It may therefore not see the latest
 * commits; pge_engine_query_read_after() reads one's own writes. On a
 * thread with a current transaction on @engine, it runs inside that
 * transaction instead, like pge_engine_query(). A statement that writes
 * fails on a replica with the server's read-only error (SQLSTATE 25006),
 * never silently. Errors show on the future, as for pge_engine_query().
 * Thread-safe; never blocks.
 *
 * Returns: (transfer full): a future for the result
 *
 * Since: 1.0
 */
PgeFuture *
pge_engine_query_read (PgeEngine *engine, const char *sql, PgeParams *params)
{
  g_return_val_if_fail (PGE_IS_ENGINE (engine), NULL);
  return submit_read (engine, 0, 0, sql, params);
}

/**
 * pge_engine_query_read_after:
 * @engine: a #PgeEngine
 * @lsn: a WAL position from pge_engine_get_write_lsn_sync(), taken after
 *   the commit the read must see; 0 for none
 * @timeout_ms: how long the read may wait for a replica to replay past
 *   @lsn before it goes to the primary instead; 0: at once
 * @sql: one SQL statement that only reads
 * @params: (nullable): the parameters, copied before this returns
 *
 * Read-your-writes: like pge_engine_query_read(), but only a replica that
 * has replayed past @lsn (as the background check last saw it) gets the
 * read; until one has, the read waits — on no worker, never blocking the
 * caller — and after @timeout_ms it runs on the primary. Either way the
 * result includes every commit made before @lsn was taken. Thread-safe;
 * never blocks.
 *
 * Returns: (transfer full): a future for the result
 *
 * Since: 1.0
 */
PgeFuture *
pge_engine_query_read_after (PgeEngine  *engine,
                             guint64     lsn,
                             guint       timeout_ms,
                             const char *sql,
                             PgeParams  *params)
{
  g_return_val_if_fail (PGE_IS_ENGINE (engine), NULL);
  return submit_read (engine, lsn, timeout_ms, sql, params);
}

/**
 * pge_engine_get_write_lsn_sync:
 * @engine: a #PgeEngine
 * @error: return location for a #GError
 *
 * The primary's WAL position that every commit acknowledged before the
 * call has reached: called after a commit, a position at or past that
 * commit, for pge_engine_query_read_after(). It is the flush position
 * (an acknowledged synchronous commit is flushed), or, where the server
 * runs with `synchronous_commit = off`, the insert position, which can
 * run ahead of what a standby receives until the next flush.
 * Runs one short query on the primary (outside any transaction of the
 * calling thread) and blocks until it is done. Fails like a query
 * (%PGE_ERROR_CONNECTION, %PGE_ERROR_CLOSED ...); on a standby (a primary
 * node that is in recovery) with %PGE_ERROR_QUERY. Refused
 * (%PGE_ERROR_WOULD_DEADLOCK) on one of @engine's own threads (a
 * %NULL-context future callback), where it could wait for itself.
 *
 * Returns: the position as a byte offset, or 0 with @error set
 *
 * Since: 1.0
 */
guint64
pge_engine_get_write_lsn_sync (PgeEngine *engine, GError **error)
{
  g_autoptr(PgeJob) job = NULL;
  g_autoptr(PgeResult) result = NULL;

  g_return_val_if_fail (PGE_IS_ENGINE (engine), 0);
  g_return_val_if_fail (error == NULL || *error == NULL, 0);
  if (!pge_engine_check_may_block (engine, "pge_engine_get_write_lsn_sync()", error))
    return 0;
  /* Not the insert position whatever the setting: it includes records
   * nobody flushed yet, which a standby never gets if the primary dies
   * first (a failover), and a read-your-writes read then waits out its
   * timeout for nothing. */
  job = pge_job_new_query ("SELECT (CASE WHEN current_setting('synchronous_commit') = 'off' "
                           "THEN pg_current_wal_insert_lsn() ELSE pg_current_wal_flush_lsn() END "
                           "- '0/0'::pg_lsn)::int8", NULL);
  result = pge_dispatch_run_sync (pge_engine_get_primary (engine), job, error);
  if (result == NULL)
    return 0;
  return (guint64) g_ascii_strtoull (pge_result_get_value (result, 0, 0), NULL, 10);
}

/**
 * pge_engine_get_node_stats:
 * @engine: a #PgeEngine
 * @node: "primary" or a name from pge_config_add_node() or
 *   pge_config_add_replica()
 * @stats: (out caller-allocates): filled with the node's routing state
 * @error: return location for a #GError
 *
 * Whether the node is down, how often it was and how many calls it
 * refused meanwhile; for a replica, its lag and replay position at the
 * last check and the reads sent there; for any node, which server its
 * last new connection reached and how many times that changed (a
 * failover). An unknown or %NULL node, or %NULL @stats, is
 * %PGE_ERROR_INVALID_ARGUMENT. Never blocks for long; thread-safe.
 *
 * Returns: %TRUE, or %FALSE with @error set
 *
 * Since: 1.0
 */
gboolean
pge_engine_get_node_stats (PgeEngine *engine, const char *node, PgeNodeStats *stats, GError **error)
{
  PgePool *pool;

  g_return_val_if_fail (PGE_IS_ENGINE (engine), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);
  if (node == NULL || stats == NULL)
    {
      g_set_error_literal (error, PGE_ERROR, PGE_ERROR_INVALID_ARGUMENT,
                           node == NULL ? "the node name is NULL" : "stats is NULL");
      return FALSE;
    }
  pool = pge_engine_get_node (engine, node);
  if (pool == NULL)
    {
      g_set_error (error, PGE_ERROR, PGE_ERROR_INVALID_ARGUMENT, "no node is named \"%s\"", node);
      return FALSE;
    }
  *stats = (PgeNodeStats) { .lag_bytes = -1, .lag_ms = -1 };
  pge_pool_get_node_stats (pool, stats);
  if (pge_engine_get_router (engine) != NULL)
    pge_router_get_replica_stats (pge_engine_get_router (engine), pool, stats);
  return TRUE;
}
