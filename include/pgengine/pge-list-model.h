/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined(PGE_INSIDE_PGENGINE_H) && !defined(PGE_COMPILATION)
#error "Only <pgengine.h> can be included directly."
#endif

#include <pgengine/pge-types.h>
#include <pgengine/pge-row.h>

G_BEGIN_DECLS

#define PGE_TYPE_RESULT_MODEL (pge_result_model_get_type ())

PGE_AVAILABLE_IN_1_0
G_DECLARE_FINAL_TYPE (PgeResultModel, pge_result_model, PGE, RESULT_MODEL, GObject)

PGE_AVAILABLE_IN_1_0 PgeResultModel *pge_result_model_new        (PgeResult *result);
PGE_AVAILABLE_IN_1_0 PgeResult      *pge_result_model_get_result (PgeResultModel *model);

#define PGE_TYPE_BATCH_MODEL (pge_batch_model_get_type ())

PGE_AVAILABLE_IN_1_0
G_DECLARE_FINAL_TYPE (PgeBatchModel, pge_batch_model, PGE, BATCH_MODEL, GObject)

PGE_AVAILABLE_IN_1_0 PgeBatchModel *pge_batch_model_new          (PgeBatch *batch);
PGE_AVAILABLE_IN_1_0 PgeBatch      *pge_batch_model_get_batch    (PgeBatchModel *model);
PGE_AVAILABLE_IN_1_0 gboolean       pge_batch_model_load_more    (PgeBatchModel *model);
PGE_AVAILABLE_IN_1_0 gboolean       pge_batch_model_is_loading   (PgeBatchModel *model);
PGE_AVAILABLE_IN_1_0 gboolean       pge_batch_model_is_complete  (PgeBatchModel *model);
PGE_AVAILABLE_IN_1_0 const GError  *pge_batch_model_get_error    (PgeBatchModel *model);
PGE_AVAILABLE_IN_1_0 guint          pge_batch_model_get_n_chunks (PgeBatchModel *model);

G_END_DECLS
