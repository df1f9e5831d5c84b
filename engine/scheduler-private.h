/* scheduler-private.h — the bodies of the scheduler's structs.
 *
 * Only the scheduler reads or writes these fields: pool.c (the queue,
 * leases, the janitor), dispatch.c and worker.c (the holder of a slot),
 * and the parts of the pool kept in files of their own: lifecycle.c
 * (lifetimes, idleness, recycling), calloptions.c (per-call deadlines in
 * the janitor's order) and metrics.c (per-connection counters summed
 * under queue_lock). Everything else goes through the functions of
 * pool-private.h. The locking rules are at the top of pool.c.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "pool-private.h"

G_BEGIN_DECLS
/* Who holds a slot's connection right now; only the holder touches it. */
typedef enum {
  PGE_HOLDER_NONE,    /* nobody: the worker thread sleeps in pge_pool_next() */
  PGE_HOLDER_WORKER,  /* the slot's worker thread */
  PGE_HOLDER_DIRECT   /* a blocking caller running its own job (dispatch.c) */
} PgeHolder;

/* A thread's queue of deferred queries (pool.c, "Deferral"). */
typedef struct _PgeDeferred PgeDeferred;

/* One connection of a node and the scheduling state around it. The
 * threading rules are written at the top of pool.c. */
struct _PgeSlot {
  PgePool       *pool;       /* weak: the pool outlives its slots' threads */
  guint          index;
  PgeConnection *conn;       /* owned; used only by the holder */
  GThread       *thread;     /* the worker thread, set by worker.c */

  /* Guarded by pool->queue_lock. */
  GCond          wake;       /* signalled when the worker has something to do */
  PgeHolder      holder;
  PgeLease      *lease;      /* owned ref while pinned */
  PgeJob        *running;    /* borrowed: the job whose query runs now */
  gpointer       resume;     /* owned: a pipeline window a direct holder
                              * handed to the worker (dispatch.c) */
  gboolean       idle;       /* in pool->idle_slots: free, connected, unpinned */
  GList          idle_link;
  gboolean       connected;  /* as seen by the pool, for stats and start */
  gboolean       broken;     /* a direct holder lost the connection: the
                              * worker must reconnect before anything else */
  gboolean       exited;
  gboolean       ever_up;    /* connected once: a later loss is reported */
  gboolean       lost;       /* reported lost, not yet restored */

  PgeMetricsCells metrics;   /* written by the holder only (metrics.c) */
  /* Lifecycle (lifecycle.c); guarded by pool->queue_lock. */
  gint64         expires_at;   /* monotonic µs, with jitter; 0: never */
  gint64         idle_since;   /* when it last went into idle_slots */
  guint          epoch;        /* the pool's recycle epoch when it connected */
  guint          renew;        /* PgeRenew: what its worker is to do next */
  gboolean       closed_idle;  /* closed for idleness; reopened on demand */
  gboolean       renewing;     /* closed on purpose: a reconnect is no loss */
};

struct _PgeLease {
  gatomicrefcount ref;
  PgePool   *pool;         /* owned */

  /* Guarded by pool->queue_lock. */
  PgeSlot   *slot;         /* set when pinned */
  GQueue     jobs;         /* of PgeJob*, via job->link, in order */
  guint64    generation;   /* the connection's generation when pinned */
  gboolean   released;     /* no more jobs; unpin once drained */
  gboolean   unpinned;     /* the slot is back in the pool */
  gboolean   reset;        /* immutable once pinned: a session's lease,
                            * whose connection is reset (DISCARD ALL)
                            * when unpinned */
  GError    *poison;       /* set: its jobs fail with it instead of running */
  gboolean   in_transaction; /* the holder's: a transaction block was open
                              * after the lease's last job (dispatch.c) */
  GCond      unpinned_cond;
};

struct _PgePool {
  gatomicrefcount ref;
  char        *name;
  gconstpointer owner;           /* the engine: pools of one engine share it */
  guint        n_slots;
  guint        acquire_timeout_ms;
  guint        max_queue;
  guint        pipeline_max;     /* most queries per pipeline, 1 = none */

  GMutex       queue_lock;       /* guards everything below but the counters;
                                  * pool.c takes it with pge_mutex_lock_spin() */
  GQueue       queue;            /* of PgeJob*, waiting for any slot */
  GQueue       deferred;         /* of PgeDeferred*, via their link: threads'
                                  * queues of queries waiting for them (pool.c) */
  guint        n_deferred;       /* the jobs in them, counted as queued */
  guint        n_defer_starts;   /* deferred queues started, ever (wraps);
                                  * under queue_lock, as the rest */
  guint        n_defer_starts_seen; /* the janitor's: at its last look */
  GQueue       idle_slots;       /* of PgeSlot* */
  GPtrArray   *slots;            /* of PgeSlot*, fixed after pge_pool_new() */
  GThread     *janitor;
  GCond        janitor_cond;
  gint64       janitor_until;    /* the end of the janitor's current wait:
                                  * G_MAXINT64 while it has nothing to time */
  GCond        state_cond;       /* connect/exit progress, for start and close */
  gboolean     closing;
  guint        n_connect_attempts_done;  /* first attempts, for start */
  GError      *start_error;
  PgeFuture   *started;          /* owned; resolved (outside the lock) once
                                  * every slot made its first attempt: with
                                  * start_error, or TRUE */
  PgePoolLinkFunc link_func;     /* set before the workers start, then fixed */
  gpointer     link_data;
  GDestroyNotify link_notify;
  guint        n_busy;
  guint        n_pinned;
  /* Down (extra nodes only): set when a connect fails while no slot of
   * the pool is connected, cleared by the next connect that succeeds;
   * while set, submissions fail at once with PGE_ERROR_CONNECTION
   * instead of waiting out the acquire timeout. */
  gboolean     fail_fast;        /* fixed after pge_pool_new() */
  guint        reconnect_max_ms; /* workers' backoff cap; fixed */
  gboolean     down;
  char        *server;           /* "host:port" of the last connect */
  char        *connect_failure;  /* why the last connect failed; NULL once
                                  * one succeeded (for the janitor's word) */
  PgeMetricsFigures metrics_base;    /* subtracted from snapshots (metrics.c) */
  PgeMetricsFigures metrics_retired; /* what slots taken out had counted */

  /* Atomic. */
  PgeCounters  counters;
  guint64      n_reconnects;
  guint64      n_down;
  guint64      n_refused;
  guint64      n_server_switches;

  /* Lifecycle (lifecycle.c). The limits are fixed after pge_pool_new();
   * the rest is guarded by queue_lock. */
  gint64       max_lifetime_us;      /* 0: unlimited */
  gint64       max_idle_us;          /* 0: none */
  guint        min_open;             /* connections kept open; 0: a fixed pool */
  gint64       shrink_idle_us;       /* idle time that closes one above min_open */
  gint64       reconnect_timeout_us; /* 0: never give up */
  guint        recycle_epoch;        /* +1 per pge_engine_recycle() */
  gint64       unreachable_since;    /* first failed connect with none up; 0: reachable */
  gboolean     gave_up;              /* unreachable past reconnect_timeout */
  PgePoolLinkFunc reach_func;        /* told of give-ups and comebacks, with
                                      * link_data; set before the workers start */
  /* Per-call acquire timeouts (calloptions.c); guarded by queue_lock. */
  GSequence   *deadlines;            /* of PgeJob* (refs) with their own
                                      * acquire timeout, by deadline */
};

G_END_DECLS
