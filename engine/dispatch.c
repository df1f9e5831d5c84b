/* dispatch.c — running jobs on connections, for workers and callers alike.
 *
 * A job runs on whichever thread holds a slot (pool.c): the slot's worker
 * thread, or — the direct path — a thread that was going to block anyway
 * (a `_sync` call, pge_future_wait() on a job nobody has started) and
 * found a free connection. The direct path saves the two thread
 * hand-offs (caller -> worker -> caller) that otherwise cost each
 * blocking call two wake-ups and two context switches. Everything around
 * a run is the same on both paths and lives here once: the pre-flight
 * check and reconnect of an idle connection, the check that a lease job
 * still has the connection its transaction began on, observers, stats,
 * rolling back what a job left open, putting back a job that never ran,
 * and the metrics counted per job and per connect (metrics.c).
 *
 * Submission installs the future's hooks (future.c): cancel marks the
 * job and lets the pool unqueue it or cancel its query; may-wait refuses
 * (PGE_ERROR_WOULD_DEADLOCK) a wait on one of its engine's own threads
 * (pge_pool_is_sibling_thread()); run-here lets a waiting thread take a queued job that is first
 * in line, or runs the queries its own thread deferred as one pipeline
 * window (pge_pool_defer(): the thread that waits reads its answers, with
 * no hand-off; once its own is in, what is slow to follow goes to the
 * slot's worker, pge_pool_hand_over(), so a wait never waits for a query
 * it was not asked to); hand-over sends deferred queries to the pool
 * queue when nobody will wait for them here (a callback, a timed wait).
 *
 * Pipelines: a worker that took several queued queries runs them as a
 * sliding window on its connection (run_pipeline()): refilled from the
 * queue as answers are read, each job resolved as soon as its answer is
 * in (answers that arrived together, together).
 *
 * Threads: no state of its own; the holder of a slot is the only thread
 * that runs code here with that slot (a window handed over is the
 * worker's from then on).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <string.h>

#include "dispatch-private.h"
#include "scheduler-private.h"
#include "errors-private.h"

static void
hook_cancel (gpointer data)
{
  PgeJob *job = data;

  g_atomic_int_set (&job->cancel_requested, TRUE);
  pge_pool_cancel_job (job);
}

static void run_window_here (PgeSlot *slot, PgeJob **jobs, guint n_jobs, PgeJob *await);

/* A thread is about to wait for @job: the queries it deferred run here
 * when @job is one of them (see pge_pool_defer()); otherwise they go to
 * the pool queue, and a queued @job first in line runs here alone. */
static void
hook_run_here (gpointer data)
{
  PgeJob *job = data;
  PgeJob *jobs[PGE_PIPELINE_MAX];
  guint n_jobs;
  PgeSlot *slot;

  pge_pool_note_wait ();
  slot = pge_pool_take_deferred (job, jobs, &n_jobs);
  if (slot != NULL)
    {
      run_window_here (slot, jobs, n_jobs, job);
      return;
    }
  pge_pool_undefer_current ();
  slot = pge_pool_take_queued (job);
  if (slot != NULL)
    pge_dispatch_run_taken (slot, job);
}

static void
hook_hand_over (gpointer data)
{
  pge_pool_undefer_job (data);
}

static gboolean
hook_may_wait (gpointer data, GError **error)
{
  PgeJob *job = data;

  if (job->pool == NULL || !pge_pool_is_sibling_thread (job->pool))
    return TRUE;
  g_set_error_literal (error, PGE_ERROR, PGE_ERROR_WOULD_DEADLOCK,
                       "pge_future_wait() on a job that is not done cannot be called on "
                       "one of its engine's own threads (from a NULL-context future "
                       "callback): the job may need this very thread");
  return FALSE;
}

static const PgeFutureHooks job_hooks = {
  hook_cancel,
  hook_run_here,
  hook_may_wait,
  hook_hand_over,
  (gpointer (*) (gpointer)) pge_job_ref,
  (void (*) (gpointer)) pge_job_unref,
};

