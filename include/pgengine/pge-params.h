/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined(PGE_INSIDE_PGENGINE_H) && !defined(PGE_COMPILATION)
#error "Only <pgengine.h> can be included directly."
#endif

#include <pgengine/pge-types.h>

G_BEGIN_DECLS

#define PGE_TYPE_PARAMS (pge_params_get_type ())

PGE_AVAILABLE_IN_1_0 GType      pge_params_get_type         (void) G_GNUC_CONST;
PGE_AVAILABLE_IN_1_0 PgeParams *pge_params_new              (void) G_GNUC_WARN_UNUSED_RESULT;
PGE_AVAILABLE_IN_1_0 PgeParams *pge_params_ref              (PgeParams *params);
PGE_AVAILABLE_IN_1_0 void       pge_params_unref            (PgeParams *params);
PGE_AVAILABLE_IN_1_0 void       pge_params_add_null         (PgeParams *params);
PGE_AVAILABLE_IN_1_0 void       pge_params_add_text         (PgeParams *params, const char *value);
PGE_AVAILABLE_IN_1_0 void       pge_params_add_int32        (PgeParams *params, gint32 value);
PGE_AVAILABLE_IN_1_0 void       pge_params_add_int64        (PgeParams *params, gint64 value);
PGE_AVAILABLE_IN_1_0 void       pge_params_add_double       (PgeParams *params, double value);
PGE_AVAILABLE_IN_1_0 void       pge_params_add_boolean      (PgeParams *params, gboolean value);
PGE_AVAILABLE_IN_1_0 void       pge_params_add_bytea        (PgeParams    *params,
                                                      const guint8 *data,
                                                      gsize         length);
PGE_AVAILABLE_IN_1_0 void       pge_params_add_typed        (PgeParams *params, Oid type, const char *text);
PGE_AVAILABLE_IN_1_0 guint      pge_params_get_length       (PgeParams *params);
PGE_AVAILABLE_IN_1_0 void       pge_params_add_int16        (PgeParams *params, gint16 value);
PGE_AVAILABLE_IN_1_0 void       pge_params_add_float        (PgeParams *params, float value);
PGE_AVAILABLE_IN_1_0 void       pge_params_add_numeric      (PgeParams *params, const char *text);
PGE_AVAILABLE_IN_1_0 void       pge_params_add_date         (PgeParams *params, GDateTime *value);
PGE_AVAILABLE_IN_1_0 void       pge_params_add_timestamp    (PgeParams *params, GDateTime *value);
PGE_AVAILABLE_IN_1_0 void       pge_params_add_timestamptz  (PgeParams *params, GDateTime *value);
PGE_AVAILABLE_IN_1_0 void       pge_params_add_interval     (PgeParams *params, const PgeInterval *value);
PGE_AVAILABLE_IN_1_0 void       pge_params_add_uuid         (PgeParams *params, const char *text);
PGE_AVAILABLE_IN_1_0 void       pge_params_add_json         (PgeParams *params, const char *text);
PGE_AVAILABLE_IN_1_0 void       pge_params_add_jsonb        (PgeParams *params, const char *text);
PGE_AVAILABLE_IN_1_0 void       pge_params_add_array        (PgeParams         *params,
                                                      Oid                array_type,
                                                      const char *const *elements,
                                                      gssize             n_elements);
PGE_AVAILABLE_IN_1_0 void       pge_params_add_text_array   (PgeParams         *params,
                                                      const char *const *elements,
                                                      gssize             n_elements);
PGE_AVAILABLE_IN_1_0 void       pge_params_add_int32_array  (PgeParams    *params,
                                                      const gint32 *values,
                                                      gsize         n_values);
PGE_AVAILABLE_IN_1_0 void       pge_params_add_int64_array  (PgeParams    *params,
                                                      const gint64 *values,
                                                      gsize         n_values);
PGE_AVAILABLE_IN_1_0 void       pge_params_add_double_array (PgeParams    *params,
                                                      const double *values,
                                                      gsize         n_values);
PGE_AVAILABLE_IN_1_0 void       pge_params_add_boolean_array (PgeParams      *params,
                                                       const gboolean *values,
                                                       gsize           n_values);
PGE_AVAILABLE_IN_1_0 PgeParams *pge_params_new_from_variant (GVariant *tuple, GError **error) G_GNUC_WARN_UNUSED_RESULT;

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PgeParams, pge_params_unref)

G_END_DECLS
