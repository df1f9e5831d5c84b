/* worker.c — a worker thread and the connection it owns.
 *
 * Each worker thread owns exactly one PGconn, in blocking mode, and is the
 * only thread that ever uses it (see pool.c for the whole threading model).
 * It loops: make sure the connection is up (reconnecting with backoff, not
 * taking jobs meanwhile, so queued jobs wait out the acquire timeout), ask
 * the pool for the next job, run it, and hand the connection to the next
 * job only in a clean state: after a job outside a lease, a connection
 * left inside a transaction is rolled back, and one left mid-protocol
 * (COPY, an unread result) is dropped and reconnected.
 *
 * Before running a job the worker polls the idle socket: a backend killed
 * by pg_terminate_backend() or a server restart shows up there, so a job
 * that was not yet sent goes to a fresh connection instead of failing.
 * A lease (transaction) whose connection was lost fails its remaining jobs
 * with PGE_ERROR_CONNECTION: they must never run outside the transaction
 * they were written for.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <errno.h>
#include <poll.h>

#include "errors-private.h"
#include "logging-private.h"
#include "params-private.h"
#include "result-private.h"
#include "statements-private.h"
#include "worker-private.h"

#define BACKOFF_MIN_MS 50
#define BACKOFF_MAX_MS 2000

static GPrivate current_worker = G_PRIVATE_INIT (NULL);

PgeWorker *
pge_worker_new (PgePool *pool, guint index)
{
  PgeWorker *worker = g_new0 (PgeWorker, 1);

  worker->pool = pool;
  worker->index = index;
  worker->label = g_strdup_printf ("%s/%u", pool->name, index);
  worker->idle_link.data = worker;
  if (pool->statement_cache > 0)
    worker->statements = pge_statements_new (pool->statement_cache);
  g_cond_init (&worker->wake);
  g_mutex_init (&worker->cancel_lock);
  return worker;
}

void
pge_worker_free (PgeWorker *worker)
{
  g_assert (worker->thread == NULL);
  g_clear_pointer (&worker->conn, PQfinish);
  g_clear_pointer (&worker->cancel, PQfreeCancel);
  g_clear_pointer (&worker->statements, pge_statements_free);
  g_cond_clear (&worker->wake);
  g_mutex_clear (&worker->cancel_lock);
  g_free (worker->label);
  g_free (worker);
}

/* The worker whose thread this is, or NULL on any other thread. */
PgeWorker *
pge_worker_get_current (void)
{
  return g_private_get (&current_worker);
}

/* Runs on the worker thread, inside libpq. An idle connection whose
 * backend is terminated receives a FATAL error (57P01 ...) that libpq hands
 * here as a notice, possibly before the EOF that follows it is readable:
 * remember it, so the connection is replaced before the next job. */
static void
notice_receiver (void *arg, const PGresult *res)
{
  PgeWorker *worker = arg;
  const char *severity = PQresultErrorField (res, PG_DIAG_SEVERITY_NONLOCALIZED);

  if (g_strcmp0 (severity, "FATAL") == 0 || g_strcmp0 (severity, "PANIC") == 0)
    worker->doomed = TRUE;
  g_debug ("%s: %s", worker->label, PQresultErrorMessage (res));
}

/* ----------------------------------------------------------- connection */

static gboolean
conn_ok (PgeWorker *worker)
{
  return worker->conn != NULL && PQstatus (worker->conn) == CONNECTION_OK;
}

static void
worker_disconnect (PgeWorker *worker)
{
  pge_pool_set_connected (worker->pool, worker, NULL);
  g_clear_pointer (&worker->conn, PQfinish);
}