/* A job that is taken at once needs no hooks: nobody else can see it,
 * and it is done before the caller could cancel or wait. */
PgeSlot *
pge_dispatch_submit (PgePool *pool, PgeJob *job, gboolean take)
{
  PgeSlot *slot;

  if (take)
    pge_pool_undefer_current ();
  slot = take ? pge_pool_take_now (pool, job) : NULL;
  if (slot != NULL)
    return slot;
  pge_future_set_hooks (pge_job_ensure_future (job), &job_hooks, pge_job_ref (job));
  if (!pge_pool_defer (pool, job))
    pge_pool_submit (pool, job);
  return NULL;
}

/* For a blocking caller's own job, as pge_dispatch_run_sync(). */
PgeSlot *
pge_dispatch_lease_submit_or_take (PgeLease *lease, PgeJob *job)
{
  pge_pool_undefer_current ();
  return pge_lease_submit_or_take (lease, job);
}

PgeSlot *
pge_dispatch_lease_submit (PgeLease *lease, PgeJob *job, gboolean take)
{
  PgeSlot *slot;

  pge_pool_undefer_current ();
  slot = take ? pge_lease_take_now (lease, job) : NULL;

  if (slot != NULL)
    return slot;
  pge_future_set_hooks (pge_job_ensure_future (job), &job_hooks, pge_job_ref (job));
  pge_lease_submit (lease, job);
  return NULL;
}

/* ------------------------------------------------------------- running */

/* Metrics, for the holder: a call's wait for a connection ends when its
 * job starts, at @now (a lease's later statements waited for their
 * transaction, not for a connection). The callers pass the times they
 * read anyway: a clock read costs about 50 ns on a VM. */
static void
note_start (PgeSlot *slot, PgeJob *job, gint64 now)
{
  if (pge_job_waits_for_a_connection (job))
    pge_metrics_cells_time (&slot->metrics, PGE_TIMER_ACQUIRE, now - job->created_us);
}

static void
note_end (PgeSlot *slot, PgeJob *job, gint64 start_us, gint64 end_us)
{
  if (job->kind != PGE_JOB_PIN)
    pge_metrics_cells_time (&slot->metrics, PGE_TIMER_RUN, end_us - start_us);
}

/* For the holder: resolves @job, counting its outcome in the slot's own
 * cells. The pool's counters would be one cache line that every thread
 * writes at every query, moving between the cores. */
static void
finish_here (PgeSlot *slot, PgeJob *job, PgeResult *result, GError *error)
{
  pge_job_finish_counted (job, result, error, &slot->metrics.n_completed, &slot->metrics.n_failed);
}

/* For the holder: (re)connects @slot's connection, counting reconnects;
 * gives up at @deadline (0: only connect_timeout bounds it), so that a
 * job held while its connection is replaced keeps its acquire timeout. */
gboolean
pge_dispatch_connect_until (PgeSlot *slot, gint64 deadline, GError **error)
{
  GError *local = NULL;
  gint64 start = g_get_monotonic_time ();
  gboolean ok;

  /* Replacing a connection it had: that one is lost (reported once). */
  if (pge_connection_get_generation (slot->conn) > 0)
    pge_pool_note_lost (slot);
  ok = pge_connection_connect_until (slot->conn, deadline, &local);
  pge_metrics_cells_time (&slot->metrics, PGE_TIMER_CONNECT, g_get_monotonic_time () - start);
  pge_metrics_cells_count (ok ? &slot->metrics.n_connects : &slot->metrics.n_connect_errors, 1);
  pge_pool_note_connect_error (slot->pool, local);
  if (local != NULL)
    g_propagate_error (error, local);

  if (ok && pge_connection_get_generation (slot->conn) > 1)
    pge_pool_count_reconnect (slot->pool);
  pge_pool_set_connected (slot, ok);
  return ok;
}

