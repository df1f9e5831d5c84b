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

#include <string.h>

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

/* Skips white space, comments (`--` to the end of the line, nestable
 * C-style) and opening parentheses: what may stand before a statement's
 * first keyword. */
static const char *
skip_to_keyword (const char *sql)
{
  for (;;)
    {
      if (g_ascii_isspace (*sql) || *sql == '(')
        sql++;
      else if (sql[0] == '-' && sql[1] == '-')
        {
          while (*sql != '\0' && *sql != '\n')
            sql++;
        }
      else if (sql[0] == '/' && sql[1] == '*')
        {
          int depth = 0;

          do
            {
              if (sql[0] == '/' && sql[1] == '*')
                depth++, sql += 2;
              else if (sql[0] == '*' && sql[1] == '/')
                depth--, sql += 2;
              else
                sql++;
            }
          while (depth > 0 && *sql != '\0');
        }
      else
        return sql;
    }
}

/* A plain data query: its first keyword is SELECT, INSERT, UPDATE,
 * DELETE, MERGE, VALUES, TABLE or WITH, and its parameters fit the
 * protocol. Such a query neither opens nor ends a transaction, nor starts
 * COPY, so it can share a pipeline or be kept prepared; anything else
 * (BEGIN, COPY, SET, DDL, CALL ...) runs on its own. */
gboolean
pge_job_is_plain_query (PgeJob *job)
{
  static const char *const keywords[] = { "select", "insert", "update", "delete", "merge",
                                          "values", "table", "with" };
  const char *sql;

  if (job->kind != PGE_JOB_QUERY || job->sql == NULL)
    return FALSE;
  if (job->params != NULL && pge_params_get_length (job->params) > PGE_MAX_PARAMS)
    return FALSE;
  sql = skip_to_keyword (job->sql);
  for (guint i = 0; i < G_N_ELEMENTS (keywords); i++)
    {
      gsize n = strlen (keywords[i]);

      if (g_ascii_strncasecmp (sql, keywords[i], n) == 0 && !g_ascii_isalnum (sql[n]) && sql[n] != '_')
        return TRUE;
    }
  return FALSE;
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
