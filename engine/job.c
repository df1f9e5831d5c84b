/* job.c — PgeJob, one unit of work for a worker.
 *
 * A job is created by the submitting thread, queued by pool.c, run by a
 * worker (worker.c) and resolved through its future. Its immutable part
 * (SQL, frozen parameters, function) is read without locks; its place in
 * the queues is guarded by its pool's `queue_lock`; cancel_requested is an
 * atomic flag so the worker can read it while running.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "errors-private.h"
#include "job-private.h"
#include "params-private.h"
#include "pool-private.h"

static PgeJob *
job_new (PgeJobKind kind)
{
  PgeJob *job = g_new0 (PgeJob, 1);

  g_atomic_ref_count_init (&job->ref);
  job->kind = kind;
  job->state = PGE_JOB_NEW;
  job->link.data = job;
  job->future = pge_future_new ();
  pge_future_set_job (job->future, job);
  return job;
}

PgeJob *
pge_job_new_query (const char *sql, PgeParams *params)
{
  PgeJob *job = job_new (PGE_JOB_QUERY);

  job->sql = g_strdup (sql);
  job->params = params ? pge_params_copy (params) : NULL;
  return job;
}

PgeJob *
pge_job_new_exec (const char *script)
{
  PgeJob *job = job_new (PGE_JOB_EXEC);

  job->sql = g_strdup (script);
  return job;
}

PgeJob *
pge_job_new_call (PgeJobFunc func, gpointer data, GDestroyNotify notify)
{
  PgeJob *job = job_new (PGE_JOB_CALL);

  job->func = func;
  job->data = data;
  job->notify = notify;
  return job;
}

PgeJob *
pge_job_ref (PgeJob *job)
{
  g_atomic_ref_count_inc (&job->ref);
  return job;
}

void
pge_job_unref (PgeJob *job)
{
  if (!g_atomic_ref_count_dec (&job->ref))
    return;
  if (job->notify != NULL)
    job->notify (job->data);
  g_free (job->sql);
  g_clear_pointer (&job->params, pge_params_unref);
  g_clear_pointer (&job->future, pge_future_unref);
  g_clear_pointer (&job->lease, pge_lease_unref);
  g_clear_pointer (&job->pool, pge_pool_unref);
  g_free (job);
}

PgeFuture *
pge_job_get_future (PgeJob *job)
{
  return job->future;
}

/* Takes ownership of @result and @error; counts the outcome in the pool's
 * stats. A job is finished once: the loser of a race is ignored. The count
 * comes before the future resolves, so a caller woken by the future
 * already sees its job in pge_engine_get_stats(). */
void
pge_job_finish (PgeJob *job, PgeResult *result, GError *error)
{
  if (!g_atomic_int_compare_and_exchange (&job->finished, FALSE, TRUE))
    {
      g_clear_pointer (&result, pge_result_unref);
      g_clear_error (&error);
      return;
    }
  if (job->pool != NULL)
    pge_pool_count_outcome (job->pool, error != NULL);
  pge_future_resolve (job->future, result, error);
}

void
pge_job_fail (PgeJob *job, gint code, const char *message)
{
  pge_job_finish (job, NULL, g_error_new_literal (PGE_ERROR, code, message));
}

void
pge_job_cancel (PgeJob *job)
{
  g_atomic_int_set (&job->cancel_requested, TRUE);
  if (job->pool != NULL)
    pge_pool_cancel_job (job->pool, job);
  /* Not submitted yet: the flag makes the submitter fail it. */
}

gboolean
pge_job_is_cancel_requested (PgeJob *job)
{
  return g_atomic_int_get (&job->cancel_requested);
}

/* The worker running @job; only meaningful inside the job's own function,
 * on that worker's thread. */
PgeWorker *
pge_job_get_worker (PgeJob *job)
{
  return job->worker;
}
