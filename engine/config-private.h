/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "pgengine.h"

G_BEGIN_DECLS

/* An immutable copy of a PgeConfig, taken by pge_engine_new(): changing
 * the config afterwards never reaches a running engine. */
typedef struct {
  char  *name;
  char  *conninfo;
  guint  n_workers;
  gboolean replica;        /* pge_config_add_replica(): in the read set */
  guint  min_workers;      /* connections kept open; 0: all (a fixed pool) */
} PgeNodeSettings;

typedef struct {
  PgeNodeSettings primary;
  GPtrArray *nodes;        /* of PgeNodeSettings*, extra nodes */
  GPtrArray *extensions;   /* of char* */
  guint      acquire_timeout_ms;
  guint      statement_timeout_ms;
  guint      max_queue;
  guint      pipeline_depth;  /* 1: off */
  guint      statement_cache; /* prepared statements per connection, 0: off */
  gboolean   log_queries;
  gboolean   log_responses;
  /* Read routing (routing.c). */
  guint      read_policy;         /* PgeReadPolicy */
  guint64    max_lag_bytes;       /* 0: no limit */
  guint      max_lag_ms;          /* 0: no limit */
  guint      replica_check_ms;
  /* Connection lifecycle (lifecycle.c) and on-connect setup (onconnect.c). */
  guint      max_lifetime_ms;       /* 0: unlimited */
  guint      max_idle_ms;           /* 0: never closed for idleness */
  guint      reconnect_timeout_ms;  /* 0: never give up */
  struct _PgeConnectHook *on_connect;  /* nullable, owned ref */
} PgeSettings;

#define PGE_PRIMARY_NODE "primary"
#define PGE_MAX_WORKERS  1024
/* Keep equal to PGE_PIPELINE_MAX (pool-private.h). */
#define PGE_PIPELINE_DEPTH_MAX 64
#define PGE_STATEMENT_CACHE_LIMIT 10000
/* Defaults are what users get: see PERFORMANCE.md. */
#define PGE_DEFAULT_PIPELINE_DEPTH 16
#define PGE_DEFAULT_STATEMENT_CACHE 256
#define PGE_DEFAULT_REPLICA_CHECK_MS 200
#define PGE_REPLICA_CHECK_MIN_MS 10
#define PGE_REPLICA_CHECK_MAX_MS 60000
#define PGE_DEFAULT_MAX_LIFETIME_MS (60 * 60 * 1000)
#define PGE_DEFAULT_RECONNECT_TIMEOUT_MS (5 * 60 * 1000)
/* Below this, lifetimes would keep the workers reconnecting. */
#define PGE_MIN_LIFETIME_MS 100
/* How long a connection above min_workers stays idle before it is closed,
 * when no max_idle is set. */
#define PGE_DEFAULT_SHRINK_IDLE_MS 60000

G_GNUC_INTERNAL PgeSettings *pge_config_snapshot (PgeConfig *config);
G_GNUC_INTERNAL gboolean     pge_settings_validate (const PgeSettings *settings, GError **error);
G_GNUC_INTERNAL void         pge_settings_free   (PgeSettings *settings);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PgeSettings, pge_settings_free)

G_END_DECLS
