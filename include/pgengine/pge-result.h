/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined(PGE_INSIDE_PGENGINE_H) && !defined(PGE_COMPILATION)
#error "Only <pgengine.h> can be included directly."
#endif

#include <pgengine/pge-types.h>

G_BEGIN_DECLS

#define PGE_TYPE_RESULT (pge_result_get_type ())

PGE_AVAILABLE_IN_1_0 GType           pge_result_get_type          (void) G_GNUC_CONST;
PGE_AVAILABLE_IN_1_0 PgeResult      *pge_result_ref               (PgeResult *result);
PGE_AVAILABLE_IN_1_0 void            pge_result_unref             (PgeResult *result);
PGE_AVAILABLE_IN_1_0 guint           pge_result_get_n_rows        (PgeResult *result);
PGE_AVAILABLE_IN_1_0 guint           pge_result_get_n_columns     (PgeResult *result);
PGE_AVAILABLE_IN_1_0 const char     *pge_result_get_column_name   (PgeResult *result, guint column);
PGE_AVAILABLE_IN_1_0 int             pge_result_get_column_index  (PgeResult *result, const char *name);
PGE_AVAILABLE_IN_1_0 Oid             pge_result_get_column_type   (PgeResult *result, guint column);
PGE_AVAILABLE_IN_1_0 const char     *pge_result_get_value         (PgeResult *result, guint row, guint column);
PGE_AVAILABLE_IN_1_0 gboolean        pge_result_is_null           (PgeResult *result, guint row, guint column);
PGE_AVAILABLE_IN_1_0 gint64          pge_result_get_int64         (PgeResult *result, guint row, guint column);
PGE_AVAILABLE_IN_1_0 double          pge_result_get_double        (PgeResult *result, guint row, guint column);
PGE_AVAILABLE_IN_1_0 gboolean        pge_result_get_boolean       (PgeResult *result, guint row, guint column);
PGE_AVAILABLE_IN_1_0 const char     *pge_result_get_command_tag   (PgeResult *result);
PGE_AVAILABLE_IN_1_0 guint64         pge_result_get_rows_affected (PgeResult *result);
PGE_AVAILABLE_IN_1_0 const PGresult *pge_result_get_pgresult      (PgeResult *result);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PgeResult, pge_result_unref)

G_END_DECLS
