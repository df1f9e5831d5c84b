/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined(PGE_INSIDE_PGENGINE_H) && !defined(PGE_COMPILATION)
#error "Only <pgengine.h> can be included directly."
#endif

#include <pgengine/pge-types.h>

G_BEGIN_DECLS

#define PGE_TYPE_SAVEPOINT (pge_savepoint_get_type ())

PGE_AVAILABLE_IN_1_0 GType           pge_savepoint_get_type        (void) G_GNUC_CONST;
PGE_AVAILABLE_IN_1_0 PgeSavepoint   *pge_savepoint_ref             (PgeSavepoint *savepoint);
PGE_AVAILABLE_IN_1_0 void            pge_savepoint_unref           (PgeSavepoint *savepoint);
PGE_AVAILABLE_IN_1_0 const char     *pge_savepoint_get_name        (PgeSavepoint *savepoint);
PGE_AVAILABLE_IN_1_0 PgeTransaction *pge_savepoint_get_transaction (PgeSavepoint *savepoint);
PGE_AVAILABLE_IN_1_0 gboolean        pge_savepoint_rollback_to     (PgeSavepoint *savepoint, GError **error);
PGE_AVAILABLE_IN_1_0 gboolean        pge_savepoint_release         (PgeSavepoint *savepoint, GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PgeSavepoint, pge_savepoint_unref)

G_END_DECLS
