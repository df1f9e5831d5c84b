/* job.c — PgeJob, one unit of work for a connection.
 *
 * A job is created by the submitting thread, queued by pool.c, run by
 * whoever holds a connection (dispatch.c: a worker thread or a blocking
 * caller) and resolved through its future. Its immutable part (SQL,
 * frozen parameters, function) is read without locks; its place in the
 * queues is guarded by its pool's `queue_lock`; cancel_requested is an
 * atomic flag so the runner can read it while running. A job knows
 * nothing of pools: the scheduler hangs its own references on it with a
 * release function.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <string.h>

#include "alloc-private.h"
#include "errors-private.h"
#include "job-private.h"
#include "metrics-private.h"
#include "params-private.h"
#include "statements-private.h"

/* @extra bytes are kept right after the job, in the same allocation. A
 * job without a future gets one when it is published (see
 * pge_job_ensure_future()). */
static PgeJob *
job_new (PgeJobKind kind, gsize extra, gboolean with_future)
{
  PgeJob *job = PGE_NEW0 (PgeJob, extra);

  g_atomic_ref_count_init (&job->ref);
  job->kind = kind;
  job->state = PGE_JOB_NEW;
  job->link.data = job;
  job->future = with_future ? pge_future_new () : NULL;
  job->created_us = g_get_monotonic_time ();
  return job;
}

#define PLAIN_SIZE_UNKNOWN G_MAXSIZE

/* Sets plain_size and, for a plain query, the statement cache's hash of
 * it, which the scheduler needs each time it looks at the queue. */
static void
work_out_plain (PgeJob *job)
{
  PgeParamsView view;
  gsize size;

  pge_params_view (job->params, &view);
  job->plain_size = 0;
  if (job->kind != PGE_JOB_QUERY || job->sql == NULL || view.n > PGE_MAX_PARAMS ||
      !pge_sql_is_plain (job->sql))
    return;
  size = strlen (job->sql) + 1;
  for (int i = 0; i < view.n; i++)
    if (view.values[i] != NULL)
      size += view.formats[i] ? (gsize) view.lengths[i] : strlen (view.values[i]);
  job->plain_size = size;
  job->key_hash = pge_statements_key_hash (job->sql, view.n, view.types);
}

/* The text is kept inside the job, which saves an allocation per query;
 * the parameters are a frozen view (pge_params_copy()). What makes a
 * query plain or not is worked out here, once, on the submitting thread,
 * not under the pool's lock each time a worker looks at the queue. */
PgeJob *
pge_job_new_query (const char *sql, PgeParams *params)
{
  gsize size = strlen (sql) + 1;
  PgeJob *job = job_new (PGE_JOB_QUERY, size, TRUE);

  job->sql = memcpy (job + 1, sql, size);
  job->params = params ? pge_params_copy (params) : NULL;
  work_out_plain (job);
  return job;
}

/* For a caller that blocks until the job is done: @sql and @params are
 * borrowed (@params by reference) rather than copied, since they cannot
 * change before the call returns and nobody reads them after the job
 * ran. Saves the allocations of a copy on every blocking call. Its future
 * is made only if the job leaves the caller's hands (queued: see
 * pge_job_ensure_future()); a job run or refused at once keeps its
 * outcome for pge_job_wait(), which saves the future's allocation and
 * its two lock round trips on most blocking calls. */
PgeJob *
pge_job_new_query_borrowed (const char *sql, PgeParams *params)
{
  PgeJob *job = job_new (PGE_JOB_QUERY, 0, FALSE);

  job->sql = (char *) sql;
  job->params = params ? pge_params_ref (params) : NULL;
  job->borrowed = TRUE;
  /* Most blocking calls find a free connection and are never queued:
   * worked out on first use (pge_job_is_plain_query()). */
  job->plain_size = PLAIN_SIZE_UNKNOWN;
  return job;
}

PgeJob *
pge_job_new_exec (const char *script)
{
  PgeJob *job = job_new (PGE_JOB_EXEC, 0, TRUE);

  job->sql = g_strdup (script);
  job->sql_owned = TRUE;
  return job;
}

PgeJob *
pge_job_new_call (PgeJobFunc func, gpointer data, GDestroyNotify notify)
{
  PgeJob *job = job_new (PGE_JOB_CALL, 0, TRUE);

  job->func = func;
  job->data = data;
  job->notify = notify;
  return job;
}

/* Hands @job's outcome to its future; a job without one is its caller's
 * alone, which takes the outcome from the job (pge_job_wait()). */
static void
resolve (PgeJob *job, PgeResult *result, GError *error)
{
  if (job->future != NULL)
    {
      pge_future_resolve (job->future, result, error);
      return;
    }
  job->result = result;
  job->error = error;
}

/* The one right to resolve @job: FALSE, freeing @result and @error, if
 * another call has it. */
