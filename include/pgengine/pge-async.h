/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined(PGE_INSIDE_PGENGINE_H) && !defined(PGE_COMPILATION)
#error "Only <pgengine.h> can be included directly."
#endif

#include <pgengine/pge-types.h>
#include <pgengine/pge-transaction.h>

G_BEGIN_DECLS

/* GIO-style `_async` / `_finish` pairs for code that runs a GLib main loop
 * (GTK applications): each callback runs in the thread-default
 * GMainContext of the calling thread at the time of the `_async` call, and
 * none of these calls blocks. pge_engine_query_async() lives with
 * pge_engine_query() in pge-engine.h. */

PGE_AVAILABLE_IN_1_0 void            pge_engine_new_async            (PgeConfig          *config,
                                                               GCancellable       *cancellable,
                                                               GAsyncReadyCallback callback,
                                                               gpointer            user_data);
PGE_AVAILABLE_IN_1_0 PgeEngine      *pge_engine_new_finish           (GAsyncResult *result,
                                                               GError      **error);

PGE_AVAILABLE_IN_1_0 void            pge_engine_transaction_async    (PgeEngine          *engine,
                                                               PgeTransactionFlags flags,
                                                               GCancellable       *cancellable,
                                                               GAsyncReadyCallback callback,
                                                               gpointer            user_data);
PGE_AVAILABLE_IN_1_0 PgeTransaction *pge_engine_transaction_finish   (PgeEngine    *engine,
                                                               GAsyncResult *result,
                                                               GError      **error);

PGE_AVAILABLE_IN_1_0 void            pge_transaction_query_async     (PgeTransaction     *tx,
                                                               const char         *sql,
                                                               PgeParams          *params,
                                                               GCancellable       *cancellable,
                                                               GAsyncReadyCallback callback,
                                                               gpointer            user_data);
PGE_AVAILABLE_IN_1_0 PgeResult      *pge_transaction_query_finish    (PgeTransaction *tx,
                                                               GAsyncResult   *result,
                                                               GError        **error);

PGE_AVAILABLE_IN_1_0 void            pge_transaction_commit_async    (PgeTransaction     *tx,
                                                               GCancellable       *cancellable,
                                                               GAsyncReadyCallback callback,
                                                               gpointer            user_data);
PGE_AVAILABLE_IN_1_0 gboolean        pge_transaction_commit_finish   (PgeTransaction *tx,
                                                               GAsyncResult   *result,
                                                               GError        **error);

PGE_AVAILABLE_IN_1_0 void            pge_transaction_rollback_async  (PgeTransaction     *tx,
                                                               GCancellable       *cancellable,
                                                               GAsyncReadyCallback callback,
                                                               gpointer            user_data);
PGE_AVAILABLE_IN_1_0 gboolean        pge_transaction_rollback_finish (PgeTransaction *tx,
                                                               GAsyncResult   *result,
                                                               GError        **error);

PGE_AVAILABLE_IN_1_0 void            pge_engine_batch_async          (PgeEngine          *engine,
                                                               const char         *sql,
                                                               PgeParams          *params,
                                                               guint               batch_size,
                                                               GCancellable       *cancellable,
                                                               GAsyncReadyCallback callback,
                                                               gpointer            user_data);
PGE_AVAILABLE_IN_1_0 PgeBatch       *pge_engine_batch_finish         (PgeEngine    *engine,
                                                               GAsyncResult *result,
                                                               GError      **error);

PGE_AVAILABLE_IN_1_0 void            pge_batch_next_async            (PgeBatch           *batch,
                                                               GCancellable       *cancellable,
                                                               GAsyncReadyCallback callback,
                                                               gpointer            user_data);
PGE_AVAILABLE_IN_1_0 PgeResult      *pge_batch_next_finish           (PgeBatch     *batch,
                                                               GAsyncResult *result,
                                                               GError      **error);

PGE_AVAILABLE_IN_1_0 void            pge_atomic_run_async            (PgeAtomic          *atomic,
                                                               GCancellable       *cancellable,
                                                               GAsyncReadyCallback callback,
                                                               gpointer            user_data);
PGE_AVAILABLE_IN_1_0 gboolean        pge_atomic_run_finish           (PgeAtomic    *atomic,
                                                               GAsyncResult *result,
                                                               GError      **error);

G_END_DECLS
