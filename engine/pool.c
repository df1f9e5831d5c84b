/* pool.c — a node's queue, its workers' scheduling, leases and the janitor.
 *
 * Threading model (the rules every other file relies on):
 *
 * - Each worker thread owns one PGconn; only that thread ever uses it
 *   (worker.c). The only thing other threads touch is the worker's
 *   PGcancel, under `worker->cancel_lock`, to send a cancel request.
 * - `pool->queue_lock` guards the pool queue (jobs any worker may take),
 *   every lease's queue, every job's state and queue link, each worker's
 *   `lease`, `running` and idle flag, and the pool counters but the
 *   atomic ones. Lock order: queue_lock, then a worker's cancel_lock; a
 *   future's lock is never held with either (futures resolve outside them,
 *   so callbacks may submit work).
 * - An idle unpinned worker waits on its own `wake` cond and sits in
 *   `idle_workers`; a submission wakes exactly one of them.
 * - A lease (transaction, batch) is pinned by a PIN job that goes through
 *   the pool queue like any job, so it waits its turn and obeys the
 *   acquire timeout. The worker that takes it serves only the lease's
 *   queue, in order, until the lease is released and drained; then it
 *   rolls back anything left open (worker.c) and returns to the pool.
 * - Cancellation: a queued job is unlinked and fails at once; a running
 *   one gets PQcancel() while the canceller holds the worker's
 *   cancel_lock, and the worker takes that lock before it moves to its
 *   next job, so a late cancel can never hit the next job's query.
 * - The janitor thread expires jobs that waited longer than the acquire
 *   timeout. The queue is FIFO with one timeout per pool, so the head
 *   always holds the nearest deadline.
 * - Close: the pool stops taking jobs, fails every queued job (pool and
 *   lease queues) with PGE_ERROR_CLOSED, lets running jobs end (after a
 *   grace period their queries are cancelled), pinned workers roll back,
 *   and all threads are joined.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <string.h>

#include "errors-private.h"
#include "params-private.h"
#include "pool-private.h"
#include "worker-private.h"

/* How long close lets running queries go on before cancelling them. */
#define CLOSE_GRACE_US (5 * G_TIME_SPAN_SECOND)

PgePool *
pge_pool_new (const PgeNodeSettings *node, const PgeSettings *settings)
{
  PgePool *pool = g_new0 (PgePool, 1);

  g_atomic_ref_count_init (&pool->ref);
  pool->name = g_strdup (node->name);
  pool->conninfo = g_strdup (node->conninfo);
  pool->n_workers = node->n_workers;
  pool->acquire_timeout_ms = settings->acquire_timeout_ms;
  pool->statement_timeout_ms = settings->statement_timeout_ms;
  pool->max_queue = settings->max_queue;
  pool->log_queries = settings->log_queries;
  pool->log_responses = settings->log_responses;
  pool->pipeline_max = settings->pipeline_depth;
  pool->statement_cache = settings->statement_cache;
  g_mutex_init (&pool->queue_lock);
  g_cond_init (&pool->janitor_cond);
  g_cond_init (&pool->state_cond);
  g_queue_init (&pool->queue);
  g_queue_init (&pool->idle_workers);
  pool->workers = g_ptr_array_new_with_free_func ((GDestroyNotify) pge_worker_free);
  for (guint i = 0; i < node->n_workers; i++)
    g_ptr_array_add (pool->workers, pge_worker_new (pool, i));
  return pool;
}

PgePool *
pge_pool_ref (PgePool *pool)
{
  g_atomic_ref_count_inc (&pool->ref);
  return pool;
}

void
pge_pool_unref (PgePool *pool)
{
  if (!g_atomic_ref_count_dec (&pool->ref))
    return;
  /* Threads hold no reference: the engine joins them before its last unref. */
  g_ptr_array_unref (pool->workers);
  g_clear_error (&pool->start_error);
  g_mutex_clear (&pool->queue_lock);
  g_cond_clear (&pool->janitor_cond);
  g_cond_clear (&pool->state_cond);
  g_free (pool->name);
  g_free (pool->conninfo);
  g_free (pool);
}

