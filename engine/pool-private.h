/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "pgengine.h"
#include "config-private.h"
#include "connection-private.h"
#include "job-private.h"
#include "metrics-private.h"

G_BEGIN_DECLS

/* Told when a connection of the pool is lost or comes back (see
 * pge_pool_set_link_func()). Runs on the thread that noticed, with no
 * lock held. */
typedef void (*PgePoolLinkFunc) (PgePool *pool, gboolean up, gpointer data);



/* What a worker does next; see pge_pool_next(). */
typedef enum {
  PGE_NEXT_RUN,        /* run the jobs */
  PGE_NEXT_UNPIN,      /* roll back if needed, then pge_pool_unpin() */
  PGE_NEXT_RECONNECT,  /* the connection is broken: reconnect first */
  PGE_NEXT_RESUME,     /* read on a window a direct holder handed over:
                        * pge_pool_take_resume() */
  PGE_NEXT_EXIT        /* the pool is closing: disconnect and return */
} PgeNext;

/* The most queued queries a worker sends at once as one libpq pipeline. */
#define PGE_PIPELINE_MAX PGE_PIPELINE_DEPTH_MAX

G_GNUC_INTERNAL PgePool  *pge_pool_new        (const PgeNodeSettings *node,
                                               const PgeSettings     *settings);
G_GNUC_INTERNAL void      pge_pool_unref      (PgePool *pool);
G_GNUC_INTERNAL void      pge_pool_start_janitor (PgePool *pool);
G_GNUC_INTERNAL gboolean  pge_pool_wait_started  (PgePool *pool, GError **error);
/* The future pge_pool_wait_started() waits for without blocking: done once
 * every first connection attempt is over, with the first one's error or
 * without one. Transfer none. */
G_GNUC_INTERNAL PgeFuture *pge_pool_get_started  (PgePool *pool);
/* Before the workers start: @func is told of lost and restored
 * connections. The pool owns @data (freed with @notify). */
G_GNUC_INTERNAL void      pge_pool_set_link_func (PgePool        *pool,
                                                  PgePoolLinkFunc func,
                                                  gpointer        data,
                                                  GDestroyNotify  notify);
/* Before the workers start: @func is told, with the link func's data,
 * when the node is given up and when it is reached again (lifecycle.c). */
G_GNUC_INTERNAL void      pge_pool_set_reach_func (PgePool        *pool,
                                                   PgePoolLinkFunc func);
/* For the holder about to replace a connection it had: it is lost. */
G_GNUC_INTERNAL void      pge_pool_note_lost     (PgeSlot *slot);
G_GNUC_INTERNAL void      pge_pool_close      (PgePool *pool);
G_GNUC_INTERNAL void      pge_pool_join       (PgePool *pool);
G_GNUC_INTERNAL gboolean  pge_pool_is_own_thread (PgePool *pool);
G_GNUC_INTERNAL gboolean  pge_pool_is_sibling_thread (PgePool *pool);

/* Submission. pge_pool_submit() queues @job (the caller keeps its
 * reference); refusals (closed, full, cancelled) resolve the job at once.
 * pge_pool_take_now() is for a caller that is going to block: when a
 * connection is free and nothing is queued ahead, it hands the slot to the
 * caller (PGE_HOLDER_DIRECT) with @job RUNNING on it — the caller runs it
 * and gives the slot back with pge_pool_release() — and otherwise returns
 * NULL and leaves @job untouched, to be submitted. */
G_GNUC_INTERNAL PgeSlot  *pge_pool_take_now   (PgePool *pool, PgeJob *job);
G_GNUC_INTERNAL void      pge_pool_submit     (PgePool *pool, PgeJob *job);
G_GNUC_INTERNAL PgeSlot  *pge_lease_take_now  (PgeLease *lease, PgeJob *job);
G_GNUC_INTERNAL void      pge_lease_submit    (PgeLease *lease, PgeJob *job);
G_GNUC_INTERNAL PgeSlot  *pge_pool_submit_or_take  (PgePool *pool, PgeJob *job);
G_GNUC_INTERNAL PgeSlot  *pge_lease_submit_or_take (PgeLease *lease, PgeJob *job);
/* The same for a job already queued, for a thread that is about to wait
 * for it: only if it is first in its queue and a connection is free. */
G_GNUC_INTERNAL PgeSlot  *pge_pool_take_queued (PgeJob *job);
/* Deferral (pool.c): the plain queries a thread submits as futures wait
 * for it to wait for one of them, then run as one window on its thread. */
G_GNUC_INTERNAL gboolean  pge_pool_defer           (PgePool *pool, PgeJob *job);
G_GNUC_INTERNAL PgeSlot  *pge_pool_take_deferred   (PgeJob *job, PgeJob **jobs, guint *n_jobs);
G_GNUC_INTERNAL void      pge_pool_undefer_current (void);
G_GNUC_INTERNAL void      pge_pool_undefer_job     (PgeJob *job);
G_GNUC_INTERNAL void      pge_pool_note_wait       (void);
G_GNUC_INTERNAL void      pge_pool_release    (PgeSlot *slot);
G_GNUC_INTERNAL void      pge_pool_release_job (PgeSlot *slot, PgeJob *job);
G_GNUC_INTERNAL void      pge_pool_cancel_job (PgeJob *job);

/* For the thread that holds a slot. */
G_GNUC_INTERNAL PgeNext   pge_pool_next          (PgeSlot  *slot,
                                                  PgeJob  **jobs,
                                                  guint    *n_jobs);
