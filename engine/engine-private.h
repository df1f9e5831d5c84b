/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "pgengine.h"
#include "job-private.h"
#include "pool-private.h"

G_BEGIN_DECLS

G_GNUC_INTERNAL PgePool        *pge_engine_get_primary   (PgeEngine *engine);
G_GNUC_INTERNAL gboolean        pge_engine_check_open    (PgeEngine *engine, GError **error);

/* Submits @job where the calling thread's work goes: inside its current
 * transaction on @engine if it has one, else to the main node. Returns a
 * new reference to the job's future. The caller keeps its job reference. */
G_GNUC_INTERNAL PgeFuture      *pge_engine_submit        (PgeEngine *engine, PgeJob *job);

/* Per-engine, per-thread stacks of current transactions. Entries are weak:
 * a transaction removes itself when it ends or is freed. */
G_GNUC_INTERNAL PgeTransaction *pge_engine_dup_current   (PgeEngine *engine);
G_GNUC_INTERNAL void            pge_engine_push_current  (PgeEngine *engine, PgeTransaction *tx);
G_GNUC_INTERNAL void            pge_engine_remove_current (PgeEngine *engine, PgeTransaction *tx);

/* TRUE on a worker thread of @engine, where blocking on @engine deadlocks. */
G_GNUC_INTERNAL gboolean        pge_engine_is_worker_thread (PgeEngine *engine);

G_END_DECLS
