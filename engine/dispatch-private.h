/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "pgengine.h"
#include "pool-private.h"

G_BEGIN_DECLS

/* Queues @job on @pool (or @lease) with its future's cancel and run-here
 * hooks. With @take, a free connection may be handed to the caller
 * instead (see pge_pool_submit()): run the job on it at once with
 * pge_dispatch_run_taken(). The caller keeps its job reference. */
G_GNUC_INTERNAL PgeSlot   *pge_dispatch_submit       (PgePool  *pool,
                                                      PgeJob   *job,
                                                      gboolean  take);
G_GNUC_INTERNAL PgeSlot   *pge_dispatch_lease_submit (PgeLease *lease,
                                                      PgeJob   *job,
                                                      gboolean  take);
G_GNUC_INTERNAL PgeSlot   *pge_dispatch_lease_submit_or_take (PgeLease *lease, PgeJob *job);
G_GNUC_INTERNAL void       pge_dispatch_run_taken    (PgeSlot *slot, PgeJob *job);

/* Blocking: runs @job on a free connection of @pool on this thread, or
 * queues it and waits. */
G_GNUC_INTERNAL PgeResult *pge_dispatch_run_sync     (PgePool *pool,
                                                      PgeJob  *job,
                                                      GError **error);

/* Binds @lease to a connection (blocking, like any acquire). */
G_GNUC_INTERNAL gboolean   pge_dispatch_pin_sync     (PgeLease *lease, GError **error);

/* Ends a lease: releases it and, when its slot is free, rolls back and
 * unpins on this thread; with @wait, blocks until the slot is back. */
G_GNUC_INTERNAL void       pge_dispatch_lease_end    (PgeLease *lease, gboolean wait);

/* For a worker thread holding @slot (worker.c). */
G_GNUC_INTERNAL void       pge_dispatch_run_jobs     (PgeSlot *slot, PgeJob **jobs, guint n_jobs);
G_GNUC_INTERNAL void       pge_dispatch_resume       (PgeSlot *slot);
G_GNUC_INTERNAL void       pge_dispatch_unpin        (PgeSlot *slot);
G_GNUC_INTERNAL gboolean   pge_dispatch_connect      (PgeSlot *slot, GError **error);
G_GNUC_INTERNAL gboolean   pge_dispatch_connect_until (PgeSlot *slot, gint64 deadline, GError **error);

G_END_DECLS