gboolean
pge_dispatch_connect (PgeSlot *slot, GError **error)
{
  return pge_dispatch_connect_until (slot, 0, error);
}

/* After a job outside a lease, or an unpin: the connection goes back
 * idle, or is marked for the worker to replace. @now: read after the
 * connection's last answer. */
static void
settle (PgeSlot *slot, gint64 now)
{
  pge_connection_make_idle (slot->conn, now);
  if (!pge_connection_is_ok (slot->conn))
    pge_pool_mark_broken (slot);
}

/* A lease job's connection is gone. A session (a lease that is reset)
 * speaks of a transaction only when one was open. */
static void
set_lease_lost (PgeLease *lease, GError **error)
{
  const char *message = "the connection of this transaction was lost; "
                        "the server rolled the transaction back";

  if (lease->reset && lease->in_transaction)
    message = "the connection of this session was lost; the server rolled back the "
              "transaction that was open in it, and the session's state (temporary "
              "tables, settings, locks) is gone";
  else if (lease->reset)
    message = "the connection of this session was lost; the session's state "
              "(temporary tables, settings, locks) is gone";
  g_set_error_literal (error, PGE_ERROR, PGE_ERROR_CONNECTION, message);
}

/* For the holder, after a lease job: whether it left a transaction block
 * open (kept as it was when the connection cannot tell any more). */
static void
note_lease_state (PgeLease *lease, PgeConnection *conn)
{
  PGconn *pg = pge_connection_get_pgconn (conn);
  PGTransactionStatusType status = pg != NULL ? PQtransactionStatus (pg) : PQTRANS_UNKNOWN;

  if (status == PQTRANS_IDLE)
    lease->in_transaction = FALSE;
  else if (status == PQTRANS_INTRANS || status == PQTRANS_INERROR)
    lease->in_transaction = TRUE;
}

/* Whether @job may run on the slot's connection; sets @error if it must
 * fail instead. FALSE with no error: the connection is dead and could not
 * be replaced, so the job goes back to the queue. @now is the time it was
 * read, and after a reconnect the time again. */
static gboolean
check_connection (PgeSlot *slot, PgeJob *job, gint64 *now, GError **error)
{
  g_autoptr(GError) reconnect_error = NULL;

  /* A wait for an earlier cancel is not this job's run time. */
  if (pge_connection_settle_cancel (slot->conn))
    *now = g_get_monotonic_time ();
  if (pge_job_is_cancel_requested (job))
    g_set_error_literal (error, PGE_ERROR, PGE_ERROR_CANCELLED, "cancelled before it ran");
  else if (job->lease != NULL && job->kind != PGE_JOB_PIN)
    {
      GError *poison = pge_lease_dup_poison (job->lease);

      if (poison != NULL)
        g_propagate_error (error, poison);
      else if (!pge_lease_owns (job->lease, slot->conn) ||
               !pge_connection_preflight (slot->conn, *now))
        set_lease_lost (job->lease, error);
    }
  else if (!pge_connection_preflight (slot->conn, *now))
    {
      if (!pge_dispatch_connect_until (slot, pge_pool_deadline_of_taken (slot, job, *now),
                                       &reconnect_error))
        {
          g_debug ("%s: %s", pge_connection_get_label (slot->conn), reconnect_error->message);
          return FALSE;
        }
      *now = g_get_monotonic_time ();
    }
  return TRUE;
}

/* @start: the time, read just before. */
static PgeResult *
run_kind (PgeSlot *slot, PgeJob *job, gint64 start, GError **error)
{
  switch (job->kind)
    {
    case PGE_JOB_QUERY:
      return pge_connection_query_since (slot->conn, job->sql, job->params, start, error);
    case PGE_JOB_EXEC:
      return pge_connection_exec_script (slot->conn, job->sql, error);
    case PGE_JOB_CALL:
      return job->func (job, slot->conn, job->data, error);
    case PGE_JOB_PIN:
      pge_lease_bind (job->lease);
      return NULL;
    default:
      g_assert_not_reached ();
    }
}