/* ------------------------------------------------------------- janitor */

/* The pool whose janitor runs on this thread: expired jobs resolve here,
 * so NULL-context callbacks run here, and must not block on the engine. */
static GPrivate current_janitor = G_PRIVATE_INIT (NULL);

PgePool *
pge_pool_get_current_janitor (void)
{
  return g_private_get (&current_janitor);
}

static gpointer
janitor_main (gpointer data)
{
  PgePool *pool = data;

  g_private_set (&current_janitor, pool);

  g_mutex_lock (&pool->queue_lock);
  while (!pool->closing)
    {
      GList *head = pool->queue.head;
      PgeJob *job;

      if (head == NULL)
        {
          g_cond_wait (&pool->janitor_cond, &pool->queue_lock);
          continue;
        }
      job = head->data;
      if (g_get_monotonic_time () < job->deadline)
        {
          g_cond_wait_until (&pool->janitor_cond, &pool->queue_lock, job->deadline);
          continue;
        }
      g_queue_unlink (&pool->queue, &job->link);
      job->state = PGE_JOB_DONE;
      job->queue = NULL;
      g_mutex_unlock (&pool->queue_lock);
      pge_job_finish (job, NULL,
                      g_error_new (PGE_ERROR, PGE_ERROR_TIMEOUT,
                                   "no worker of node \"%s\" became free within %u ms "
                                   "(all busy or pinned, or the server is unreachable)",
                                   pool->name, pool->acquire_timeout_ms));
      pge_job_unref (job);
      g_mutex_lock (&pool->queue_lock);
    }
  g_mutex_unlock (&pool->queue_lock);
  return NULL;
}

/* --------------------------------------------------------------- start */

gboolean
pge_pool_start (PgePool *pool, GError **error)
{
  gboolean ok;

  for (guint i = 0; i < pool->workers->len; i++)
    {
      PgeWorker *worker = pool->workers->pdata[i];
      GError *local = NULL;

      worker->thread = g_thread_try_new (worker->label, pge_worker_main, worker, &local);
      if (worker->thread == NULL)
        {
          g_mutex_lock (&pool->queue_lock);
          worker->exited = TRUE;
          pool->n_connect_attempts_done++;
          if (pool->start_error == NULL)
            pool->start_error = g_error_new (PGE_ERROR, PGE_ERROR_FAILED,
                                             "cannot start a worker thread: %s", local->message);
          g_mutex_unlock (&pool->queue_lock);
          g_clear_error (&local);
        }
    }
  pool->started = TRUE;
  if (pool->acquire_timeout_ms > 0)
    pool->janitor = g_thread_new ("pge-janitor", janitor_main, pool);

  g_mutex_lock (&pool->queue_lock);
  while (pool->n_connect_attempts_done < pool->workers->len)
    g_cond_wait (&pool->state_cond, &pool->queue_lock);
  ok = pool->start_error == NULL;
  if (!ok)
    g_propagate_error (error, g_error_copy (pool->start_error));
  g_mutex_unlock (&pool->queue_lock);
  return ok;
}

/* Called by each worker after its first connection attempt. */
void
pge_pool_report_start (PgePool *pool, const GError *error)
{
  g_mutex_lock (&pool->queue_lock);
  pool->n_connect_attempts_done++;
  if (error != NULL && pool->start_error == NULL)
    pool->start_error = g_error_copy (error);
  g_cond_broadcast (&pool->state_cond);
  g_mutex_unlock (&pool->queue_lock);
}