static gboolean
worker_connect (PgeWorker *worker, GError **error)
{
  PgePool *pool = worker->pool;
  /* connect_timeout first, so a value in the user's conninfo wins:
   * libpq keeps the last value of a repeated keyword. */
  const char *keywords[] = { "connect_timeout", "fallback_application_name", "dbname", NULL };
  const char *values[] = { "10", "pgengine", pool->conninfo, NULL };
  PGconn *conn;

  worker_disconnect (worker);
  conn = PQconnectdbParams (keywords, values, 1);
  if (PQstatus (conn) != CONNECTION_OK)
    {
      g_autofree char *what = g_strdup_printf ("cannot connect node \"%s\"", pool->name);

      g_propagate_error (error, pge_error_new_from_conn (conn, PGE_ERROR_CONNECTION, what));
      PQfinish (conn);
      return FALSE;
    }
  PQsetNoticeReceiver (conn, notice_receiver, worker);
  if (pool->statement_timeout_ms > 0)
    {
      g_autofree char *sql = g_strdup_printf ("SET statement_timeout = %u", pool->statement_timeout_ms);
      PGresult *res = PQexec (conn, sql);
      gboolean ok = PQresultStatus (res) == PGRES_COMMAND_OK;

      if (!ok)
        g_propagate_error (error, pge_error_new_from_result (res, FALSE));
      PQclear (res);
      if (!ok)
        {
          PQfinish (conn);
          return FALSE;
        }
    }
  g_atomic_int_set (&pool->server_version, PQserverVersion (conn));
  worker->conn = conn;
  worker->doomed = FALSE;
  worker->generation++;
  pge_pool_set_connected (pool, worker, PQgetCancel (conn));
  if (worker->ever_connected)
    pge_pool_count_reconnect (pool);
  worker->ever_connected = TRUE;
  if (worker->statements != NULL)
    pge_statements_forget_all (worker->statements);
  return TRUE;
}

/* Retries until connected (TRUE) or the pool closes (FALSE). */
static gboolean
worker_reconnect (PgeWorker *worker)
{
  guint backoff_ms = BACKOFF_MIN_MS;

  for (;;)
    {
      g_autoptr(GError) error = NULL;
      gint64 until;

      if (worker_connect (worker, &error))
        return TRUE;
      g_debug ("%s: %s; retrying in %u ms", worker->label, error->message, backoff_ms);
      /* Jitter, so that workers do not hammer a recovering server in step. */
      until = g_get_monotonic_time () + (gint64) (backoff_ms + g_random_int_range (0, backoff_ms / 2 + 1)) * 1000;
      if (!pge_pool_sleep (worker->pool, worker, until))
        return FALSE;
      backoff_ms = MIN (backoff_ms * 2, BACKOFF_MAX_MS);
    }
}

/* Whether the idle connection is still alive, without a round trip: a
 * terminated backend leaves an error and EOF waiting on the socket. */
static gboolean
worker_preflight (PgeWorker *worker)
{
  struct pollfd pfd;
  PGnotify *notify;

  /* A terminated backend sends a FATAL error, then EOF; one
   * PQconsumeInput() may read only the first, so read until the socket is
   * quiet (bounded: a live idle connection goes quiet at once). */
  for (int i = 0; i < 8; i++)
    {
      if (!conn_ok (worker) || worker->doomed)
        return FALSE;
      pfd.fd = PQsocket (worker->conn);
      pfd.events = POLLIN;
      pfd.revents = 0;
      if (poll (&pfd, 1, 0) <= 0)
        return TRUE;
      if (!PQconsumeInput (worker->conn) || PQstatus (worker->conn) != CONNECTION_OK)
        return FALSE;
      /* Nobody can receive a NOTIFY on a shared worker: drop it. */
      while ((notify = PQnotifies (worker->conn)) != NULL)
        PQfreemem (notify);
    }
  return !worker->doomed;
}

/* Leaves the connection idle outside any transaction, or drops it. */
static void
worker_make_idle (PgeWorker *worker)
{
  PGTransactionStatusType status;

  if (!conn_ok (worker))
    {
      worker_disconnect (worker);
      return;
    }
  status = PQtransactionStatus (worker->conn);
  if (status == PQTRANS_INTRANS || status == PQTRANS_INERROR)
    {
      PGresult *res = PQexec (worker->conn, "ROLLBACK");

      g_debug ("%s: a job left a transaction open; rolled back", worker->label);
      PQclear (res);
      status = PQtransactionStatus (worker->conn);
    }
  if (status != PQTRANS_IDLE)
    worker_disconnect (worker);
}