/* Runs @job, RUNNING on @slot, and resolves it. The caller keeps its
 * reference. FALSE if it was put back in the queue (dead connection).
 * A @direct holder settles the slot's books when it gives the slot back
 * (pge_pool_release_job()), in one go. */
static gboolean
run_one (PgeSlot *slot, PgeJob *job, gboolean direct)
{
  PgeResult *result = NULL;
  GError *error = NULL;
  gint64 start = g_get_monotonic_time ();
  gint64 end;

  if (!check_connection (slot, job, &start, &error))
    {
      pge_pool_job_done (slot, job);
      pge_pool_requeue (slot, (PgeJob *[]) { pge_job_ref (job) }, 1);
      pge_pool_mark_broken (slot);
      return FALSE;
    }
  note_start (slot, job, start);
  if (error == NULL)
    result = run_kind (slot, job, start, &error);
  if (job->observe != NULL)
    job->observe (job, slot->conn, result, error, job->observe_data);
  /* A statement's answer was read a moment ago (unless the cache is off:
   * older than @start then): saves a clock read per query. Other kinds
   * may do more after their last statement. */
  end = job->kind == PGE_JOB_QUERY ? pge_connection_get_answered_us (slot->conn) : 0;
  if (end <= start)
    end = g_get_monotonic_time ();
  note_end (slot, job, start, end);
  if (job->lease != NULL)
    note_lease_state (job->lease, slot->conn);
  /* Before the job resolves: cancels no longer reach it. */
  if (direct)
    pge_connection_set_running (slot->conn, NULL, FALSE);
  else
    pge_pool_job_done (slot, job);
  if (job->kind == PGE_JOB_PIN && error != NULL)
    pge_lease_release (job->lease, FALSE);
  finish_here (slot, job, result, error);
  if (job->lease == NULL)
    settle (slot, end);
  return TRUE;
}

/* The caller holds @slot (PGE_HOLDER_DIRECT) with @job running on it:
 * runs it here and gives the slot back. */
void
pge_dispatch_run_taken (PgeSlot *slot, PgeJob *job)
{
  PgeSlot *outer = pge_pool_get_current_slot ();

  /* While it holds the slot, this thread counts as one of the engine's
   * own: callbacks that run here must not block on the engine or join
   * its threads, exactly as on a worker. */
  pge_pool_enter_thread (slot);
  if (run_one (slot, job, TRUE))
    pge_pool_release_job (slot, job);
  else
    pge_pool_release (slot);
  pge_pool_enter_thread (outer);
}

/* The job is the caller's alone (no one else can cancel or wait for it):
 * no hooks, and one lock to take a connection or queue. */
PgeResult *
pge_dispatch_run_sync (PgePool *pool, PgeJob *job, GError **error)
{
  PgeSlot *slot;

  pge_pool_undefer_current ();
  slot = pge_pool_submit_or_take (pool, job);

  if (slot != NULL)
    pge_dispatch_run_taken (slot, job);
  return pge_job_wait (job, TRUE, error);
}

/* ----------------------------------------------------------- pipelines */

static gboolean
is_stray_cancel (PgeJob *job, const PgePipelineItem *item)
{
  return item->sent && !pge_job_is_cancel_requested (job) &&
         g_error_matches (item->error, PGE_ERROR, PGE_ERROR_TIMEOUT) &&
         g_strcmp0 (pge_error_get_sqlstate (item->error), "57014") == 0;
}

/* A pipeline window: the queries sent and not read yet, oldest first, in
 * a ring of PGE_PIPELINE_MAX. */
typedef struct {
  PgeSlot        *slot;
  PgeJob         *jobs[PGE_PIPELINE_MAX];   /* owned refs */
  PgePipelineItem items[PGE_PIPELINE_MAX];
  gint64          sent_us[PGE_PIPELINE_MAX];  /* when each was sent, for metrics */
  guint           head;
  guint           n;
  guint           max;
  gboolean        cancel_sent;  /* a cancel request went out during it */
  gint64          since;        /* when the last results were in (or the send) */
} Window;