/* Installs the cancel handle of a new connection (NULL: disconnected). */
void
pge_pool_set_connected (PgePool *pool, PgeWorker *worker, PGcancel *cancel)
{
  PGcancel *old;

  g_mutex_lock (&pool->queue_lock);
  worker->connected = cancel != NULL;
  g_mutex_lock (&worker->cancel_lock);
  old = worker->cancel;
  worker->cancel = cancel;
  g_mutex_unlock (&worker->cancel_lock);
  g_mutex_unlock (&pool->queue_lock);
  g_clear_pointer (&old, PQfreeCancel);
}

/* ---------------------------------------------------------- submission */

static void
wake_one_idle (PgePool *pool)
{
  GList *link = g_queue_pop_head_link (&pool->idle_workers);
  PgeWorker *worker;

  if (link == NULL)
    return;
  worker = link->data;
  worker->idle = FALSE;
  g_cond_signal (&worker->wake);
}

static void
enqueue_locked (GQueue *queue, PgeJob *job, gint64 deadline)
{
  job->state = PGE_JOB_QUEUED;
  job->queue = queue;
  job->deadline = deadline;
  g_queue_push_tail_link (queue, &job->link);
  pge_job_ref (job);
}

/* Queues @job for any worker of @pool. The caller keeps its reference.
 * Refusals (closed, full, cancelled) resolve the job's future at once. */
void
pge_pool_submit (PgePool *pool, PgeJob *job)
{
  gint code = -1;

  g_assert (job->pool == NULL);
  job->pool = pge_pool_ref (pool);
  g_mutex_lock (&pool->queue_lock);
  if (pool->closing)
    code = PGE_ERROR_CLOSED;
  else if (pge_job_is_cancel_requested (job))
    code = PGE_ERROR_CANCELLED;
  else if (pool->max_queue > 0 && pool->queue.length >= pool->max_queue)
    code = PGE_ERROR_QUEUE_FULL;
  else
    {
      gint64 deadline = 0;

      if (pool->acquire_timeout_ms > 0)
        deadline = g_get_monotonic_time () + (gint64) pool->acquire_timeout_ms * 1000;
      if (pool->queue.length == 0 && pool->janitor != NULL)
        g_cond_signal (&pool->janitor_cond);
      enqueue_locked (&pool->queue, job, deadline);
      wake_one_idle (pool);
    }
  g_mutex_unlock (&pool->queue_lock);

  if (code == PGE_ERROR_CLOSED)
    pge_job_fail (job, code, "the engine is closed");
  else if (code == PGE_ERROR_CANCELLED)
    pge_job_fail (job, code, "cancelled before it was queued");
  else if (code == PGE_ERROR_QUEUE_FULL)
    pge_job_finish (job, NULL, g_error_new (PGE_ERROR, PGE_ERROR_QUEUE_FULL,
                                            "%u jobs are already waiting on node \"%s\" "
                                            "(max_queue)", pool->max_queue, pool->name));
}

/* Unlinks every job of @queue into @out, marking them done. */
static void
steal_queue_locked (GQueue *queue, GQueue *out)
{
  GList *link;

  while ((link = g_queue_pop_head_link (queue)) != NULL)
    {
      PgeJob *job = link->data;

      job->state = PGE_JOB_DONE;
      job->queue = NULL;
      g_queue_push_tail (out, job);
    }
}

static void
fail_all (GQueue *jobs, gint code, const char *message)
{
  PgeJob *job;

  while ((job = g_queue_pop_head (jobs)) != NULL)
    {
      pge_job_fail (job, code, message);
      pge_job_unref (job);
    }
}

/* --------------------------------------------------------- cancellation */

