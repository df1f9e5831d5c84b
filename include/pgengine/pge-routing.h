/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined(PGE_INSIDE_PGENGINE_H) && !defined(PGE_COMPILATION)
#error "Only <pgengine.h> can be included directly."
#endif

#include <pgengine/pge-types.h>

G_BEGIN_DECLS

/**
 * PgeReadPolicy:
 * @PGE_READ_ROUND_ROBIN: each read goes to the next usable replica in turn
 * @PGE_READ_LEAST_BUSY: each read goes to the usable replica with the
 *   fewest jobs running and queued
 *
 * How pge_engine_query_read() picks among the usable replicas.
 *
 * Since: 1.0
 */
typedef enum {
  PGE_READ_ROUND_ROBIN,
  PGE_READ_LEAST_BUSY
} PgeReadPolicy;

/**
 * PgeNodeStats:
 * @down: the node's last connection attempt failed and none of its
 *   connections is up: calls aimed at it fail at once
 * @usable: pge_engine_query_read() may send reads there (replicas only:
 *   up, and within the lag limits at the last check)
 * @n_down: how many times the node was marked down
 * @n_refused: calls failed at once with %PGE_ERROR_CONNECTION while it
 *   was down
 * @n_reads: reads that pge_engine_query_read() sent there
 * @lag_bytes: replay lag in bytes of WAL at the last check (replicas),
 *   -1 when unknown
 * @lag_ms: replay lag in milliseconds at the last check (replicas), -1
 *   when unknown
 * @replay_lsn: the replica's replay position at the last check, 0 when
 *   unknown
 * @n_server_switches: how many times a new connection of the node reached
 *   another server than the one before (a failover with a multi-host
 *   connection string)
 * @server: the "host:port" of the server the node's last new connection
 *   reached, or "" before any (truncated to 255 bytes)
 *
 * One node's routing state, filled by pge_engine_get_node_stats().
 *
 * Since: 1.0
 */
typedef struct {
  gboolean    down;
  gboolean    usable;
  guint64     n_down;
  guint64     n_refused;
  guint64     n_reads;
  gint64      lag_bytes;
  gint64      lag_ms;
  guint64     replay_lsn;
  guint64     n_server_switches;
  char        server[256];
} PgeNodeStats;

PGE_AVAILABLE_IN_1_0 void       pge_config_add_replica            (PgeConfig  *config,
                                                            const char *name,
                                                            const char *conninfo,
                                                            guint       n_workers);
PGE_AVAILABLE_IN_1_0 void       pge_config_set_read_policy        (PgeConfig    *config,
                                                            PgeReadPolicy policy);
PGE_AVAILABLE_IN_1_0 void       pge_config_set_max_replica_lag    (PgeConfig *config,
                                                            guint64    max_bytes,
                                                            guint      max_ms);
PGE_AVAILABLE_IN_1_0 void       pge_config_set_replica_check_interval (PgeConfig *config,
                                                                guint      interval_ms);

PGE_AVAILABLE_IN_1_0 PgeFuture *pge_engine_query_read             (PgeEngine  *engine,
                                                            const char *sql,
                                                            PgeParams  *params);
PGE_AVAILABLE_IN_1_0 PgeFuture *pge_engine_query_read_after       (PgeEngine  *engine,
                                                            guint64     lsn,
                                                            guint       timeout_ms,
                                                            const char *sql,
                                                            PgeParams  *params);
PGE_AVAILABLE_IN_1_0 guint64    pge_engine_get_write_lsn_sync     (PgeEngine *engine,
                                                            GError   **error);
PGE_AVAILABLE_IN_1_0 gboolean   pge_engine_get_node_stats         (PgeEngine    *engine,
                                                            const char   *node,
                                                            PgeNodeStats *stats,
                                                            GError      **error);

G_END_DECLS
