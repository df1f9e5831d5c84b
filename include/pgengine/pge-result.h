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
#ifndef __GI_SCANNER__
PGE_AVAILABLE_IN_1_0 Oid             pge_result_get_column_type   (PgeResult *result, guint column);
#else
/* Oid is libpq's `unsigned int`, a type the scanner does not see. */
PGE_AVAILABLE_IN_1_0 guint           pge_result_get_column_type   (PgeResult *result, guint column);
#endif
PGE_AVAILABLE_IN_1_0 const char     *pge_result_get_value         (PgeResult *result, guint row, guint column);
PGE_AVAILABLE_IN_1_0 gboolean        pge_result_is_null           (PgeResult *result, guint row, guint column);
PGE_AVAILABLE_IN_1_0 gint64          pge_result_get_int64         (PgeResult *result, guint row, guint column);
PGE_AVAILABLE_IN_1_0 double          pge_result_get_double        (PgeResult *result, guint row, guint column);
PGE_AVAILABLE_IN_1_0 gboolean        pge_result_get_boolean       (PgeResult *result, guint row, guint column);
PGE_AVAILABLE_IN_1_0 const char     *pge_result_get_command_tag   (PgeResult *result);
PGE_AVAILABLE_IN_1_0 guint64         pge_result_get_rows_affected (PgeResult *result);
PGE_AVAILABLE_IN_1_0 const PGresult *pge_result_get_pgresult      (PgeResult *result);

/* Strict getters: NULL, a column of another type, and a value that does
 * not parse or fit are GErrors (PGE_ERROR_NULL_VALUE, PGE_ERROR_CONVERSION),
 * a cell out of range too (PGE_ERROR_INVALID_ARGUMENT). */
