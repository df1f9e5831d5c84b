/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined(PGE_INSIDE_PGENGINE_H) && !defined(PGE_COMPILATION)
#error "Only <pgengine.h> can be included directly."
#endif

#include <pgengine/pge-types.h>

G_BEGIN_DECLS

#define PGE_TYPE_TRANSACTION       (pge_transaction_get_type ())

/**
 * PgeTransactionFlags:
 * @PGE_TRANSACTION_DEFAULT: read committed, read write; nested: the parent
 * @PGE_TRANSACTION_READ_ONLY: `READ ONLY`
 * @PGE_TRANSACTION_REPEATABLE_READ: `ISOLATION LEVEL REPEATABLE READ`
 * @PGE_TRANSACTION_SERIALIZABLE: `ISOLATION LEVEL SERIALIZABLE`
 * @PGE_TRANSACTION_DEFERRABLE: `DEFERRABLE`
 * @PGE_TRANSACTION_NO_NESTING: nested: fail with %PGE_ERROR_NESTED
 * @PGE_TRANSACTION_SAVEPOINT: nested: a savepoint-backed inner transaction
 *
 * Options of pge_engine_transaction().
 *
 * Since: 1.0
 */
typedef enum {
  PGE_TRANSACTION_DEFAULT         = 0,
  PGE_TRANSACTION_READ_ONLY       = 1 << 0,
  PGE_TRANSACTION_REPEATABLE_READ = 1 << 1,
  PGE_TRANSACTION_SERIALIZABLE    = 1 << 2,
  PGE_TRANSACTION_DEFERRABLE      = 1 << 3,
  PGE_TRANSACTION_NO_NESTING      = 1 << 4,
  PGE_TRANSACTION_SAVEPOINT       = 1 << 5
} PgeTransactionFlags;

/**
 * PgeTransactionFunc:
 * @tx: the open transaction
 * @user_data: the data given to pge_engine_run_transaction()
 * @error: return location for a #GError
 *
 * The body of pge_engine_run_transaction(). Runs on the calling thread,
 * with @tx as its current transaction.
 *
 * Returns: %TRUE to commit, %FALSE (with @error set) to roll back
 *
 * Since: 1.0
 */
typedef gboolean (*PgeTransactionFunc) (PgeTransaction *tx, gpointer user_data, GError **error);

PGE_AVAILABLE_IN_1_0 GType           pge_transaction_get_type           (void) G_GNUC_CONST;
PGE_AVAILABLE_IN_1_0 PgeTransaction *pge_engine_transaction             (PgeEngine           *engine,
                                                                  PgeTransactionFlags  flags,
                                                                  GError             **error);
PGE_AVAILABLE_IN_1_0 PgeTransaction *pge_engine_get_current_transaction (PgeEngine *engine);
PGE_AVAILABLE_IN_1_0 gboolean        pge_engine_transaction_exists      (PgeEngine *engine);
PGE_AVAILABLE_IN_1_0 gboolean        pge_engine_run_transaction         (PgeEngine           *engine,
                                                                  PgeTransactionFlags  flags,
                                                                  guint                max_retries,
                                                                  PgeTransactionFunc   func,
                                                                  gpointer             user_data,
                                                                  GError             **error);

PGE_AVAILABLE_IN_1_0 PgeTransaction *pge_transaction_ref              (PgeTransaction *tx);
PGE_AVAILABLE_IN_1_0 void            pge_transaction_unref            (PgeTransaction *tx);
PGE_AVAILABLE_IN_1_0 PgeEngine      *pge_transaction_get_engine       (PgeTransaction *tx);
PGE_AVAILABLE_IN_1_0 PgeTransaction *pge_transaction_get_parent       (PgeTransaction *tx);
PGE_AVAILABLE_IN_1_0 PgeFuture      *pge_transaction_query            (PgeTransaction *tx,
                                                                const char     *sql,
                                                                PgeParams      *params);
PGE_AVAILABLE_IN_1_0 PgeResult      *pge_transaction_query_sync       (PgeTransaction *tx,
                                                                const char     *sql,
                                                                PgeParams      *params,
                                                                GError        **error);
PGE_AVAILABLE_IN_1_0 gboolean        pge_transaction_exec_sync        (PgeTransaction *tx,
                                                                const char     *script,
                                                                GError        **error);
PGE_AVAILABLE_IN_1_0 gboolean        pge_transaction_commit           (PgeTransaction *tx, GError **error);
PGE_AVAILABLE_IN_1_0 gboolean        pge_transaction_rollback         (PgeTransaction *tx, GError **error);
PGE_AVAILABLE_IN_1_0 gboolean        pge_transaction_is_committed     (PgeTransaction *tx);
PGE_AVAILABLE_IN_1_0 gboolean        pge_transaction_is_rolled_back   (PgeTransaction *tx);
PGE_AVAILABLE_IN_1_0 guint           pge_transaction_get_savepoint_id (PgeTransaction *tx);
PGE_AVAILABLE_IN_1_2 guint           pge_transaction_next_savepoint_id (PgeTransaction *tx);
PGE_AVAILABLE_IN_1_0 PgeSavepoint   *pge_transaction_savepoint        (PgeTransaction *tx,
                                                                const char     *name,
                                                                GError        **error);
PGE_AVAILABLE_IN_1_0 gboolean        pge_transaction_rollback_to      (PgeTransaction *tx,
                                                                const char     *savepoint_name,
                                                                GError        **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PgeTransaction, pge_transaction_unref)

G_END_DECLS