void
pge_pool_cancel_job (PgePool *pool, PgeJob *job)
{
  PgeWorker *worker = NULL;
  char errbuf[256];

  g_mutex_lock (&pool->queue_lock);
  if (job->state == PGE_JOB_QUEUED)
    {
      g_queue_unlink (job->queue, &job->link);
      job->queue = NULL;
      job->state = PGE_JOB_DONE;
      g_mutex_unlock (&pool->queue_lock);
      pge_job_fail (job, PGE_ERROR_CANCELLED, "cancelled while queued; it never ran");
      pge_job_unref (job);
      return;
    }
  if (job->state == PGE_JOB_RUNNING)
    {
      worker = job->worker;
      g_mutex_lock (&worker->cancel_lock);
    }
  g_mutex_unlock (&pool->queue_lock);
  if (worker == NULL)
    return;
  /* The worker cannot clear `running` (nor start another job) while we
   * hold cancel_lock, so this request is for @job's query. */
  if (worker->running == job && worker->cancel != NULL)
    {
      worker->cancel_sent = TRUE;
      if (!PQcancel (worker->cancel, errbuf, sizeof errbuf))
        g_debug ("%s: cancel request failed: %s", worker->label, errbuf);
    }
  g_mutex_unlock (&worker->cancel_lock);
}

/* ------------------------------------------------------- worker's side */

/* Takes the job's PIN: @worker now serves the lease only. */
static void
pin_locked (PgePool *pool, PgeWorker *worker, PgeJob *job)
{
  PgeLease *lease = job->lease;

  worker->lease = pge_lease_ref (lease);
  lease->worker = worker;
  lease->generation = worker->generation;
  pool->n_pinned++;
}

/* A query that can share a pipeline with others: a plain pool query (see
 * pge_job_is_plain_query(): no BEGIN, whose transaction would swallow the
 * queries behind it; no COPY, which pipeline mode does not allow), small
 * enough that sending it can never block on a server busy writing
 * earlier results (libpq's pipeline deadlock). */
static gboolean
pipelinable (PgeJob *job)
{
  gsize size;

  if (job->lease != NULL || pge_job_is_cancel_requested (job) || !pge_job_is_plain_query (job))
    return FALSE;
  size = strlen (job->sql);
  if (job->params != NULL)
    {
      PgeParamsView view;

      pge_params_view (job->params, &view);
      for (int i = 0; i < view.n; i++)
        if (view.values[i] != NULL)
          size += view.formats[i] ? (gsize) view.lengths[i] : strlen (view.values[i]);
    }
  return size < 16 * 1024;
}

static void
mark_running_locked (PgeJob *job, PgeWorker *worker)
{
  job->queue = NULL;
  job->state = PGE_JOB_RUNNING;
  job->worker = worker;
}

/* Blocks until @worker has something to do. With PGE_NEXT_RUN, fills
 * @jobs with one job, or with up to PGE_PIPELINE_MAX queries to send as
 * one pipeline: only when no other worker is idle, so pipelining never
 * takes work from an idle connection, it only shortens a queue that is
 * waiting anyway. The queue's references pass to the worker. */
