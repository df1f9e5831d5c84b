/* values-private.h — PostgreSQL's text forms, parsed strictly and made.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "pgengine.h"

G_BEGIN_DECLS

/* Built-in type OIDs, from pg_type.dat; stable across server versions. */
#define PGE_OID_BOOL         16
#define PGE_OID_BYTEA        17
#define PGE_OID_CHAR         18
#define PGE_OID_NAME         19
#define PGE_OID_INT8         20
#define PGE_OID_INT2         21
#define PGE_OID_INT4         23
#define PGE_OID_TEXT         25
#define PGE_OID_OID          26
#define PGE_OID_JSON         114
#define PGE_OID_JSON_ARRAY   199
#define PGE_OID_FLOAT4       700
#define PGE_OID_FLOAT8       701
#define PGE_OID_UNKNOWN      705
#define PGE_OID_BOOL_ARRAY   1000
#define PGE_OID_BYTEA_ARRAY  1001
#define PGE_OID_NAME_ARRAY   1003
#define PGE_OID_INT2_ARRAY   1005
#define PGE_OID_INT4_ARRAY   1007
#define PGE_OID_TEXT_ARRAY   1009
#define PGE_OID_BPCHAR_ARRAY 1014
#define PGE_OID_VARCHAR_ARRAY 1015
#define PGE_OID_INT8_ARRAY   1016
#define PGE_OID_FLOAT4_ARRAY 1021
#define PGE_OID_FLOAT8_ARRAY 1022
#define PGE_OID_BPCHAR       1042
#define PGE_OID_VARCHAR      1043
#define PGE_OID_DATE         1082
#define PGE_OID_TIMESTAMP    1114
#define PGE_OID_TIMESTAMP_ARRAY 1115
#define PGE_OID_DATE_ARRAY   1182
#define PGE_OID_TIMESTAMPTZ  1184
#define PGE_OID_TIMESTAMPTZ_ARRAY 1185
#define PGE_OID_INTERVAL     1186
#define PGE_OID_INTERVAL_ARRAY 1187
#define PGE_OID_NUMERIC_ARRAY 1231
#define PGE_OID_NUMERIC      1700
#define PGE_OID_UUID         2950
#define PGE_OID_UUID_ARRAY   2951
#define PGE_OID_JSONB        3802
#define PGE_OID_JSONB_ARRAY  3807
/* Types made by CREATE TYPE / CREATE EXTENSION start here. */
#define PGE_OID_FIRST_USER   16384

/* Microseconds between 1970-01-01 and PostgreSQL's epoch, 2000-01-01. */
#define PGE_POSTGRES_EPOCH_USEC (G_GINT64_CONSTANT (946684800) * G_USEC_PER_SEC)

/* Each parser reads the whole of @text (nothing may follow the value) and
 * fails with PGE_ERROR_CONVERSION, naming what it expected. */
G_GNUC_INTERNAL gboolean   pge_value_parse_int       (const char *text, gint64 min, gint64 max,
                                                      gint64 *value, GError **error);
G_GNUC_INTERNAL gboolean   pge_value_parse_float     (const char *text, double *value, GError **error);
G_GNUC_INTERNAL gboolean   pge_value_parse_numeric   (const char *text, double *value, GError **error);
G_GNUC_INTERNAL gboolean   pge_value_check_numeric   (const char *text, GError **error);
G_GNUC_INTERNAL gboolean   pge_value_parse_boolean   (const char *text, gboolean *value, GError **error);
G_GNUC_INTERNAL gboolean   pge_value_check_uuid      (const char *text, GError **error);
G_GNUC_INTERNAL GBytes    *pge_value_parse_bytea     (const char *text, GError **error);
/* Dates come back at midnight UTC; timestamps without a zone in UTC;
 * timestamps with one at the offset the text carries. */
G_GNUC_INTERNAL GDateTime *pge_value_parse_date      (const char *text, GError **error);
G_GNUC_INTERNAL GDateTime *pge_value_parse_timestamp (const char *text, gboolean with_zone,
                                                      GError **error);
G_GNUC_INTERNAL gboolean   pge_value_parse_interval  (const char *text, PgeInterval *interval,
                                                      GError **error);
/* The elements of a one-dimensional array's text form: a GPtrArray of
 * strings (g_free), NULL for an SQL NULL element. */
G_GNUC_INTERNAL GPtrArray *pge_value_parse_array     (const char *text, GError **error);
/* The text form of a one-dimensional array; NULL elements are SQL NULL. */
G_GNUC_INTERNAL char      *pge_value_format_array    (const char *const *elements, gsize n);

G_END_DECLS
