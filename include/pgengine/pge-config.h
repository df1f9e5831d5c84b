/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined(PGE_INSIDE_PGENGINE_H) && !defined(PGE_COMPILATION)
#error "Only <pgengine.h> can be included directly."
#endif

#include <pgengine/pge-types.h>

G_BEGIN_DECLS

#define PGE_TYPE_CONFIG (pge_config_get_type ())

PGE_AVAILABLE_IN_1_0 GType      pge_config_get_type              (void) G_GNUC_CONST;
PGE_AVAILABLE_IN_1_0 PgeConfig *pge_config_new                   (const char *conninfo) G_GNUC_WARN_UNUSED_RESULT;
PGE_AVAILABLE_IN_1_0 PgeConfig *pge_config_ref                   (PgeConfig *config);
PGE_AVAILABLE_IN_1_0 void       pge_config_unref                 (PgeConfig *config);
PGE_AVAILABLE_IN_1_0 void       pge_config_set_workers           (PgeConfig *config, guint n_workers);
PGE_AVAILABLE_IN_1_0 void       pge_config_set_acquire_timeout   (PgeConfig *config, guint timeout_ms);
PGE_AVAILABLE_IN_1_0 void       pge_config_set_statement_timeout (PgeConfig *config, guint timeout_ms);
PGE_AVAILABLE_IN_1_0 void       pge_config_set_max_queue         (PgeConfig *config, guint max_jobs);
PGE_AVAILABLE_IN_1_0 void       pge_config_set_log_queries       (PgeConfig *config, gboolean enabled);
PGE_AVAILABLE_IN_1_0 void       pge_config_set_log_responses     (PgeConfig *config, gboolean enabled);
PGE_AVAILABLE_IN_1_0 void       pge_config_add_extension         (PgeConfig *config, const char *name);
PGE_AVAILABLE_IN_1_0 void       pge_config_add_node              (PgeConfig  *config,
                                                           const char *name,
                                                           const char *conninfo,
                                                           guint       n_workers);
PGE_AVAILABLE_IN_1_0 guint      pge_config_get_workers           (PgeConfig *config);
PGE_AVAILABLE_IN_1_0 guint      pge_config_get_acquire_timeout   (PgeConfig *config);
PGE_AVAILABLE_IN_1_0 guint      pge_config_get_statement_timeout (PgeConfig *config);
PGE_AVAILABLE_IN_1_0 guint      pge_config_get_max_queue         (PgeConfig *config);
PGE_AVAILABLE_IN_1_0 void       pge_config_set_pipeline_depth    (PgeConfig *config, guint depth);
PGE_AVAILABLE_IN_1_0 guint      pge_config_get_pipeline_depth    (PgeConfig *config);
PGE_AVAILABLE_IN_1_0 void       pge_config_set_statement_cache   (PgeConfig *config, guint max_statements);
PGE_AVAILABLE_IN_1_0 guint      pge_config_get_statement_cache   (PgeConfig *config);

/* Connection lifecycle and on-connect setup (1.2). */
typedef gboolean (*PgeConnectFunc) (PGconn *conn, gpointer user_data, GError **error);

PGE_AVAILABLE_IN_1_2 void       pge_config_set_max_lifetime      (PgeConfig *config, guint lifetime_ms);
PGE_AVAILABLE_IN_1_2 guint      pge_config_get_max_lifetime      (PgeConfig *config);
PGE_AVAILABLE_IN_1_2 void       pge_config_set_max_idle          (PgeConfig *config, guint idle_ms);
PGE_AVAILABLE_IN_1_2 guint      pge_config_get_max_idle          (PgeConfig *config);
PGE_AVAILABLE_IN_1_2 void       pge_config_set_reconnect_timeout (PgeConfig *config, guint timeout_ms);
PGE_AVAILABLE_IN_1_2 guint      pge_config_get_reconnect_timeout (PgeConfig *config);
PGE_AVAILABLE_IN_1_2 void       pge_config_set_connect_func      (PgeConfig      *config,
                                                                  PgeConnectFunc  func,
                                                                  gpointer        user_data,
                                                                  GDestroyNotify  notify);
PGE_AVAILABLE_IN_1_2 void       pge_config_set_connect_sql       (PgeConfig  *config,
                                                                  const char *sql);
PGE_AVAILABLE_IN_1_2 char      *pge_config_get_connect_sql       (PgeConfig *config);
PGE_AVAILABLE_IN_1_2 void       pge_config_set_min_workers       (PgeConfig *config, guint min_workers);
PGE_AVAILABLE_IN_1_2 guint      pge_config_get_min_workers       (PgeConfig *config);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PgeConfig, pge_config_unref)

G_END_DECLS