PGE_AVAILABLE_IN_1_0 const char *pge_result_read_text (PgeResult *result, guint row, guint column, GError **error);
PGE_AVAILABLE_IN_1_0 const char *pge_result_read_text_by_name (PgeResult *result, guint row, const char *name, GError **error);
PGE_AVAILABLE_IN_1_0 GBytes     *pge_result_read_bytes (PgeResult *result, guint row, guint column, GError **error) G_GNUC_WARN_UNUSED_RESULT;
PGE_AVAILABLE_IN_1_0 GBytes     *pge_result_read_bytes_by_name (PgeResult *result, guint row, const char *name, GError **error) G_GNUC_WARN_UNUSED_RESULT;
PGE_AVAILABLE_IN_1_0 gboolean    pge_result_read_int16 (PgeResult *result, guint row, guint column, gint16 *value, GError **error);
PGE_AVAILABLE_IN_1_0 gboolean    pge_result_read_int16_by_name (PgeResult *result, guint row, const char *name, gint16 *value, GError **error);
PGE_AVAILABLE_IN_1_0 gboolean    pge_result_read_int32 (PgeResult *result, guint row, guint column, gint32 *value, GError **error);
PGE_AVAILABLE_IN_1_0 gboolean    pge_result_read_int32_by_name (PgeResult *result, guint row, const char *name, gint32 *value, GError **error);
PGE_AVAILABLE_IN_1_0 gboolean    pge_result_read_int64 (PgeResult *result, guint row, guint column, gint64 *value, GError **error);
PGE_AVAILABLE_IN_1_0 gboolean    pge_result_read_int64_by_name (PgeResult *result, guint row, const char *name, gint64 *value, GError **error);
PGE_AVAILABLE_IN_1_0 gboolean    pge_result_read_float (PgeResult *result, guint row, guint column, float *value, GError **error);
PGE_AVAILABLE_IN_1_0 gboolean    pge_result_read_float_by_name (PgeResult *result, guint row, const char *name, float *value, GError **error);
PGE_AVAILABLE_IN_1_0 gboolean    pge_result_read_double (PgeResult *result, guint row, guint column, double *value, GError **error);
PGE_AVAILABLE_IN_1_0 gboolean    pge_result_read_double_by_name (PgeResult *result, guint row, const char *name, double *value, GError **error);
PGE_AVAILABLE_IN_1_0 const char *pge_result_read_numeric (PgeResult *result, guint row, guint column, GError **error);
PGE_AVAILABLE_IN_1_0 const char *pge_result_read_numeric_by_name (PgeResult *result, guint row, const char *name, GError **error);
PGE_AVAILABLE_IN_1_0 gboolean    pge_result_read_boolean (PgeResult *result, guint row, guint column, gboolean *value, GError **error);
PGE_AVAILABLE_IN_1_0 gboolean    pge_result_read_boolean_by_name (PgeResult *result, guint row, const char *name, gboolean *value, GError **error);
PGE_AVAILABLE_IN_1_0 GDateTime  *pge_result_read_date (PgeResult *result, guint row, guint column, GError **error) G_GNUC_WARN_UNUSED_RESULT;
PGE_AVAILABLE_IN_1_0 GDateTime  *pge_result_read_date_by_name (PgeResult *result, guint row, const char *name, GError **error) G_GNUC_WARN_UNUSED_RESULT;
PGE_AVAILABLE_IN_1_0 GDateTime  *pge_result_read_timestamp (PgeResult *result, guint row, guint column, GError **error) G_GNUC_WARN_UNUSED_RESULT;
PGE_AVAILABLE_IN_1_0 GDateTime  *pge_result_read_timestamp_by_name (PgeResult *result, guint row, const char *name, GError **error) G_GNUC_WARN_UNUSED_RESULT;
PGE_AVAILABLE_IN_1_0 GDateTime  *pge_result_read_timestamptz (PgeResult *result, guint row, guint column, GError **error) G_GNUC_WARN_UNUSED_RESULT;
PGE_AVAILABLE_IN_1_0 GDateTime  *pge_result_read_timestamptz_by_name (PgeResult *result, guint row, const char *name, GError **error) G_GNUC_WARN_UNUSED_RESULT;
PGE_AVAILABLE_IN_1_0 gboolean    pge_result_read_interval (PgeResult *result, guint row, guint column, PgeInterval *value, GError **error);
PGE_AVAILABLE_IN_1_0 gboolean    pge_result_read_interval_by_name (PgeResult *result, guint row, const char *name, PgeInterval *value, GError **error);
PGE_AVAILABLE_IN_1_0 const char *pge_result_read_uuid (PgeResult *result, guint row, guint column, GError **error);
PGE_AVAILABLE_IN_1_0 const char *pge_result_read_uuid_by_name (PgeResult *result, guint row, const char *name, GError **error);
PGE_AVAILABLE_IN_1_0 const char *pge_result_read_json (PgeResult *result, guint row, guint column, GError **error);
PGE_AVAILABLE_IN_1_0 const char *pge_result_read_json_by_name (PgeResult *result, guint row, const char *name, GError **error);
PGE_AVAILABLE_IN_1_0 GPtrArray  *pge_result_read_text_array (PgeResult *result, guint row, guint column, GError **error) G_GNUC_WARN_UNUSED_RESULT;
PGE_AVAILABLE_IN_1_0 GPtrArray  *pge_result_read_text_array_by_name (PgeResult *result, guint row, const char *name, GError **error) G_GNUC_WARN_UNUSED_RESULT;
PGE_AVAILABLE_IN_1_0 GArray     *pge_result_read_int32_array (PgeResult *result, guint row, guint column, GError **error) G_GNUC_WARN_UNUSED_RESULT;
PGE_AVAILABLE_IN_1_0 GArray     *pge_result_read_int32_array_by_name (PgeResult *result, guint row, const char *name, GError **error) G_GNUC_WARN_UNUSED_RESULT;
PGE_AVAILABLE_IN_1_0 GArray     *pge_result_read_int64_array (PgeResult *result, guint row, guint column, GError **error) G_GNUC_WARN_UNUSED_RESULT;
PGE_AVAILABLE_IN_1_0 GArray     *pge_result_read_int64_array_by_name (PgeResult *result, guint row, const char *name, GError **error) G_GNUC_WARN_UNUSED_RESULT;
PGE_AVAILABLE_IN_1_0 GArray     *pge_result_read_double_array (PgeResult *result, guint row, guint column, GError **error) G_GNUC_WARN_UNUSED_RESULT;
PGE_AVAILABLE_IN_1_0 GArray     *pge_result_read_double_array_by_name (PgeResult *result, guint row, const char *name, GError **error) G_GNUC_WARN_UNUSED_RESULT;
PGE_AVAILABLE_IN_1_0 GArray     *pge_result_read_boolean_array (PgeResult *result, guint row, guint column, GError **error) G_GNUC_WARN_UNUSED_RESULT;
PGE_AVAILABLE_IN_1_0 GArray     *pge_result_read_boolean_array_by_name (PgeResult *result, guint row, const char *name, GError **error) G_GNUC_WARN_UNUSED_RESULT;
PGE_AVAILABLE_IN_1_0 GPtrArray  *pge_result_read_datetime_array (PgeResult *result, guint row, guint column, GError **error) G_GNUC_WARN_UNUSED_RESULT;
PGE_AVAILABLE_IN_1_0 GPtrArray  *pge_result_read_datetime_array_by_name (PgeResult *result, guint row, const char *name, GError **error) G_GNUC_WARN_UNUSED_RESULT;
PGE_AVAILABLE_IN_1_0 GPtrArray  *pge_result_read_bytes_array (PgeResult *result, guint row, guint column, GError **error) G_GNUC_WARN_UNUSED_RESULT;
PGE_AVAILABLE_IN_1_0 GPtrArray  *pge_result_read_bytes_array_by_name (PgeResult *result, guint row, const char *name, GError **error) G_GNUC_WARN_UNUSED_RESULT;

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PgeResult, pge_result_unref)

G_END_DECLS
