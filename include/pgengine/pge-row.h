/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined(PGE_INSIDE_PGENGINE_H) && !defined(PGE_COMPILATION)
#error "Only <pgengine.h> can be included directly."
#endif

#include <pgengine/pge-types.h>

G_BEGIN_DECLS

#define PGE_TYPE_ROW (pge_row_get_type ())

PGE_AVAILABLE_IN_1_0
G_DECLARE_FINAL_TYPE (PgeRow, pge_row, PGE, ROW, GObject)

PGE_AVAILABLE_IN_1_0 PgeRow      *pge_row_new               (PgeResult *result, guint index);
PGE_AVAILABLE_IN_1_0 PgeResult   *pge_row_get_result        (PgeRow *row);
PGE_AVAILABLE_IN_1_0 guint        pge_row_get_index         (PgeRow *row);
PGE_AVAILABLE_IN_1_0 guint        pge_row_get_n_columns     (PgeRow *row);
PGE_AVAILABLE_IN_1_0 const char  *pge_row_get_value         (PgeRow *row, guint column);
PGE_AVAILABLE_IN_1_0 const char  *pge_row_get_value_by_name (PgeRow *row, const char *name);
PGE_AVAILABLE_IN_1_0 gboolean     pge_row_is_null           (PgeRow *row, guint column);
PGE_AVAILABLE_IN_1_0 GVariant    *pge_row_to_variant        (PgeRow *row);
PGE_AVAILABLE_IN_1_0 GVariant    *pge_row_to_vardict        (PgeRow *row);

/* GVariant forms of a result, typed from its columns (variant.c). */
PGE_AVAILABLE_IN_1_0 GVariantType *pge_result_get_row_variant_type (PgeResult *result);
PGE_AVAILABLE_IN_1_0 GVariant     *pge_result_row_to_variant       (PgeResult *result, guint row);
PGE_AVAILABLE_IN_1_0 GVariant     *pge_result_row_to_vardict       (PgeResult *result, guint row);
PGE_AVAILABLE_IN_1_0 GVariant     *pge_result_to_variant           (PgeResult *result);
PGE_AVAILABLE_IN_1_0 GVariant     *pge_result_to_vardicts          (PgeResult *result);

G_END_DECLS