/* How long a thread that runs its own window (run_window_here()) keeps
 * reading once its own query is answered: the rest is usually in within
 * it; what is not by then goes to the slot's worker, so that the wait
 * never waits for a query it was not asked to (which might wait, in
 * turn, for the caller to go on). */
#define OWN_WINDOW_GRACE_US 2000

/* Sends @job at the window's tail (or marks it skipped: cancelled), at
 * @now. */
static void
window_push (Window *window, PgeJob *job, gint64 now)
{
  guint at = (window->head + window->n++) % window->max;
  PgePipelineItem *item = &window->items[at];

  memset (item, 0, sizeof *item);
  window->jobs[at] = job;
  item->sql = job->sql;
  item->params = job->params;
  item->skip = pge_job_is_cancel_requested (job);
  if (!item->skip)
    {
      window->sent_us[at] = now;
      note_start (window->slot, job, now);
      pge_connection_pipeline_send (window->slot->conn, item, 1);
    }
}

static void
window_push_all (Window *window, PgeJob **jobs, guint n_jobs, gint64 now)
{
  /* Sent together: one time for all (they go out in one segment); @now,
   * if the caller has just read it. */
  if (now == 0 && n_jobs > 0)
    now = g_get_monotonic_time ();

  if (n_jobs > 1)
    pge_connection_set_corked (window->slot->conn, TRUE);
  for (guint i = 0; i < n_jobs; i++)
    window_push (window, jobs[i], now);
  if (n_jobs > 1)
    pge_connection_set_corked (window->slot->conn, FALSE);
}

/* Resolves the job whose results were just read (or that was skipped),
 * or puts it back in the queue: a query that failed with query_canceled
 * although nobody cancelled it met a cancel request aimed at an earlier
 * one (the server runs them back to back) and had no effect; so has one
 * whose prepared statement the server had lost. The window's reference
 * passes on. */
static void
window_finish (Window *window, PgeJob *job, PgePipelineItem *item)
{
  if (item->skip)
    item->error = g_error_new_literal (PGE_ERROR, PGE_ERROR_CANCELLED, "cancelled before it ran");
  else if (item->retry || (window->cancel_sent && is_stray_cancel (job, item)))
    {
      g_clear_error (&item->error);
      g_clear_pointer (&item->result, pge_result_unref);
      pge_pool_requeue (window->slot, &job, 1);
      return;
    }
  finish_here (window->slot, job, item->result, item->error);
  pge_job_unref (job);
}

/* Whether @job is in @window, not read yet. */
static gboolean
window_holds (Window *window, PgeJob *job)
{
  for (guint i = 0; i < window->n; i++)
    if (window->jobs[(window->head + i) % window->max] == job)
      return TRUE;
  return FALSE;
}

/* Whether to stop reading @window for a caller that waited for @await
 * (done at @done_us): only once nothing more has come within the grace. */
static gboolean
window_may_stop (Window *window, gint64 done_us)
{
  PgeConnection *conn = window->slot->conn;

  /* Nothing more to wait for, or nothing the server must send first. */
  if (window->n == 0 || !window->items[window->head].sent)
    return FALSE;
  return !pge_connection_wait_result_until (conn, done_us + OWN_WINDOW_GRACE_US);
}

/* Reads @window until it is empty (TRUE), refilling it from the pool
 * queue with @refill. With @await (a thread running its own window),
 * stops once @await is done and the rest is slow to come (FALSE: the
 * window is the caller's to hand over). */
