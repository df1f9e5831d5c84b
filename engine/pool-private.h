/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "pgengine.h"
#include "config-private.h"
#include "job-private.h"

G_BEGIN_DECLS

/* A pool is one node: its workers, its queue, its janitor. The threading
 * rules are written at the top of pool.c. */
struct _PgeWorker {
  PgePool  *pool;          /* weak: the pool outlives its threads */
  guint     index;
  char     *label;         /* "primary/2", for logs */
  GThread  *thread;

  /* Owned by the worker thread (written only there). */
  PGconn   *conn;
  guint64   generation;    /* +1 per successful connect */
  struct _PgeStatements *statements;  /* nullable; names prepared on conn */
  gboolean  ever_connected;
  gboolean  doomed;        /* the server sent FATAL: the session is ending */

  /* Guarded by pool->queue_lock. */
  GCond     wake;          /* signalled when this worker has work */
  PgeLease *lease;         /* owned ref while pinned */
  PgeJob   *running;       /* borrowed; the job it runs now: written only
                            * by this worker's thread, under cancel_lock */
  gboolean  idle;          /* waiting in pool->idle_workers */
  GList     idle_link;
  gboolean  connected;     /* as seen by the pool, for stats and startup */
  gboolean  exited;

  /* Guarded by cancel_lock; nested inside queue_lock, never around it. */
  GMutex    cancel_lock;
  PGcancel *cancel;        /* owned; for the current connection */
  gboolean  cancel_sent;   /* a cancel request went out during this batch */
};

struct _PgeLease {
  gatomicrefcount ref;
  PgePool   *pool;         /* owned */
  PgeJob    *pin_job;      /* owned until pinned or failed */

  /* Guarded by pool->queue_lock. */
  PgeWorker *worker;       /* set when pinned */
  GQueue     jobs;         /* of PgeJob*, via job->link, in order */
  guint64    generation;   /* worker->generation when pinned */
  gboolean   released;     /* no more jobs; unpin once drained */
  gboolean   unpinned;     /* the worker is back in the pool */
  GCond      unpinned_cond;
};

struct _PgePool {
  gatomicrefcount ref;
  char        *name;
  char        *conninfo;
  guint        n_workers;
  guint        acquire_timeout_ms;
  guint        statement_timeout_ms;
  guint        max_queue;
  gboolean     log_queries;
  gboolean     log_responses;
  guint        pipeline_max;     /* most queries per pipeline, 1 = none */
  guint        statement_cache;  /* per connection, 0 = none */
  int          server_version;   /* atomic */

  GMutex       queue_lock;       /* guards everything below but counters */
  GQueue       queue;            /* of PgeJob*, waiting for any worker */
  GQueue       idle_workers;     /* of PgeWorker* */
  GPtrArray   *workers;          /* of PgeWorker*, fixed after start */
  GThread     *janitor;
  GCond        janitor_cond;
  GCond        state_cond;       /* connect/exit progress, for start and close */
  gboolean     closing;
  gboolean     started;          /* pge_pool_start() ran; else no thread to join */
  gint         cancel_all;       /* atomic: close's grace is over */
  guint        n_connect_attempts_done;  /* first attempts, for start */
  GError      *start_error;
  guint        n_busy;
  guint        n_pinned;

  /* Atomic. */
  guint64      n_completed;
  guint64      n_failed;
  guint64      n_reconnects;
};

/* What a worker does next; see pge_pool_next(). */
typedef enum {
  PGE_NEXT_RUN,     /* run *job */
  PGE_NEXT_UNPIN,   /* roll back if needed, then pge_pool_unpin() */
  PGE_NEXT_EXIT     /* the pool is closing: disconnect and return */
} PgeNext;

G_GNUC_INTERNAL PgePool  *pge_pool_new        (const PgeNodeSettings *node,
                                               const PgeSettings     *settings);
G_GNUC_INTERNAL PgePool  *pge_pool_ref        (PgePool *pool);
G_GNUC_INTERNAL void      pge_pool_unref      (PgePool *pool);
G_GNUC_INTERNAL gboolean  pge_pool_start      (PgePool *pool, GError **error);
G_GNUC_INTERNAL void      pge_pool_submit     (PgePool *pool, PgeJob *job);
G_GNUC_INTERNAL void      pge_pool_close      (PgePool *pool);
G_GNUC_INTERNAL void      pge_pool_join       (PgePool *pool);
G_GNUC_INTERNAL void      pge_pool_add_stats  (PgePool *pool, PgeStats *stats);
G_GNUC_INTERNAL void      pge_pool_count_outcome (PgePool *pool, gboolean failed);
G_GNUC_INTERNAL void      pge_pool_cancel_job (PgePool *pool, PgeJob *job);
G_GNUC_INTERNAL PgePool  *pge_pool_get_current_janitor (void);

/* For worker.c. */
/* The most queued queries a worker sends at once as one libpq pipeline. */
#define PGE_PIPELINE_MAX PGE_PIPELINE_DEPTH_MAX

G_GNUC_INTERNAL PgeNext   pge_pool_next          (PgePool   *pool,
                                                  PgeWorker *worker,
                                                  PgeJob   **jobs,
                                                  guint     *n_jobs);
G_GNUC_INTERNAL void      pge_pool_advance       (PgePool *pool, PgeWorker *worker, PgeJob *job);
G_GNUC_INTERNAL void      pge_pool_requeue_front (PgePool *pool, PgeJob **jobs, guint n_jobs);
G_GNUC_INTERNAL gboolean  pge_pool_take_cancel_sent (PgePool *pool, PgeWorker *worker);
G_GNUC_INTERNAL void      pge_pool_job_done      (PgePool *pool, PgeWorker *worker, PgeJob *job);
G_GNUC_INTERNAL void      pge_pool_requeue       (PgePool *pool, PgeWorker *worker, PgeJob *job);
G_GNUC_INTERNAL void      pge_pool_unpin         (PgePool *pool, PgeWorker *worker);
G_GNUC_INTERNAL void      pge_pool_set_connected (PgePool   *pool,
                                                  PgeWorker *worker,
                                                  PGcancel  *cancel);
G_GNUC_INTERNAL void      pge_pool_report_start  (PgePool *pool, const GError *error);
G_GNUC_INTERNAL void      pge_pool_worker_exited (PgePool *pool, PgeWorker *worker);
G_GNUC_INTERNAL void      pge_pool_count_reconnect (PgePool *pool);
G_GNUC_INTERNAL gboolean  pge_pool_sleep         (PgePool *pool, PgeWorker *worker, gint64 until);

/* Leases: a job stream bound to one worker (transactions, batches). */
G_GNUC_INTERNAL PgeLease  *pge_lease_new        (PgePool *pool);
G_GNUC_INTERNAL PgeFuture *pge_lease_pin        (PgeLease *lease);
G_GNUC_INTERNAL gboolean   pge_lease_pin_sync   (PgeLease *lease, GError **error);
G_GNUC_INTERNAL PgeLease  *pge_lease_ref        (PgeLease *lease);
G_GNUC_INTERNAL void       pge_lease_unref      (PgeLease *lease);
G_GNUC_INTERNAL void       pge_lease_submit     (PgeLease *lease, PgeJob *job);
G_GNUC_INTERNAL void       pge_lease_release    (PgeLease *lease);
G_GNUC_INTERNAL void       pge_lease_wait_unpinned (PgeLease *lease);
G_GNUC_INTERNAL gboolean   pge_lease_is_released (PgeLease *lease);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PgePool, pge_pool_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PgeLease, pge_lease_unref)

G_END_DECLS
