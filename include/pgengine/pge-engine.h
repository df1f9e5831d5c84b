/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined(PGE_INSIDE_PGENGINE_H) && !defined(PGE_COMPILATION)
#error "Only <pgengine.h> can be included directly."
#endif

#include <pgengine/pge-types.h>

G_BEGIN_DECLS

#define PGE_TYPE_ENGINE (pge_engine_get_type ())
PGE_AVAILABLE_IN_1_0
G_DECLARE_FINAL_TYPE (PgeEngine, pge_engine, PGE, ENGINE, GObject)

/**
 * PgeStats:
 * @n_workers: workers (one connection each at most; with
 *   pge_config_set_min_workers(), some may have none open), over all nodes
 * @n_busy: workers running a job right now
 * @n_pinned: workers held by an open transaction, batch or session
 * @queue_length: jobs waiting for a worker
 * @n_completed: jobs finished without error
 * @n_failed: jobs finished with an error
 * @n_reconnects: connections re-established after a loss
 *
 * A snapshot of an engine's counters, filled by pge_engine_get_stats().
 *
 * Since: 1.0
 */
typedef struct {
  guint   n_workers;
  guint   n_busy;
  guint   n_pinned;
  guint   queue_length;
  guint64 n_completed;
  guint64 n_failed;
  guint64 n_reconnects;
} PgeStats;

/**
 * PgeWorkerFunc: (skip)
 * @conn: a connection of the engine, idle, borrowed for the call
 * @user_data: the data given to pge_engine_run_in_worker()
 * @error: return location for a #GError
 *
 * Blocking user code run with a connection of the engine, on the thread
 * that holds it: a worker thread, or a thread waiting for the future that
 * found the connection free (see pge_engine_run_in_worker()).
 *
 * Returns: (transfer full) (nullable): a result that becomes the future's
 *   result, or %NULL (with @error set on failure)
 *
 * Since: 1.0
 */
typedef PGresult *(*PgeWorkerFunc) (PGconn *conn, gpointer user_data, GError **error);

PGE_AVAILABLE_IN_1_0 PgeEngine *pge_engine_new                 (PgeConfig *config, GError **error) G_GNUC_WARN_UNUSED_RESULT;
PGE_AVAILABLE_IN_1_0 PgeEngine *pge_engine_ref                 (PgeEngine *engine);
PGE_AVAILABLE_IN_1_0 void       pge_engine_unref               (PgeEngine *engine);
PGE_AVAILABLE_IN_1_0 void       pge_engine_close               (PgeEngine *engine);
PGE_AVAILABLE_IN_1_0 gboolean   pge_engine_is_closed           (PgeEngine *engine);
PGE_AVAILABLE_IN_1_0 int        pge_engine_get_server_version  (PgeEngine *engine);
PGE_AVAILABLE_IN_1_0 guint      pge_engine_get_n_workers       (PgeEngine *engine);
PGE_AVAILABLE_IN_1_0 void       pge_engine_get_stats           (PgeEngine *engine, PgeStats *stats);

PGE_AVAILABLE_IN_1_0 PgeFuture *pge_engine_query               (PgeEngine  *engine,
                                                         const char *sql,
                                                         PgeParams  *params);
PGE_AVAILABLE_IN_1_0 PgeResult *pge_engine_query_sync          (PgeEngine  *engine,
                                                         const char *sql,
                                                         PgeParams  *params,
                                                         GError    **error);
PGE_AVAILABLE_IN_1_0 void       pge_engine_query_async         (PgeEngine          *engine,
                                                         const char         *sql,
                                                         PgeParams          *params,
                                                         GCancellable       *cancellable,
                                                         GAsyncReadyCallback callback,
                                                         gpointer            user_data);
PGE_AVAILABLE_IN_1_0 PgeResult *pge_engine_query_finish        (PgeEngine    *engine,
                                                         GAsyncResult *result,
                                                         GError      **error);
PGE_AVAILABLE_IN_1_0 PgeFuture *pge_engine_query_on_node       (PgeEngine  *engine,
                                                         const char *node,
                                                         const char *sql,
                                                         PgeParams  *params);
PGE_AVAILABLE_IN_1_0 gboolean   pge_engine_exec_sync           (PgeEngine  *engine,
                                                         const char *script,
                                                         GError    **error);
PGE_AVAILABLE_IN_1_0 PgeFuture *pge_engine_run_in_worker       (PgeEngine     *engine,
                                                         PgeWorkerFunc  func,
                                                         gpointer       user_data,
                                                         GDestroyNotify notify);

PGE_AVAILABLE_IN_1_2 void       pge_engine_recycle             (PgeEngine *engine);

G_END_DECLS