static gboolean
window_run (Window *window, gboolean refill, PgeJob *await)
{
  PgeSlot *slot = window->slot;
  PgeConnection *conn = slot->conn;
  PgeJob *read_jobs[PGE_PIPELINE_MAX];        /* read, not resolved yet */
  PgePipelineItem read_items[PGE_PIPELINE_MAX];
  guint n_read = 0;
  gint64 done_us = 0;

  /* Not in the window (it could not join the pipeline): nothing here is
   * the caller's to wait for. */
  if (await != NULL && !window_holds (window, await))
    done_us = g_get_monotonic_time ();
  while (window->n > 0)
    {
      PgeJob *more[PGE_PIPELINE_MAX];
      guint n_more;
      gboolean buffered;

      read_jobs[n_read] = window->jobs[window->head];
      read_items[n_read] = window->items[window->head];
      if (read_items[n_read].sent)
        {
          pge_connection_pipeline_read (conn, &read_items[n_read], window->since);
          /* Each query ran, for its caller, from its send to its answer. */
          window->since = read_items[n_read].read_us;
          note_end (slot, read_jobs[n_read], window->sent_us[window->head], window->since);
          pge_metrics_cells_count (&slot->metrics.n_pipelined, 1);
        }
      if (read_jobs[n_read] == await)
        done_us = window->since;
      n_read++;
      window->head = (window->head + 1) % window->max;
      window->n--;
      window->cancel_sent |= pge_connection_take_cancel_sent (conn);
      /* Results that arrived together are read together, then the window
       * refills at once (several queries, one segment: see
       * pge_connection_set_corked()) and the results resolve together (a
       * thread waiting for several of them is woken once). Never later
       * than the next wait for the server. */
      buffered = n_read < G_N_ELEMENTS (read_jobs) && window->n > 0 &&
                 window->items[window->head].sent && pge_connection_has_result (conn);
      /* Refill before resolving, so that the server works meanwhile;
       * from here on, cancels aim at the next query, not at the one read. */
      n_more = pge_pool_pipeline_step (slot, window->n > 0 ? window->jobs[window->head] : NULL, more,
                                       refill && !buffered && pge_connection_is_ok (conn)
                                           ? window->max - window->n : 0);
      window_push_all (window, more, n_more, 0);
      if (buffered)
        continue;
      for (guint i = 0; i < n_read; i++)
        window_finish (window, read_jobs[i], &read_items[i]);
      n_read = 0;
      if (done_us != 0 && window_may_stop (window, done_us))
        return FALSE;
    }
  return TRUE;
}

/* The window is empty: the slot's books are settled. */
static void
window_close (Window *window)
{
  PgeSlot *slot = window->slot;

  pge_connection_pipeline_end (slot->conn);
  /* A request that went out after the last read aimed at nothing left. */
  pge_connection_take_cancel_sent (slot->conn);
  pge_pool_job_done (slot, NULL);
  settle (slot, window->since);
}

/* Queued queries share a round trip: up to the pipeline depth are in
 * flight at once, each with its own Sync (connection.c), and the window
 * slides: as soon as one query's results are read, the next queued ones
 * are sent, so the server always has the next query at hand (a window
 * that drained before refilling would leave it idle for a round trip per
 * batch), and each query resolves as soon as its own results are in, not
 * when the whole batch is. The window closes when the queue holds nothing
 * that may join it (see pge_pool_next()); without @refill, once the jobs
 * given are done or, with @await, handed over (see window_run()): a
 * thread running its own deferred queries must not stay to serve others.
 * Jobs that met a stray cancel or a lost statement go back to the queue
 * (see window_finish()). FALSE: the slot went to its worker. */
static gboolean
run_pipeline (PgeSlot *slot, PgeJob **jobs, guint n_jobs, gboolean refill, PgeJob *await)
{
  PgeConnection *conn = slot->conn;
  Window window = { .slot = slot, .max = MAX (slot->pool->pipeline_max, n_jobs) };
  gint64 now;

  pge_connection_settle_cancel (conn);
  /* One time for the pre-flight, the sends and the window's start, read
   * again only after a reconnect. */
  now = g_get_monotonic_time ();
  if (!pge_connection_preflight (conn, now))
    {
      if (!pge_dispatch_connect_until (slot, jobs[0]->deadline, NULL))
        {
          pge_pool_job_done (slot, jobs[0]);
          pge_pool_requeue (slot, jobs, n_jobs);
          pge_pool_mark_broken (slot);
          return TRUE;
        }
      now = g_get_monotonic_time ();
    }
  window_push_all (&window, jobs, n_jobs, now);
  window.since = now;
  if (!window_run (&window, refill, await))
    {
      pge_pool_hand_over (slot, g_memdup2 (&window, sizeof window));
      return FALSE;
    }
  window_close (&window);
  return TRUE;
}