/* ------------------------------------------------------------ execution */

GError *
pge_worker_error_from_result (PgeJob *job, PGconn *conn, const PGresult *res)
{
  GError *error = pge_error_new_from_result (res, job && pge_job_is_cancel_requested (job));

  /* "server closed the connection unexpectedly" carries no SQLSTATE. */
  if (PQstatus (conn) == CONNECTION_BAD && error->code != PGE_ERROR_CONNECTION)
    error->code = PGE_ERROR_CONNECTION;
  return error;
}

static void
set_first_error (GError **first, GError *error)
{
  if (*first == NULL)
    *first = error;
  else
    g_error_free (error);
}

/* How often a cancel request is repeated while the cancelled query runs. */
#define RECANCEL_INTERVAL_US (100 * G_TIME_SPAN_MILLISECOND)

/* A cancel request that reaches the backend before the query does is
 * ignored by the server (it is idle then), and the query would run to its
 * end. So while a cancelled job's results are awaited, the worker repeats
 * the request every RECANCEL_INTERVAL_US. */
static void
recancel (PgeJob *job, gint64 *last_sent)
{
  PgeWorker *worker = job->worker;
  gint64 now = g_get_monotonic_time ();
  char errbuf[256];

  if (now - *last_sent < RECANCEL_INTERVAL_US)
    return;
  *last_sent = now;
  g_mutex_lock (&worker->cancel_lock);
  if (worker->cancel != NULL)
    {
      worker->cancel_sent = TRUE;
      if (!PQcancel (worker->cancel, errbuf, sizeof errbuf))
        g_debug ("%s: cancel request failed: %s", worker->label, errbuf);
    }
  g_mutex_unlock (&worker->cancel_lock);
}

/* Blocks until PQgetResult() would not block, repeating a cancel request
 * for a cancelled job. FALSE if the connection failed (PQgetResult() then
 * reports it). */
gboolean
pge_worker_wait_for_result (PgeJob *job, PGconn *conn)
{
  gint64 last_cancel = g_get_monotonic_time ();

  while (PQisBusy (conn))
    {
      struct pollfd pfd = { PQsocket (conn), POLLIN, 0 };
      gboolean cancelled = job != NULL && job->worker != NULL &&
                           (pge_job_is_cancel_requested (job) ||
                            g_atomic_int_get (&job->worker->pool->cancel_all));
      int ready = poll (&pfd, 1, cancelled ? (int) (RECANCEL_INTERVAL_US / 1000) : -1);

      if (ready < 0 && errno != EINTR)
        return FALSE;
      if (ready > 0 && !PQconsumeInput (conn))
        return FALSE;
      if (cancelled)
        recancel (job, &last_cancel);
    }
  return TRUE;
}

/* Reads every result of what was just sent. Keeps the last non-error one;
 * reports the first error. COPY is refused without hanging. */
