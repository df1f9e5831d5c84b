/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "pgengine.h"
#include "future-private.h"

G_BEGIN_DECLS

typedef struct _PgeJob        PgeJob;
typedef struct _PgePool       PgePool;
typedef struct _PgeSlot       PgeSlot;
typedef struct _PgeLease      PgeLease;
typedef struct _PgeConnection PgeConnection;

/* What a job carries is kept apart from how it is sent: a QUERY is SQL
 * plus frozen parameters, so the connection is free to send it with
 * PQsendQueryParams, as a prepared statement, or inside a pipeline. */
typedef enum {
  PGE_JOB_QUERY,   /* one statement, extended protocol, $n parameters */
  PGE_JOB_EXEC,    /* a script, simple protocol */
  PGE_JOB_CALL,    /* internal or user code run with the connection */
  PGE_JOB_PIN      /* binds a lease to the slot that takes it */
} PgeJobKind;

typedef enum {
  PGE_JOB_NEW,
  PGE_JOB_QUEUED,   /* in a pool queue or a lease queue */
  PGE_JOB_RUNNING,
  PGE_JOB_DONE
} PgeJobState;

/* Runs on the thread that holds the connection (a worker, or a blocking
 * caller). Returns a result (nullable) or NULL with @error set. */
typedef PgeResult *(*PgeJobFunc) (PgeJob *job, PgeConnection *conn, gpointer data, GError **error);

/* Runs on the same thread right after the job ran, before anything else
 * uses the connection, with the job's outcome (not yet resolved). */
typedef void (*PgeJobObserver) (PgeJob        *job,
                                PgeConnection *conn,
                                PgeResult     *result,
                                const GError  *error,
                                gpointer       data);

/* Outcome counters of a node, for jobs resolved by no slot's holder
 * (refused, expired, cancelled or failed in a queue); atomic. Holders
 * count in their slot's cells (dispatch.c). */
typedef struct {
  guint64 n_completed;
  guint64 n_failed;
} PgeCounters;

struct _PgeJob {
  gatomicrefcount ref;
  PgeJobKind      kind;

  /* Immutable once submitted. */
  char           *sql;        /* QUERY, EXEC; freed with the job if sql_owned */
  gboolean        sql_owned;  /* else borrowed, or stored right after the job */
  gboolean        borrowed;   /* a blocking caller's: sql, params and pool are
                               * borrowed, the caller is in the engine until
                               * the job is done (pge_job_new_query_borrowed()) */
  PgeParams      *params;     /* QUERY: frozen view, or borrowed; nullable */
  gsize           plain_size; /* a plain query's SQL and values in bytes, else 0;
                               * G_MAXSIZE until worked out (a blocking call's
                               * job: on first use, under the pool's queue_lock) */
  guint           key_hash;   /* a plain query's pge_statements_key_hash(),
                               * worked out with plain_size */
  PgeJobFunc      func;       /* CALL */
  gpointer        data;
  GDestroyNotify  notify;     /* frees data once the job is freed */
  PgeFuture      *future;     /* owned, resolved exactly once; NULL for a
                               * borrowed job until it is published */
  PgeResult      *result;     /* the outcome of a job that has no future, */
  GError         *error;      /* for its caller (pge_job_wait()) */
  gint64          created_us; /* monotonic: acquire time starts here (metrics) */
  PgeJobObserver  observe;    /* nullable */
  gpointer        observe_data;
  GDestroyNotify  observe_notify;

  /* Set once by the scheduler (pool.c) when submitted; it owns what
   * they point to through @release, called when the job is freed. */
  PgePool        *pool;
  PgeLease       *lease;      /* set: runs on the lease's slot */
  PgeCounters    *counters;   /* the pool's */
  void          (*release) (PgeJob *job);

  /* Guarded by pool->queue_lock. */
  PgeJobState     state;
  GList           link;       /* node in `queue` */
  GQueue         *queue;      /* the pool's or a lease's queue, while QUEUED */
  gint64          deadline;   /* monotonic µs; 0: no acquire timeout */
  PgeSlot        *slot;       /* running on it */

  gint            cancel_requested;  /* atomic */
  gint            finished;          /* atomic: the one pge_job_finish() that counts */

  /* Per-call limits (calloptions.c); immutable once submitted. */
  gboolean        own_acquire_timeout;  /* else the pool's */
  guint           acquire_timeout_ms;   /* 0: waits forever */
};

G_GNUC_INTERNAL PgeJob    *pge_job_new_query  (const char *sql, PgeParams *params);
G_GNUC_INTERNAL PgeJob    *pge_job_new_query_borrowed (const char *sql, PgeParams *params);
G_GNUC_INTERNAL PgeJob    *pge_job_new_exec   (const char *script);
G_GNUC_INTERNAL PgeJob    *pge_job_new_call   (PgeJobFunc     func,
                                               gpointer       data,
                                               GDestroyNotify notify);
G_GNUC_INTERNAL PgeJob    *pge_job_ref        (PgeJob *job);
G_GNUC_INTERNAL void       pge_job_unref      (PgeJob *job);
G_GNUC_INTERNAL void       pge_job_set_observer (PgeJob        *job,
                                                 PgeJobObserver observe,
                                                 gpointer       data,
                                                 GDestroyNotify notify);
G_GNUC_INTERNAL void       pge_job_finish     (PgeJob *job, PgeResult *result, GError *error);
G_GNUC_INTERNAL void       pge_job_finish_counted (PgeJob    *job,
                                                   PgeResult *result,
                                                   GError    *error,
                                                   guint64   *completed,
                                                   guint64   *failed);
G_GNUC_INTERNAL void       pge_job_fail       (PgeJob *job, gint code, const char *message);
G_GNUC_INTERNAL PgeFuture *pge_job_ensure_future (PgeJob *job);
G_GNUC_INTERNAL PgeResult *pge_job_wait       (PgeJob *job, gboolean queued, GError **error);
G_GNUC_INTERNAL gboolean   pge_job_is_cancel_requested (PgeJob *job);
G_GNUC_INTERNAL gboolean   pge_job_waits_for_a_connection (PgeJob *job);
G_GNUC_INTERNAL gboolean   pge_job_is_plain_query (PgeJob *job);
G_GNUC_INTERNAL gboolean   pge_sql_is_plain   (const char *sql);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PgeJob, pge_job_unref)

G_END_DECLS