/* For the worker, after PGE_NEXT_RESUME: reads the rest of a window a
 * thread handed over, refilling it as a worker does. */
void
pge_dispatch_resume (PgeSlot *slot)
{
  g_autofree Window *window = pge_pool_take_resume (slot);

  if (window_run (window, TRUE, NULL))
    window_close (window);
}

/* For the worker: runs what pge_pool_next() gave it; takes over the
 * queue's references. */
void
pge_dispatch_run_jobs (PgeSlot *slot, PgeJob **jobs, guint n_jobs)
{
  if (n_jobs > 1)
    {
      run_pipeline (slot, jobs, n_jobs, TRUE, NULL);
      return;
    }
  run_one (slot, jobs[0], FALSE);
  pge_job_unref (jobs[0]);
}

/* The caller holds @slot (PGE_HOLDER_DIRECT) with its own deferred
 * queries @jobs RUNNING on it (pge_pool_take_deferred(); their
 * references pass here): runs them as one window on this thread, reading
 * their answers itself, and gives the slot back; or, when the rest is
 * slow to come once @await is answered, hands the slot and the rest of
 * the window to the slot's worker. */
static void
run_window_here (PgeSlot *slot, PgeJob **jobs, guint n_jobs, PgeJob *await)
{
  PgeSlot *outer = pge_pool_get_current_slot ();
  gboolean kept;

  pge_pool_enter_thread (slot);
  kept = run_pipeline (slot, jobs, n_jobs, FALSE, await);
  pge_pool_enter_thread (outer);
  if (kept)
    pge_pool_release (slot);
}

/* ---------------------------------------------------------------- leases */

/* The lease is released and drained (or the pool closes): whatever it
 * left open is rolled back before the slot serves anyone else. */
void
pge_dispatch_unpin (PgeSlot *slot)
{
  gboolean reset;

  g_mutex_lock (&slot->pool->queue_lock);
  reset = slot->lease != NULL && slot->lease->reset;
  g_mutex_unlock (&slot->pool->queue_lock);
  pge_connection_make_idle (slot->conn, g_get_monotonic_time ());
  /* A session's state (temp tables, SET, locks) must not leak to the
   * next user. */
  if (reset)
    pge_connection_reset_session (slot->conn);
  pge_pool_unpin (slot);
  if (!pge_connection_is_ok (slot->conn))
    pge_pool_mark_broken (slot);
}

/* Binds @lease to a connection of its pool (on this thread when one is
 * free), waiting at most the acquire timeout. */
gboolean
pge_dispatch_pin_sync (PgeLease *lease, GError **error)
{
  g_autoptr(PgeJob) pin = pge_lease_new_pin_job (lease);
  g_autoptr(PgeResult) result = NULL;
  GError *local = NULL;

  result = pge_dispatch_run_sync (lease->pool, pin, &local);
  if (local == NULL)
    return TRUE;
  g_propagate_error (error, local);
  return FALSE;
}

void
pge_dispatch_lease_end (PgeLease *lease, gboolean wait)
{
  PgeSlot *slot = pge_lease_release (lease, TRUE);

  if (slot != NULL)
    {
      PgeSlot *outer = pge_pool_get_current_slot ();

      pge_pool_enter_thread (slot);
      pge_dispatch_unpin (slot);
      pge_pool_enter_thread (outer);
      pge_pool_release (slot);
    }
  if (wait)
    pge_lease_wait_unpinned (lease);
}
