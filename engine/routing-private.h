/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "pgengine.h"
#include "config-private.h"
#include "pool-private.h"

G_BEGIN_DECLS

typedef struct _PgeRouter PgeRouter;

/* @pools: the engine's pools, [0] the primary; borrowed, they outlive
 * the router. Starts the checker thread when there are replicas. */
G_GNUC_INTERNAL PgeRouter *pge_router_new    (const PgeSettings *settings, GPtrArray *pools);
/* Stops the checker (joins it unless called on it) and fails the reads
 * still waiting for a replica with PGE_ERROR_CLOSED. Idempotent. */
G_GNUC_INTERNAL void       pge_router_close  (PgeRouter *router);
G_GNUC_INTERNAL void       pge_router_free   (PgeRouter *router);
G_GNUC_INTERNAL gboolean   pge_router_is_own_thread (PgeRouter *router);

/* Sends @job (the caller keeps its reference) to a usable replica whose
 * replay position is at least @lsn (0: any); with none, waits up to
 * @timeout_ms for one, then sends it to the primary. */
G_GNUC_INTERNAL void       pge_router_submit_read (PgeRouter *router,
                                                   PgeJob    *job,
                                                   guint64    lsn,
                                                   guint      timeout_ms);
/* Fills the replica fields of @stats for @pool; FALSE if it is not a
 * replica (then they are left as they are). */
G_GNUC_INTERNAL gboolean   pge_router_get_replica_stats (PgeRouter    *router,
                                                         PgePool      *pool,
                                                         PgeNodeStats *stats);

/* @conninfo (keywords or URI) of a replica node with
 * target_session_attrs=prefer-standby added unless it names one: with
 * several hosts (the members of an HA cluster), connections go to a
 * standby when there is one. Its workers and the checker both use it. */
G_GNUC_INTERNAL char      *pge_router_replica_conninfo (const char *conninfo);

G_END_DECLS
