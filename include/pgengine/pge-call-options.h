/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined(PGE_INSIDE_PGENGINE_H) && !defined(PGE_COMPILATION)
#error "Only <pgengine.h> can be included directly."
#endif

#include <pgengine/pge-types.h>
#include <pgengine/pge-transaction.h>

G_BEGIN_DECLS

typedef struct _PgeCallOptions PgeCallOptions;

#define PGE_TYPE_CALL_OPTIONS (pge_call_options_get_type ())

PGE_AVAILABLE_IN_1_2 GType           pge_call_options_get_type  (void) G_GNUC_CONST;
PGE_AVAILABLE_IN_1_2 PgeCallOptions *pge_call_options_new       (void) G_GNUC_WARN_UNUSED_RESULT;
PGE_AVAILABLE_IN_1_2 PgeCallOptions *pge_call_options_ref       (PgeCallOptions *options);
PGE_AVAILABLE_IN_1_2 void            pge_call_options_unref     (PgeCallOptions *options);
PGE_AVAILABLE_IN_1_2 void            pge_call_options_set_acquire_timeout   (PgeCallOptions *options,
                                                                         guint           timeout_ms);
PGE_AVAILABLE_IN_1_2 gint            pge_call_options_get_acquire_timeout   (PgeCallOptions *options);
PGE_AVAILABLE_IN_1_2 void            pge_call_options_set_statement_timeout (PgeCallOptions *options,
                                                                         guint           timeout_ms);
PGE_AVAILABLE_IN_1_2 gint            pge_call_options_get_statement_timeout (PgeCallOptions *options);

PGE_AVAILABLE_IN_1_2 PgeFuture      *pge_engine_query_with_options        (PgeEngine      *engine,
                                                                       const char     *sql,
                                                                       PgeParams      *params,
                                                                       PgeCallOptions *options);
PGE_AVAILABLE_IN_1_2 PgeResult      *pge_engine_query_with_options_sync   (PgeEngine      *engine,
                                                                       const char     *sql,
                                                                       PgeParams      *params,
                                                                       PgeCallOptions *options,
                                                                       GError        **error);
PGE_AVAILABLE_IN_1_2 void            pge_engine_query_with_options_async  (PgeEngine          *engine,
                                                                       const char         *sql,
                                                                       PgeParams          *params,
                                                                       PgeCallOptions     *options,
                                                                       GCancellable       *cancellable,
                                                                       GAsyncReadyCallback callback,
                                                                       gpointer            user_data);
PGE_AVAILABLE_IN_1_2 PgeResult      *pge_engine_query_with_options_finish (PgeEngine    *engine,
                                                                       GAsyncResult *result,
                                                                       GError      **error);
PGE_AVAILABLE_IN_1_2 PgeTransaction *pge_engine_transaction_with_options  (PgeEngine           *engine,
                                                                       PgeTransactionFlags  flags,
                                                                       PgeCallOptions      *options,
                                                                       GError             **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PgeCallOptions, pge_call_options_unref)

G_END_DECLS
