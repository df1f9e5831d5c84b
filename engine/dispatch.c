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
 * rolling back what a job left open, putting back a job that never ran.
 *
 * Submission installs the future's hooks (future.c): cancel marks the
 * job and lets the pool unqueue it or cancel its query; run-here lets a
 * waiting thread take a queued job that is first in line.
 *
 * Threads: no state of its own; the holder of a slot is the only thread
 * that runs code here with that slot.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "dispatch-private.h"
#include "errors-private.h"

static void
hook_cancel (gpointer data)
{
  PgeJob *job = data;

  g_atomic_int_set (&job->cancel_requested, TRUE);
  pge_pool_cancel_job (job);
}

static void
hook_run_here (gpointer data)
{
  PgeJob *job = data;
  PgeSlot *slot = pge_pool_take_queued (job);

  if (slot != NULL)
    pge_dispatch_run_taken (slot, job);
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
  (gpointer (*) (gpointer)) pge_job_ref,
  (void (*) (gpointer)) pge_job_unref,
};

/* A job that is taken at once needs no hooks: nobody else can see it,
 * and it is done before the caller could cancel or wait. */
PgeSlot *
pge_dispatch_submit (PgePool *pool, PgeJob *job, gboolean take)
{
  PgeSlot *slot = take ? pge_pool_take_now (pool, job) : NULL;

  if (slot != NULL)
    return slot;
  pge_future_set_hooks (job->future, &job_hooks, pge_job_ref (job));
  pge_pool_submit (pool, job);
  return NULL;
}

/* For a blocking caller's own job, as pge_dispatch_run_sync(). */
PgeSlot *
pge_dispatch_lease_submit_or_take (PgeLease *lease, PgeJob *job)
{
  return pge_lease_submit_or_take (lease, job);
}

PgeSlot *
pge_dispatch_lease_submit (PgeLease *lease, PgeJob *job, gboolean take)
{
  PgeSlot *slot = take ? pge_lease_take_now (lease, job) : NULL;

  if (slot != NULL)
    return slot;
  pge_future_set_hooks (job->future, &job_hooks, pge_job_ref (job));
  pge_lease_submit (lease, job);
  return NULL;
}

/* ------------------------------------------------------------- running */

/* For the holder: (re)connects @slot's connection, counting reconnects. */
gboolean
pge_dispatch_connect (PgeSlot *slot, GError **error)
{
  gboolean ok;

  /* Replacing a connection it had: that one is lost (reported once). */
  if (pge_connection_get_generation (slot->conn) > 0)
    pge_pool_note_lost (slot);
  ok = pge_connection_connect (slot->conn, error);

  if (ok && pge_connection_get_generation (slot->conn) > 1)
    pge_pool_count_reconnect (slot->pool);
  pge_pool_set_connected (slot, ok);
  return ok;
}

/* After a job outside a lease, or an unpin: the connection goes back
 * idle, or is marked for the worker to replace. */
static void
settle (PgeSlot *slot)
{
  pge_connection_make_idle (slot->conn);
  if (!pge_connection_is_ok (slot->conn))
    pge_pool_mark_broken (slot);
}

/* Whether @job may run on the slot's connection; sets @error if it must
 * fail instead. FALSE with no error: the connection is dead and could not
 * be replaced, so the job goes back to the queue. */
static gboolean
check_connection (PgeSlot *slot, PgeJob *job, GError **error)
{
  g_autoptr(GError) reconnect_error = NULL;

  pge_connection_settle_cancel (slot->conn);
  if (pge_job_is_cancel_requested (job))
    g_set_error_literal (error, PGE_ERROR, PGE_ERROR_CANCELLED, "cancelled before it ran");
  else if (job->lease != NULL && job->kind != PGE_JOB_PIN)
    {
      GError *poison = pge_lease_dup_poison (job->lease);

      if (poison != NULL)
        g_propagate_error (error, poison);
      else if (!pge_lease_owns (job->lease, slot->conn) || !pge_connection_preflight (slot->conn))
        g_set_error_literal (error, PGE_ERROR, PGE_ERROR_CONNECTION,
                             "the connection of this transaction was lost; "
                             "the server rolled the transaction back");
    }
  else if (!pge_connection_preflight (slot->conn) && !pge_dispatch_connect (slot, &reconnect_error))
    {
      g_debug ("%s: %s", pge_connection_get_label (slot->conn), reconnect_error->message);
      return FALSE;
    }
  return TRUE;
}