G_GNUC_INTERNAL guint     pge_pool_pipeline_step (PgeSlot  *slot,
                                                  PgeJob   *next,
                                                  PgeJob  **more,
                                                  guint     max);
G_GNUC_INTERNAL void      pge_pool_job_done      (PgeSlot *slot, PgeJob *job);
G_GNUC_INTERNAL void      pge_pool_hand_over     (PgeSlot *slot, gpointer window);
G_GNUC_INTERNAL gpointer  pge_pool_take_resume   (PgeSlot *slot);
G_GNUC_INTERNAL void      pge_pool_requeue       (PgeSlot *slot, PgeJob **jobs, guint n_jobs);
G_GNUC_INTERNAL gint64    pge_pool_deadline_of_taken (PgeSlot *slot, PgeJob *job, gint64 now);
G_GNUC_INTERNAL void      pge_pool_mark_broken   (PgeSlot *slot);
G_GNUC_INTERNAL void      pge_pool_unpin         (PgeSlot *slot);
G_GNUC_INTERNAL void      pge_pool_set_connected (PgeSlot *slot, gboolean connected);
/* Remembers why a connect of the pool failed (@error), or that one
 * succeeded (NULL): an expired job's message says it. */
G_GNUC_INTERNAL void      pge_pool_note_connect_error (PgePool *pool, const GError *error);
G_GNUC_INTERNAL void      pge_pool_report_start  (PgeSlot *slot, const GError *error);
G_GNUC_INTERNAL void      pge_pool_slot_exited   (PgeSlot *slot);
G_GNUC_INTERNAL gboolean  pge_pool_sleep         (PgeSlot *slot, gint64 until);
G_GNUC_INTERNAL gboolean  pge_pool_is_starved    (PgePool *pool);
G_GNUC_INTERNAL void      pge_pool_enter_thread  (PgeSlot *slot);
G_GNUC_INTERNAL PgeSlot  *pge_pool_get_current_slot (void);
G_GNUC_INTERNAL void      pge_pool_count_reconnect (PgePool *pool);
/* Marks the pool down as a failed connect of a slot would (a replica
 * check that cannot connect). */
G_GNUC_INTERNAL void      pge_pool_mark_down     (PgePool *pool);
G_GNUC_INTERNAL gboolean  pge_pool_is_down       (PgePool *pool);
/* Every connection reconnects before its next job (idle ones at once):
 * routing.c, when a replica node's conninfo now leads elsewhere. */
G_GNUC_INTERNAL void      pge_pool_reconnect_all (PgePool *pool);
/* Running plus queued jobs, for the least-busy read policy. */
G_GNUC_INTERNAL guint     pge_pool_get_load      (PgePool *pool);
/* Fills the down/refused/switch fields of @stats (pge-routing.h). */
G_GNUC_INTERNAL void      pge_pool_get_node_stats (PgePool *pool, PgeNodeStats *stats);

/* Leases: a job stream bound to one slot (transactions, batches). */
G_GNUC_INTERNAL PgeLease  *pge_lease_new        (PgePool *pool);
G_GNUC_INTERNAL PgeLease  *pge_lease_ref        (PgeLease *lease);
G_GNUC_INTERNAL void       pge_lease_unref      (PgeLease *lease);
G_GNUC_INTERNAL PgeJob    *pge_lease_new_pin_job (PgeLease *lease);
/* No more jobs: once those queued are done, the slot's connection is
 * rolled back and goes back to the pool. With @take, and the slot free
 * with nothing queued, the caller gets the slot to do that itself (then
 * pge_pool_unpin() and pge_pool_release()). Never blocks; idempotent. */
G_GNUC_INTERNAL PgeSlot   *pge_lease_release    (PgeLease *lease, gboolean take);
G_GNUC_INTERNAL void       pge_lease_wait_unpinned (PgeLease *lease);
G_GNUC_INTERNAL void       pge_lease_bind        (PgeLease *lease);
G_GNUC_INTERNAL void       pge_lease_poison      (PgeLease *lease, const GError *error);
G_GNUC_INTERNAL GError    *pge_lease_dup_poison  (PgeLease *lease);
G_GNUC_INTERNAL gboolean   pge_lease_owns        (PgeLease *lease, PgeConnection *conn);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PgePool, pge_pool_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PgeLease, pge_lease_unref)

/* For the files outside the scheduler (engine.c, session.c): what they
 * set and read of a pool, a slot or a lease, instead of the fields. */
/* The engine that owns @pool; set before its workers start, fixed then. */
G_GNUC_INTERNAL void           pge_pool_set_owner      (PgePool *pool, gconstpointer owner);
G_GNUC_INTERNAL const char    *pge_pool_get_name       (PgePool *pool);
G_GNUC_INTERNAL guint          pge_pool_get_n_slots    (PgePool *pool);
/* Borrowed; @index < pge_pool_get_n_slots(). Slots are fixed after
 * pge_pool_new(). */
G_GNUC_INTERNAL PgeSlot       *pge_pool_get_slot       (PgePool *pool, guint index);
/* Borrowed. Only the slot's holder may use it, but for what any thread
 * may ask a connection (its server version, a cancel). */
G_GNUC_INTERNAL PgeConnection *pge_slot_get_connection (PgeSlot *slot);
/* Marks a session's lease: when it is unpinned, its holder rolls back and
 * runs DISCARD ALL before the connection serves anyone else. Before the
 * lease is pinned (then the flag is immutable). */
G_GNUC_INTERNAL void           pge_lease_set_reset     (PgeLease *lease);

G_END_DECLS