PgeNext
pge_pool_next (PgePool *pool, PgeWorker *worker, PgeJob **jobs, guint *n_jobs)
{
  PgeJob *job = NULL;
  GQueue expired = G_QUEUE_INIT;
  guint n = 0;

  g_mutex_lock (&pool->queue_lock);
  for (;;)
    {
      GList *link;

      if (worker->lease != NULL)
        {
          link = g_queue_pop_head_link (&worker->lease->jobs);
          if (link != NULL)
            {
              job = link->data;
              break;
            }
          if (worker->lease->released || pool->closing)
            {
              g_mutex_unlock (&pool->queue_lock);
              return PGE_NEXT_UNPIN;
            }
        }
      else
        {
          if (pool->closing)
            {
              g_mutex_unlock (&pool->queue_lock);
              return PGE_NEXT_EXIT;
            }
          link = g_queue_pop_head_link (&pool->queue);
          if (link != NULL)
            {
              job = link->data;
              if (job->kind != PGE_JOB_PIN || !job->lease->released)
                break;
              /* Its owner gave up before a worker was free. */
              job->state = PGE_JOB_DONE;
              job->queue = NULL;
              g_queue_push_tail (&expired, job);
              job = NULL;
              continue;
            }
          if (!worker->idle)
            {
              worker->idle = TRUE;
              g_queue_push_tail_link (&pool->idle_workers, &worker->idle_link);
            }
        }
      g_cond_wait (&worker->wake, &pool->queue_lock);
    }
  if (worker->idle)
    {
      g_queue_unlink (&pool->idle_workers, &worker->idle_link);
      worker->idle = FALSE;
    }
  mark_running_locked (job, worker);
  jobs[n++] = job;
  if (job->kind == PGE_JOB_PIN)
    pin_locked (pool, worker, job);
  else if (pipelinable (job) && pool->idle_workers.length == 0)
    while (n < pool->pipeline_max && pool->queue.head != NULL && pipelinable (pool->queue.head->data))
      {
        PgeJob *next = g_queue_pop_head_link (&pool->queue)->data;  /* links are embedded */

        mark_running_locked (next, worker);
        jobs[n++] = next;
      }
  g_mutex_lock (&worker->cancel_lock);
  worker->running = job;
  worker->cancel_sent = FALSE;
  g_mutex_unlock (&worker->cancel_lock);
  pool->n_busy++;
  g_mutex_unlock (&pool->queue_lock);
  fail_all (&expired, PGE_ERROR_CANCELLED, "released before a worker was free");
  *n_jobs = n;
  return PGE_NEXT_RUN;
}

/* In a pipeline: the results being read now are @job's; the job before it
 * is over, and cancels aim at @job from here on. */
void
pge_pool_advance (PgePool *pool, PgeWorker *worker, PgeJob *job)
{
  /* `running` is only written on this thread: read without a lock. */
  g_mutex_lock (&pool->queue_lock);
  if (worker->running != NULL && worker->running != job)
    worker->running->state = PGE_JOB_DONE;
  g_mutex_unlock (&pool->queue_lock);
  g_mutex_lock (&worker->cancel_lock);
  worker->running = job;
  g_mutex_unlock (&worker->cancel_lock);
}

/* Whether a cancel request was sent while this worker ran its current
 * jobs; clears the flag. */
gboolean
pge_pool_take_cancel_sent (PgePool *pool, PgeWorker *worker)
{
  gboolean sent;

  g_mutex_lock (&worker->cancel_lock);
  sent = worker->cancel_sent;
  worker->cancel_sent = FALSE;
  g_mutex_unlock (&worker->cancel_lock);
  return sent;
}

/* Puts jobs that never took effect back at the head of the pool queue, in
 * their order, keeping their deadlines. The caller's references pass to
 * the queue. */
void
pge_pool_requeue_front (PgePool *pool, PgeJob **jobs, guint n_jobs)
{
  gboolean closing;

  g_mutex_lock (&pool->queue_lock);
  closing = pool->closing;
  for (guint i = 0; i < n_jobs && closing; i++)
    jobs[i]->state = PGE_JOB_DONE;
  for (guint i = n_jobs; i-- > 0 && !closing;)
    {
      jobs[i]->state = PGE_JOB_QUEUED;
      jobs[i]->queue = &pool->queue;
      jobs[i]->worker = NULL;
      g_queue_push_head_link (&pool->queue, &jobs[i]->link);
      wake_one_idle (pool);
    }
  if (!closing && pool->janitor != NULL)
    g_cond_signal (&pool->janitor_cond);
  g_mutex_unlock (&pool->queue_lock);
  for (guint i = 0; i < n_jobs && closing; i++)
    {
      pge_job_fail (jobs[i], PGE_ERROR_CLOSED, "the engine is closed");
      pge_job_unref (jobs[i]);
    }
}

/* Waits out a canceller that is sending PQcancel for this job, without
 * holding queue_lock: a cancel request stuck on an unreachable server must
 * not stall every submitter. */
static void
clear_running (PgeWorker *worker)
{
  g_mutex_lock (&worker->cancel_lock);
  worker->running = NULL;
  g_mutex_unlock (&worker->cancel_lock);
}