static PgeResult *
run_kind (PgeSlot *slot, PgeJob *job, GError **error)
{
  switch (job->kind)
    {
    case PGE_JOB_QUERY:
      return pge_connection_query (slot->conn, job->sql, job->params, error);
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

  if (!check_connection (slot, job, &error))
    {
      pge_pool_job_done (slot, job);
      pge_pool_requeue (slot, (PgeJob *[]) { pge_job_ref (job) }, 1);
      pge_pool_mark_broken (slot);
      return FALSE;
    }
  if (error == NULL)
    result = run_kind (slot, job, &error);
  if (job->observe != NULL)
    job->observe (job, slot->conn, result, error, job->observe_data);
  /* Before the job resolves: cancels no longer reach it. */
  if (direct)
    pge_connection_set_running (slot->conn, NULL, FALSE);
  else
    pge_pool_job_done (slot, job);
  if (job->kind == PGE_JOB_PIN && error != NULL)
    pge_lease_release (job->lease, FALSE);
  pge_job_finish (job, result, error);
  if (job->lease == NULL)
    settle (slot);
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
  PgeSlot *slot = pge_pool_submit_or_take (pool, job);

  if (slot != NULL)
    pge_dispatch_run_taken (slot, job);
  return pge_future_wait (job->future, error);
}

/* ----------------------------------------------------------- pipelines */

static gboolean
is_stray_cancel (PgeJob *job, const PgePipelineItem *item)
{
  return item->sent && !pge_job_is_cancel_requested (job) &&
         g_error_matches (item->error, PGE_ERROR, PGE_ERROR_TIMEOUT) &&
         g_strcmp0 (pge_error_get_sqlstate (item->error), "57014") == 0;
}

/* Several queued queries in one round trip (connection.c sends them, each
 * with its own Sync). A cancel request aimed at one query may land on the
 * next, since the server runs them back to back: a query that failed with
 * query_canceled although nobody cancelled it had no effect, so it goes
 * back to the queue, like one whose prepared statement the server had
 * lost; they then run alone. */
static void
run_pipeline (PgeSlot *slot, PgeJob **jobs, guint n_jobs)
{
  PgeConnection *conn = slot->conn;
  PgePipelineItem items[PGE_PIPELINE_MAX] = { { 0 } };
  PgeJob *retry[PGE_PIPELINE_MAX];
  guint n_retry = 0;
  gboolean cancel_sent;

  pge_connection_settle_cancel (conn);
  if (!pge_connection_preflight (conn) && !pge_dispatch_connect (slot, NULL))
    {
      pge_pool_job_done (slot, jobs[0]);
      pge_pool_requeue (slot, jobs, n_jobs);
      pge_pool_mark_broken (slot);
      return;
    }
  for (guint i = 0; i < n_jobs; i++)
    {
      items[i].sql = jobs[i]->sql;
      items[i].params = jobs[i]->params;
      items[i].skip = pge_job_is_cancel_requested (jobs[i]);
    }
  if (pge_connection_pipeline_send (conn, items, n_jobs))
    {
      gint64 since = g_get_monotonic_time ();

      for (guint i = 0; i < n_jobs; i++)
        {
          if (!items[i].sent)
            continue;
          pge_pool_advance (slot, jobs[i]);
          pge_connection_pipeline_read (conn, &items[i], since);
          since = g_get_monotonic_time ();
        }
      pge_connection_pipeline_end (conn);
    }
  cancel_sent = pge_connection_take_cancel_sent (conn);
  pge_pool_job_done (slot, jobs[n_jobs - 1]);
  for (guint i = 0; i < n_jobs; i++)
    {
      if (items[i].skip)
        items[i].error = g_error_new_literal (PGE_ERROR, PGE_ERROR_CANCELLED, "cancelled before it ran");
      else if (items[i].retry || (cancel_sent && is_stray_cancel (jobs[i], &items[i])))
        {
          g_clear_error (&items[i].error);
          g_clear_pointer (&items[i].result, pge_result_unref);
          retry[n_retry++] = jobs[i];
          continue;
        }
      pge_job_finish (jobs[i], items[i].result, items[i].error);
      pge_job_unref (jobs[i]);
    }
  settle (slot);
  if (n_retry > 0)
    pge_pool_requeue (slot, retry, n_retry);
}

/* For the worker: runs what pge_pool_next() gave it; takes over the
 * queue's references. */
void
pge_dispatch_run_jobs (PgeSlot *slot, PgeJob **jobs, guint n_jobs)
{
  if (n_jobs > 1)
    {
      run_pipeline (slot, jobs, n_jobs);
      return;
    }
  run_one (slot, jobs[0], FALSE);
  pge_job_unref (jobs[0]);
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
  pge_connection_make_idle (slot->conn);
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