PgeResult *
pge_worker_collect (PgeJob *job, PGconn *conn, gboolean simple, GError **error)
{
  PGresult *last = NULL;
  PGresult *res;
  GError *first = NULL;

  while (pge_worker_wait_for_result (job, conn), (res = PQgetResult (conn)) != NULL)
    {
      switch (PQresultStatus (res))
        {
        case PGRES_COPY_IN:
          PQputCopyEnd (conn, "pgengine: COPY FROM STDIN needs pge_engine_run_in_worker()");
          set_first_error (&first, g_error_new_literal (PGE_ERROR, PGE_ERROR_INVALID_ARGUMENT,
                           "COPY FROM STDIN is not a query: use pge_engine_run_in_worker()"));
          break;
        case PGRES_COPY_OUT:
          {
            char *buffer = NULL;

            while (PQgetCopyData (conn, &buffer, 0) > 0)
              PQfreemem (buffer);
            set_first_error (&first, g_error_new_literal (PGE_ERROR, PGE_ERROR_INVALID_ARGUMENT,
                             "COPY TO STDOUT is not a query: use pge_engine_run_in_worker()"));
          }
          break;
        case PGRES_COPY_BOTH:
          /* Replication protocol: the connection cannot be recovered. */
          PQclear (res);
          set_first_error (&first, g_error_new_literal (PGE_ERROR, PGE_ERROR_INVALID_ARGUMENT,
                           "replication commands are not supported"));
          g_clear_pointer (&last, PQclear);
          g_propagate_error (error, first);
          return NULL;
        case PGRES_FATAL_ERROR:
        case PGRES_BAD_RESPONSE:
        case PGRES_NONFATAL_ERROR:
          set_first_error (&first, pge_worker_error_from_result (job, conn, res));
          break;
        case PGRES_EMPTY_QUERY:
          if (!simple)
            set_first_error (&first, g_error_new_literal (PGE_ERROR, PGE_ERROR_INVALID_ARGUMENT,
                                                          "the query is empty"));
          else if (last == NULL)
            {
              last = res;
              continue;
            }
          break;
        default:
          g_clear_pointer (&last, PQclear);
          last = res;
          continue;
        }
      PQclear (res);
    }
  if (first == NULL && PQstatus (conn) == CONNECTION_BAD)
    first = pge_error_new_from_conn (conn, PGE_ERROR_CONNECTION, "the connection was lost");
  if (first != NULL)
    {
      g_clear_pointer (&last, PQclear);
      g_propagate_error (error, first);
      return NULL;
    }
  return last ? pge_result_new_take (last) : NULL;
}

void
pge_worker_log (PgeJob *job, const char *sql, gint64 start_us, PgeResult *result, const GError *error)
{
  PgeWorker *worker = job->worker;
  PgePool *pool = worker->pool;

  if (!pool->log_queries)
    return;
  pge_log_query (worker->label, sql, g_get_monotonic_time () - start_us,
                 result ? pge_result_get_pgresult (result) : NULL, error, pool->log_responses);
}

static PgeResult *
send_failed (PGconn *conn, GError **error)
{
  gint code = PQstatus (conn) == CONNECTION_BAD ? PGE_ERROR_CONNECTION : PGE_ERROR_FAILED;

  g_propagate_error (error, pge_error_new_from_conn (conn, code, "cannot send the query"));
  return NULL;
}

PgeResult *
pge_worker_exec (PgeJob *job, PGconn *conn, const char *sql, PgeParams *frozen_params, GError **error)
{
  PgeParamsView view;
  PgeResult *result = NULL;
  GError *local = NULL;
  gint64 start = g_get_monotonic_time ();

  pge_params_view (frozen_params, &view);
  if (view.n > PGE_MAX_PARAMS)
    local = g_error_new (PGE_ERROR, PGE_ERROR_INVALID_ARGUMENT,
                         "%d parameters; PostgreSQL takes at most %d", view.n, PGE_MAX_PARAMS);
  else if (!PQsendQueryParams (conn, sql, view.n, view.types, view.values, view.lengths,
                               view.formats, 0))
    send_failed (conn, &local);
  else
    result = pge_worker_collect (job, conn, FALSE, &local);
  pge_worker_log (job, sql, start, result, local);
  if (local != NULL)
    g_propagate_error (error, local);
  return result;
}

PgeResult *
pge_worker_exec_script (PgeJob *job, PGconn *conn, const char *script, GError **error)
{
  PgeResult *result = NULL;
  GError *local = NULL;
  gint64 start = g_get_monotonic_time ();

  if (!PQsendQuery (conn, script))
    send_failed (conn, &local);
  else
    result = pge_worker_collect (job, conn, TRUE, &local);
  pge_worker_log (job, script, start, result, local);
  if (local != NULL)
    g_propagate_error (error, local);
  return result;
}

/* --------------------------------------------------------------- the loop */