/* The job has run (it may resolve afterwards); cancels no longer reach it. */
void
pge_pool_job_done (PgePool *pool, PgeWorker *worker, PgeJob *job)
{
  clear_running (worker);
  g_mutex_lock (&pool->queue_lock);
  pool->n_busy--;
  job->state = PGE_JOB_DONE;
  g_mutex_unlock (&pool->queue_lock);
}

/* The worker found its connection dead before running a pool job: put the
 * job back at the head, where it keeps its place and deadline. */
void
pge_pool_requeue (PgePool *pool, PgeWorker *worker, PgeJob *job)
{
  gboolean closing;

  clear_running (worker);
  g_mutex_lock (&pool->queue_lock);
  pool->n_busy--;
  if (job->kind == PGE_JOB_PIN && worker->lease != NULL)
    {
      PgeLease *lease = g_steal_pointer (&worker->lease);

      lease->worker = NULL;
      pool->n_pinned--;
      pge_lease_unref (lease);
    }
  closing = pool->closing;
  if (!closing)
    {
      job->state = PGE_JOB_QUEUED;
      job->queue = &pool->queue;
      job->worker = NULL;
      g_queue_push_head_link (&pool->queue, &job->link);
      wake_one_idle (pool);
      if (pool->janitor != NULL)
        g_cond_signal (&pool->janitor_cond);
    }
  else
    job->state = PGE_JOB_DONE;
  g_mutex_unlock (&pool->queue_lock);
  if (closing)
    {
      pge_job_fail (job, PGE_ERROR_CLOSED, "the engine is closed");
      pge_job_unref (job);
    }
}

void
pge_pool_unpin (PgePool *pool, PgeWorker *worker)
{
  PgeLease *lease;
  GQueue left = G_QUEUE_INIT;

  g_mutex_lock (&pool->queue_lock);
  lease = g_steal_pointer (&worker->lease);
  lease->released = TRUE;
  lease->unpinned = TRUE;
  steal_queue_locked (&lease->jobs, &left);
  g_cond_broadcast (&lease->unpinned_cond);
  pool->n_pinned--;
  g_mutex_unlock (&pool->queue_lock);
  fail_all (&left, PGE_ERROR_CLOSED, "the engine is closed");
  pge_lease_unref (lease);
}

/* Sleeps until @until (monotonic µs) or until the pool closes.
 * Returns FALSE if the pool is closing. */
gboolean
pge_pool_sleep (PgePool *pool, PgeWorker *worker, gint64 until)
{
  gboolean open;

  g_mutex_lock (&pool->queue_lock);
  while (!pool->closing && g_get_monotonic_time () < until)
    g_cond_wait_until (&worker->wake, &pool->queue_lock, until);
  open = !pool->closing;
  g_mutex_unlock (&pool->queue_lock);
  return open;
}

void
pge_pool_worker_exited (PgePool *pool, PgeWorker *worker)
{
  g_mutex_lock (&pool->queue_lock);
  worker->exited = TRUE;
  g_cond_broadcast (&pool->state_cond);
  g_mutex_unlock (&pool->queue_lock);
}

/* ---------------------------------------------------------------- close */

void
pge_pool_close (PgePool *pool)
{
  GQueue stolen = G_QUEUE_INIT;

  g_mutex_lock (&pool->queue_lock);
  if (pool->closing)
    {
      g_mutex_unlock (&pool->queue_lock);
      return;
    }
  pool->closing = TRUE;
  steal_queue_locked (&pool->queue, &stolen);
  for (guint i = 0; i < pool->workers->len; i++)
    {
      PgeWorker *worker = pool->workers->pdata[i];

      if (worker->lease != NULL)
        steal_queue_locked (&worker->lease->jobs, &stolen);
      g_cond_signal (&worker->wake);
    }
  g_cond_signal (&pool->janitor_cond);
  g_mutex_unlock (&pool->queue_lock);
  fail_all (&stolen, PGE_ERROR_CLOSED, "the engine was closed before this job ran");
}

