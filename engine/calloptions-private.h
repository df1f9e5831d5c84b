/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "pgengine.h"
#include "pool-private.h"

G_BEGIN_DECLS

/* A QUERY job for @sql carrying @options (nullable): its own acquire
 * timeout, and a statement timeout applied around it on its connection.
 * @borrowed as pge_job_new_query_borrowed(). */
G_GNUC_INTERNAL PgeJob *pge_call_options_new_query_job (PgeCallOptions *options,
                                                        const char     *sql,
                                                        PgeParams      *params,
                                                        gboolean        borrowed);
/* Gives @job the acquire timeout of @options (nullable), before submission. */
G_GNUC_INTERNAL void    pge_call_options_apply_acquire (PgeCallOptions *options, PgeJob *job);

/* With @pool's queue_lock held. The deadline of @job, queued or taken
 * now (0: none); a job with its own timeout is registered with the
 * janitor's deadline order. The caller wakes the janitor if it is the
 * nearest (pool.c). */
G_GNUC_INTERNAL gint64  pge_call_deadline_locked (PgePool *pool, PgeJob *job);
/* For the janitor: moves the queued jobs past their deadline into
 * @expired (the queue's references) and the janitor's own references it
 * no longer needs into @drop (unref both outside the lock); returns the
 * nearest deadline still ahead, 0 if none. */
G_GNUC_INTERNAL gint64  pge_call_expire_locked   (PgePool *pool,
                                                  gint64   now,
                                                  GQueue  *expired,
                                                  GQueue  *drop);
/* The acquire timeout @job waited for, in ms, for its error message. */
G_GNUC_INTERNAL guint   pge_call_get_acquire_timeout (PgeJob *job, PgePool *pool);
/* Once the janitor is joined. */
G_GNUC_INTERNAL void    pge_call_clear_deadlines (PgePool *pool);

G_END_DECLS