/* A lease job may only run on the connection its lease began on. */
static gboolean
lease_connection_ok (PgeWorker *worker, PgeJob *job)
{
  return worker->generation == job->lease->generation && worker_preflight (worker);
}

static void
worker_run (PgeWorker *worker, PgeJob *job)
{
  PgePool *pool = worker->pool;
  PgeResult *result = NULL;
  GError *error = NULL;

  if (pge_job_is_cancel_requested (job))
    error = g_error_new_literal (PGE_ERROR, PGE_ERROR_CANCELLED, "cancelled before it ran");
  else if (job->lease != NULL && job->kind != PGE_JOB_PIN)
    {
      if (!lease_connection_ok (worker, job))
        error = g_error_new_literal (PGE_ERROR, PGE_ERROR_CONNECTION,
                                     "the connection of this transaction was lost; "
                                     "the server rolled the transaction back");
    }
  else if (!worker_preflight (worker))
    {
      g_autoptr(GError) reconnect_error = NULL;

      if (!worker_connect (worker, &reconnect_error))
        {
          g_debug ("%s: %s", worker->label, reconnect_error->message);
          pge_pool_requeue (pool, worker, job);
          return;
        }
    }

  if (error == NULL)
    switch (job->kind)
      {
      case PGE_JOB_QUERY:
        /* Transactions never use the cache: a stale plan there would
         * abort the transaction instead of being retried. */
        if (worker->statements == NULL || job->lease != NULL ||
            !pge_statements_run (worker->statements, job, worker->conn, &result, &error))
          result = pge_worker_exec (job, worker->conn, job->sql, job->params, &error);
        break;
      case PGE_JOB_EXEC:
        result = pge_worker_exec_script (job, worker->conn, job->sql, &error);
        break;
      case PGE_JOB_CALL:
        result = job->func (job, worker->conn, job->data, &error);
        break;
      case PGE_JOB_PIN:
        job->lease->generation = worker->generation;
        break;
      default:
        g_assert_not_reached ();
      }

  pge_pool_job_done (pool, worker, job);
  if (job->kind == PGE_JOB_PIN && error != NULL)
    pge_lease_release (job->lease);
  pge_job_finish (job, result, error);
  if (job->lease == NULL)
    worker_make_idle (worker);
  pge_job_unref (job);
}

/* The lease is released and drained (or the pool closes): whatever it
 * left open is rolled back before the worker serves anyone else. */
static void
worker_unpin (PgeWorker *worker)
{
  worker_make_idle (worker);
  pge_pool_unpin (worker->pool, worker);
}

/* Sends the queries of @jobs in one pipeline, each with its own Sync;
 * fills @errors for what could not be sent. Returns FALSE when nothing was. */
static gboolean
pipeline_send (PGconn *conn, PgeJob **jobs, guint n_jobs, gboolean *sent, GError **errors)
{
  if (!PQenterPipelineMode (conn))
    {
      for (guint i = 0; i < n_jobs; i++)
        errors[i] = pge_error_new_from_conn (conn, PGE_ERROR_CONNECTION, "cannot start a pipeline");
      return FALSE;
    }
  for (guint i = 0; i < n_jobs; i++)
    {
      PgeParamsView view;

      if (pge_job_is_cancel_requested (jobs[i]))
        {
          errors[i] = g_error_new_literal (PGE_ERROR, PGE_ERROR_CANCELLED, "cancelled before it ran");
          continue;
        }
      pge_params_view (jobs[i]->params, &view);
      if (!PQsendQueryParams (conn, jobs[i]->sql, view.n, view.types, view.values, view.lengths,
                              view.formats, 0) || !PQpipelineSync (conn))
        {
          for (guint j = i; j < n_jobs; j++)
            errors[j] = pge_error_new_from_conn (conn, PGE_ERROR_CONNECTION, "cannot send the query");
          break;
        }
      sent[i] = TRUE;
    }
  return TRUE;
}