static gboolean
all_exited_locked (PgePool *pool)
{
  for (guint i = 0; i < pool->workers->len; i++)
    if (!((PgeWorker *) pool->workers->pdata[i])->exited)
      return FALSE;
  return TRUE;
}

/* Blocks until every thread of a closed pool has ended. Queries still
 * running after the grace period are cancelled, so this cannot hang on a
 * long statement; only user code that ignores cancellation can hold it. */
void
pge_pool_join (PgePool *pool)
{
  gint64 grace_end = g_get_monotonic_time () + CLOSE_GRACE_US;
  gboolean cancelled = FALSE;

  /* A pool of an engine whose start failed early never got threads. */
  if (!pool->started)
    return;
  g_mutex_lock (&pool->queue_lock);
  while (!all_exited_locked (pool))
    {
      if (!cancelled && !g_cond_wait_until (&pool->state_cond, &pool->queue_lock, grace_end))
        {
          cancelled = TRUE;
          /* Also reaches queries sent behind the running one in a
           * pipeline: workers repeat the request for each (worker.c). */
          g_atomic_int_set (&pool->cancel_all, TRUE);
          for (guint i = 0; i < pool->workers->len; i++)
            {
              PgeWorker *worker = pool->workers->pdata[i];
              char errbuf[256];

              g_mutex_lock (&worker->cancel_lock);
              if (worker->running != NULL && worker->cancel != NULL)
                {
                  g_atomic_int_set (&worker->running->cancel_requested, TRUE);
                  PQcancel (worker->cancel, errbuf, sizeof errbuf);
                }
              g_mutex_unlock (&worker->cancel_lock);
            }
        }
      else if (cancelled)
        g_cond_wait (&pool->state_cond, &pool->queue_lock);
    }
  g_mutex_unlock (&pool->queue_lock);

  for (guint i = 0; i < pool->workers->len; i++)
    {
      PgeWorker *worker = pool->workers->pdata[i];

      if (worker->thread != NULL)
        g_thread_join (g_steal_pointer (&worker->thread));
    }
  if (pool->janitor != NULL)
    g_thread_join (g_steal_pointer (&pool->janitor));
}

/* ---------------------------------------------------------------- stats */

/* 64-bit counters on every platform: GLib's atomics stop at pointer size. */
void
pge_pool_count_outcome (PgePool *pool, gboolean failed)
{
  __atomic_fetch_add (failed ? &pool->n_failed : &pool->n_completed, 1, __ATOMIC_RELAXED);
}

void
pge_pool_count_reconnect (PgePool *pool)
{
  __atomic_fetch_add (&pool->n_reconnects, 1, __ATOMIC_RELAXED);
}

void
pge_pool_add_stats (PgePool *pool, PgeStats *stats)
{
  g_mutex_lock (&pool->queue_lock);
  stats->n_workers += pool->workers->len;
  stats->n_busy += pool->n_busy;
  stats->n_pinned += pool->n_pinned;
  stats->queue_length += pool->queue.length;
  g_mutex_unlock (&pool->queue_lock);
  stats->n_completed += __atomic_load_n (&pool->n_completed, __ATOMIC_RELAXED);
  stats->n_failed += __atomic_load_n (&pool->n_failed, __ATOMIC_RELAXED);
  stats->n_reconnects += __atomic_load_n (&pool->n_reconnects, __ATOMIC_RELAXED);
}

/* --------------------------------------------------------------- leases */

PgeLease *
pge_lease_new (PgePool *pool)
{
  PgeLease *lease = g_new0 (PgeLease, 1);

  g_atomic_ref_count_init (&lease->ref);
  lease->pool = pge_pool_ref (pool);
  g_queue_init (&lease->jobs);
  g_cond_init (&lease->unpinned_cond);
  return lease;
}

