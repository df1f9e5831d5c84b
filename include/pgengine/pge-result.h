/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined(PGE_INSIDE_PGENGINE_H) && !defined(PGE_COMPILATION)
#error "Only <pgengine.h> can be included directly."
#endif

#include <pgengine/pge-types.h>

G_BEGIN_DECLS

#define PGE_TYPE_RESULT (pge_result_get_type ())

PGE_AVAILABLE GType           pge_result_get_type          (void) G_GNUC_CONST;
PGE_AVAILABLE PgeResult      *pge_result_ref               (PgeResult *result);
PGE_AVAILABLE void            pge_result_unref             (PgeResult *result);
PGE_AVAILABLE guint           pge_result_get_n_rows        (PgeResult *result);
PGE_AVAILABLE guint           pge_result_get_n_columns     (PgeResult *result);
PGE_AVAILABLE const char     *pge_result_get_column_name   (PgeResult *result, guint column);
PGE_AVAILABLE int             pge_result_get_column_index  (PgeResult *result, const char *name);
#ifndef __GI_SCANNER__
PGE_AVAILABLE Oid             pge_result_get_column_type   (PgeResult *result, guint column);
#else
/* Oid is libpq's `unsigned int`, a type the scanner does not see. */
PGE_AVAILABLE guint           pge_result_get_column_type   (PgeResult *result, guint column);
#endif
PGE_AVAILABLE const char     *pge_result_get_value         (PgeResult *result, guint row, guint column);
PGE_AVAILABLE gboolean        pge_result_is_null           (PgeResult *result, guint row, guint column);
PGE_AVAILABLE gint64          pge_result_get_int64         (PgeResult *result, guint row, guint column);
PGE_AVAILABLE double          pge_result_get_double        (PgeResult *result, guint row, guint column);
PGE_AVAILABLE gboolean        pge_result_get_boolean       (PgeResult *result, guint row, guint column);
PGE_AVAILABLE const char     *pge_result_get_command_tag   (PgeResult *result);
PGE_AVAILABLE guint64         pge_result_get_rows_affected (PgeResult *result);
PGE_AVAILABLE const PGresult *pge_result_get_pgresult      (PgeResult *result);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PgeResult, pge_result_unref)

G_END_DECLS
