/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined(PGE_INSIDE_PGENGINE_H) && !defined(PGE_COMPILATION)
#error "Only <pgengine.h> can be included directly."
#endif

#include <pgengine/pge-types.h>

G_BEGIN_DECLS

#define PGE_TYPE_BATCH (pge_batch_get_type ())

PGE_AVAILABLE_IN_1_0 GType      pge_batch_get_type       (void) G_GNUC_CONST;
PGE_AVAILABLE_IN_1_0 PgeBatch  *pge_engine_batch         (PgeEngine  *engine,
                                                   const char *sql,
                                                   PgeParams  *params,
                                                   guint       batch_size,
                                                   GError    **error);
PGE_AVAILABLE_IN_1_0 PgeBatch  *pge_transaction_batch    (PgeTransaction *tx,
                                                   const char     *sql,
                                                   PgeParams      *params,
                                                   guint           batch_size,
                                                   GError        **error);
PGE_AVAILABLE_IN_1_0 PgeBatch  *pge_batch_ref            (PgeBatch *batch);
PGE_AVAILABLE_IN_1_0 void       pge_batch_unref          (PgeBatch *batch);
PGE_AVAILABLE_IN_1_0 PgeResult *pge_batch_next           (PgeBatch *batch, GError **error);
PGE_AVAILABLE_IN_1_0 PgeFuture *pge_batch_fetch          (PgeBatch *batch);
PGE_AVAILABLE_IN_1_0 gboolean   pge_batch_close          (PgeBatch *batch, GError **error);
PGE_AVAILABLE_IN_1_0 guint      pge_batch_get_batch_size (PgeBatch *batch);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PgeBatch, pge_batch_unref)

G_END_DECLS