PgeLease *
pge_lease_ref (PgeLease *lease)
{
  g_atomic_ref_count_inc (&lease->ref);
  return lease;
}

void
pge_lease_unref (PgeLease *lease)
{
  if (!g_atomic_ref_count_dec (&lease->ref))
    return;
  /* A pinned worker holds a reference, so this lease is not pinned. */
  g_cond_clear (&lease->unpinned_cond);
  pge_pool_unref (lease->pool);
  g_free (lease);
}

/* Queues the PIN job; the future resolves (no result) once a worker is
 * bound to @lease, or fails (timeout, closed, cancelled). */
PgeFuture *
pge_lease_pin (PgeLease *lease)
{
  g_autoptr(PgeJob) job = pge_job_new_call (NULL, NULL, NULL);

  job->kind = PGE_JOB_PIN;
  job->lease = pge_lease_ref (lease);
  pge_pool_submit (lease->pool, job);
  return pge_future_ref (job->future);
}

gboolean
pge_lease_pin_sync (PgeLease *lease, GError **error)
{
  g_autoptr(PgeFuture) future = pge_lease_pin (lease);
  g_autoptr(PgeResult) result = NULL;
  GError *local = NULL;

  result = pge_future_wait (future, &local);
  if (local != NULL)
    {
      g_propagate_error (error, local);
      return FALSE;
    }
  return TRUE;
}

/* Queues @job on the lease's worker, after every job queued before it.
 * The caller keeps its reference. */
void
pge_lease_submit (PgeLease *lease, PgeJob *job)
{
  PgePool *pool = lease->pool;
  gint code = -1;

  g_assert (job->pool == NULL);
  job->pool = pge_pool_ref (pool);
  job->lease = pge_lease_ref (lease);
  g_mutex_lock (&pool->queue_lock);
  if (pool->closing)
    code = PGE_ERROR_CLOSED;
  else if (lease->released)
    code = PGE_ERROR_TRANSACTION_STATE;
  else if (pge_job_is_cancel_requested (job))
    code = PGE_ERROR_CANCELLED;
  else
    {
      enqueue_locked (&lease->jobs, job, 0);
      if (lease->worker != NULL)
        g_cond_signal (&lease->worker->wake);
    }
  g_mutex_unlock (&pool->queue_lock);

  if (code == PGE_ERROR_CLOSED)
    pge_job_fail (job, code, "the engine is closed");
  else if (code == PGE_ERROR_TRANSACTION_STATE)
    pge_job_fail (job, code, "its transaction or batch has already ended");
  else if (code == PGE_ERROR_CANCELLED)
    pge_job_fail (job, code, "cancelled before it was queued");
}

/* No more jobs: once those queued are done, the worker rolls back anything
 * still open and returns to the pool. Never blocks; idempotent. */
void
pge_lease_release (PgeLease *lease)
{
  PgePool *pool = lease->pool;

  g_mutex_lock (&pool->queue_lock);
  lease->released = TRUE;
  if (lease->worker != NULL)
    g_cond_signal (&lease->worker->wake);
  g_mutex_unlock (&pool->queue_lock);
}

/* Blocks until the worker bound to a released lease is back in the pool
 * (at once if it was never pinned). */
void
pge_lease_wait_unpinned (PgeLease *lease)
{
  PgePool *pool = lease->pool;

  g_mutex_lock (&pool->queue_lock);
  while (lease->worker != NULL && !lease->unpinned)
    g_cond_wait (&lease->unpinned_cond, &pool->queue_lock);
  g_mutex_unlock (&pool->queue_lock);
}

gboolean
pge_lease_is_released (PgeLease *lease)
{
  gboolean released;

  g_mutex_lock (&lease->pool->queue_lock);
  released = lease->released;
  g_mutex_unlock (&lease->pool->queue_lock);
  return released;
}