/* Several queued queries in one round trip. Each has its own Sync, so each
 * still runs as its own implicit transaction and one failure never touches
 * the others; results are read in order. A cancel request aimed at one
 * query may land on the next, since the server runs them back to back: a
 * query that failed with query_canceled although nobody cancelled it had
 * no effect, so it goes back to the queue instead of failing. */
static void
worker_run_pipeline (PgeWorker *worker, PgeJob **jobs, guint n_jobs)
{
  PgePool *pool = worker->pool;
  PgeJob *retry[PGE_PIPELINE_MAX];
  GError *errors[PGE_PIPELINE_MAX] = { NULL };
  PgeResult *results[PGE_PIPELINE_MAX] = { NULL };
  gboolean sent[PGE_PIPELINE_MAX] = { FALSE };
  gint64 start = g_get_monotonic_time ();
  guint n_retry = 0;
  gboolean cancel_sent;

  if (!worker_preflight (worker) && !worker_connect (worker, NULL))
    {
      pge_pool_job_done (pool, worker, jobs[0]);
      pge_pool_requeue_front (pool, jobs, n_jobs);
      return;
    }
  if (pipeline_send (worker->conn, jobs, n_jobs, sent, errors))
    {
      for (guint i = 0; i < n_jobs; i++)
        {
          PGresult *sync;

          if (!sent[i])
            continue;
          pge_pool_advance (pool, worker, jobs[i]);
          results[i] = pge_worker_collect (jobs[i], worker->conn, FALSE, &errors[i]);
          sync = PQgetResult (worker->conn);
          if (sync != NULL && PQresultStatus (sync) != PGRES_PIPELINE_SYNC && errors[i] == NULL)
            errors[i] = g_error_new_literal (PGE_ERROR, PGE_ERROR_CONNECTION, "pipeline out of step");
          g_clear_pointer (&sync, PQclear);
          pge_worker_log (jobs[i], jobs[i]->sql, start, results[i], errors[i]);
        }
      PQexitPipelineMode (worker->conn);
    }
  cancel_sent = pge_pool_take_cancel_sent (pool, worker);
  pge_pool_job_done (pool, worker, jobs[n_jobs - 1]);
  for (guint i = 0; i < n_jobs; i++)
    {
      if (cancel_sent && sent[i] && !pge_job_is_cancel_requested (jobs[i]) &&
          g_error_matches (errors[i], PGE_ERROR, PGE_ERROR_TIMEOUT) &&
          g_strcmp0 (pge_error_get_sqlstate (errors[i]), "57014") == 0)
        {
          g_clear_error (&errors[i]);
          retry[n_retry++] = jobs[i];
          continue;
        }
      pge_job_finish (jobs[i], results[i], errors[i]);
      pge_job_unref (jobs[i]);
    }
  worker_make_idle (worker);
  if (n_retry > 0)
    pge_pool_requeue_front (pool, retry, n_retry);
}

gpointer
pge_worker_main (gpointer data)
{
  PgeWorker *worker = data;
  PgePool *pool = worker->pool;
  GError *error = NULL;

  g_private_set (&current_worker, worker);
  worker_connect (worker, &error);
  pge_pool_report_start (pool, error);
  g_clear_error (&error);

  for (;;)
    {
      PgeJob *jobs[PGE_PIPELINE_MAX] = { NULL };
      guint n_jobs = 0;

      if (worker->lease == NULL && !conn_ok (worker) && !worker_reconnect (worker))
        break;
      switch (pge_pool_next (pool, worker, jobs, &n_jobs))
        {
        case PGE_NEXT_RUN:
          if (n_jobs == 1)
            worker_run (worker, jobs[0]);
          else
            worker_run_pipeline (worker, jobs, n_jobs);
          continue;
        case PGE_NEXT_UNPIN:
          worker_unpin (worker);
          continue;
        case PGE_NEXT_EXIT:
          break;
        }
      break;
    }

  worker_disconnect (worker);
  g_private_set (&current_worker, NULL);
  pge_pool_worker_exited (pool, worker);
  return NULL;
}