static gboolean
claim (PgeJob *job, PgeResult *result, GError *error)
{
  if (g_atomic_int_compare_and_exchange (&job->finished, FALSE, TRUE))
    return TRUE;
  g_clear_pointer (&result, pge_result_unref);
  g_clear_error (&error);
  return FALSE;
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
  if (job->observe_notify != NULL)
    job->observe_notify (job->observe_data);
  if (job->release != NULL)
    job->release (job);
  if (job->sql_owned)
    g_free (job->sql);
  g_clear_pointer (&job->params, pge_params_unref);
  g_clear_pointer (&job->future, pge_future_unref);
  g_clear_pointer (&job->result, pge_result_unref);
  g_clear_error (&job->error);
  g_free (job);
}

/* Before submission only. */
void
pge_job_set_observer (PgeJob *job, PgeJobObserver observe, gpointer data, GDestroyNotify notify)
{
  g_assert (job->observe == NULL && job->state == PGE_JOB_NEW);
  job->observe = observe;
  job->observe_data = data;
  job->observe_notify = notify;
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
 * (BEGIN, COPY, SET, DDL, CALL ...) runs on its own. For the scheduler,
 * under the pool's queue_lock, which guards the answer a blocking call's
 * job works out here the first time. */
gboolean
pge_job_is_plain_query (PgeJob *job)
{
  if (job->plain_size == PLAIN_SIZE_UNKNOWN)
    work_out_plain (job);
  /* A query made a CALL after it was made (a call's own statement
   * timeout, calloptions.c) must not run as a plain one. */
  return job->kind == PGE_JOB_QUERY && job->plain_size > 0;
}

/* The keyword test of pge_job_is_plain_query(), for any SQL text. */
gboolean
pge_sql_is_plain (const char *sql)
{
  static const char *const keywords[] = { "select", "insert", "update", "delete", "merge",
                                          "values", "table", "with" };

  sql = skip_to_keyword (sql);
  for (guint i = 0; i < G_N_ELEMENTS (keywords); i++)
    {
      gsize n = strlen (keywords[i]);

      if (g_ascii_strncasecmp (sql, keywords[i], n) == 0 && !g_ascii_isalnum (sql[n]) && sql[n] != '_')
        return TRUE;
    }
  return FALSE;
}

/* Takes ownership of @result and @error; counts the outcome in the pool's
 * stats. A job is finished once: the loser of a race is ignored. The count
 * comes before the future resolves, so a caller woken by the future
 * already sees its job in pge_engine_get_stats(). */
void
pge_job_finish (PgeJob *job, PgeResult *result, GError *error)
{
  if (!claim (job, result, error))
    return;
  /* 64-bit counters on every platform: GLib's atomics stop at pointer size. */
  if (job->counters != NULL)
    __atomic_fetch_add (error != NULL ? &job->counters->n_failed : &job->counters->n_completed,
                        1, __ATOMIC_RELAXED);
  resolve (job, result, error);
}

/* pge_job_finish() for the holder of the slot @job ran on, which counts
 * the outcome in the slot's own cells, @completed or @failed (written by
 * the holder alone: no locked instruction, no cache line shared with
 * other threads), before the result can be seen. */
void
pge_job_finish_counted (PgeJob *job, PgeResult *result, GError *error, guint64 *completed,
                        guint64 *failed)
{
  if (!claim (job, result, error))
    return;
  if (job->counters != NULL)
    pge_metrics_cells_count (error != NULL ? failed : completed, 1);
  resolve (job, result, error);
}

/* Gives @job a future if it has none yet. Called before the job is
 * published (linked into a queue, given hooks), on the thread that has
 * it, or under the queue_lock that publishes it: no other thread can
 * resolve or wait for a job that has no future. */
PgeFuture *
pge_job_ensure_future (PgeJob *job)
{
  if (job->future == NULL)
    job->future = pge_future_new ();
  return job->future;
}

/* For the caller that made @job and waits for it: its outcome, as
 * pge_future_wait() (with @queued, pge_future_wait_queued()) would give
 * it. A job that never got a future was resolved on this thread. */
PgeResult *
pge_job_wait (PgeJob *job, gboolean queued, GError **error)
{
  if (job->future != NULL)
    return queued ? pge_future_wait_queued (job->future, error) : pge_future_wait (job->future, error);
  if (!g_atomic_int_get (&job->finished))
    {
      /* A path that neither ran, refused nor published the job: a bug,
       * reported rather than waited on for ever. */
      g_critical ("pgengine: a blocking call's job was never run nor queued");
      g_set_error_literal (error, PGE_ERROR, PGE_ERROR_CLOSED, "the job was never run");
      return NULL;
    }
  if (job->error != NULL)
    {
      g_propagate_error (error, g_steal_pointer (&job->error));
      return NULL;
    }
  return g_steal_pointer (&job->result);
}

void
pge_job_fail (PgeJob *job, gint code, const char *message)
{
  pge_job_finish (job, NULL, g_error_new_literal (PGE_ERROR, code, message));
}

/* Whether @job's wait before it runs is for a connection, which the
 * acquire timeout bounds and the acquire timer measures: not a lease's
 * later statements, which wait for their transaction's connection. */
gboolean
pge_job_waits_for_a_connection (PgeJob *job)
{
  return job->lease == NULL || job->kind == PGE_JOB_PIN;
}

gboolean
pge_job_is_cancel_requested (PgeJob *job)
{
  return g_atomic_int_get (&job->cancel_requested);
}
