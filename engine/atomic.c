/* atomic.c — PgeAtomic, a list of queries run all or nothing, in one
 * round trip.
 *
 * pge_atomic_run() queues ONE job. On its worker it enters libpq pipeline
 * mode and sends `BEGIN`, every query (PQsendQueryParams, with its frozen
 * parameters), `COMMIT` and a single Sync, then reads the results in
 * order. After the first error the server skips everything up to the Sync
 * (libpq reports those steps as PGRES_PIPELINE_ABORTED), so the COMMIT
 * never runs; the job then sends `ROLLBACK` (a second round trip, on
 * failure only) and the connection is idle again.
 *
 * Inside a transaction: when the job finds its connection already inside
 * a transaction — it was queued into the calling thread's current
 * transaction, as pge_engine_query() would be — it wraps the queries in
 * `SAVEPOINT pge_atomic_<n>` ... `RELEASE SAVEPOINT` instead. A failure
 * rolls back to the savepoint: the atomic's work is undone, the outer
 * transaction stays usable and the caller decides whether to go on or
 * roll it back. A success leaves the work in the outer transaction, which
 * commits or rolls it back with everything else. (Deciding at run time
 * from PQtransactionStatus() rather than at submission keeps one source of
 * truth: the connection.)
 *
 * Threads: `queries_lock` guards the query list (append-only, so a run
 * takes a snapshot of pointers under the lock and reads the immutable
 * entries without it) and the results of the last successful run. The
 * job holds a reference on the atomic; nothing blocks under the lock.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "async-private.h"
#include <string.h>

#include "engine-private.h"
#include "errors-private.h"
#include "job-private.h"
#include "params-private.h"
#include "result-private.h"
#include "connection-private.h"
#include "submit-private.h"

typedef struct {
  char      *sql;      /* as given; NULL is kept so the run can name it */
  PgeParams *params;   /* frozen copy, nullable */
} AtomicQuery;

struct _PgeAtomic {
  PgeEngine *engine;          /* owned */

  GMutex     queries_lock;
  GPtrArray *queries;         /* of AtomicQuery*, owned, append-only */
  GPtrArray *results;         /* of PgeResult*, last successful run, or NULL */
};

/* One run: what its job needs on the worker. */
typedef struct {
  PgeAtomic *atomic;          /* owned ref */
  GPtrArray *queries;         /* of AtomicQuery*, borrowed from atomic */
  guint      id;              /* for the savepoint name */
} AtomicRun;

/**
 * PgeAtomic:
 *
 * A list of queries run as one transaction, all or nothing, in one round trip.
 *
 * Build it with pge_engine_atomic() and pge_atomic_add(), run it with
 * pge_atomic_run(). Its query list is guarded by a lock; it may be used
 * from any thread.
 *
 * Since: 1.0
 */
/**
 * pge_atomic_get_type:
 *
 * Returns: the boxed #GType of #PgeAtomic
 *
 * Since: 1.0
 */
G_DEFINE_BOXED_TYPE (PgeAtomic, pge_atomic, pge_atomic_ref, pge_atomic_unref)

/* Savepoint names only need to be unique within a transaction. Global and
 * atomic, with a reason: it is a name source, not state of any engine (no
 * engine reads it back, so nothing to create or destroy with one), and a
 * wrap after 2^32 names is harmless since no transaction holds that many
 * atomics' savepoints at once. Only g_atomic_int_add() touches it. */
static guint savepoint_counter = 0;

static void
atomic_query_free (gpointer data)
{
  AtomicQuery *query = data;

  g_free (query->sql);
  g_clear_pointer (&query->params, pge_params_unref);
  g_free (query);
}

static void
atomic_run_free (gpointer data)
{
  AtomicRun *run = data;

  g_ptr_array_unref (run->queries);
  pge_atomic_unref (run->atomic);
  g_free (run);
}

static PgeFuture *
future_done (PgeResult *result, GError *error)
{
  PgeFuture *future = pge_future_new ();

  pge_future_resolve (future, result, error);
  return future;
}

/* ------------------------------------------------------ the worker side */

typedef enum {
  STEP_OPEN,     /* BEGIN or SAVEPOINT */
  STEP_QUERY,
  STEP_CLOSE     /* COMMIT or RELEASE SAVEPOINT */
} StepKind;

/* Wraps a step's error so that it says which step failed, keeping its
 * code (QUERY, CANCELLED, TIMEOUT, CONNECTION ...) and SQLSTATE. */
static GError *
step_error (GError *inner, StepKind kind, guint index, guint n, const char *close_sql)
{
  GError *error;

  if (kind == STEP_QUERY)
    error = pge_error_new_sqlstate (inner->code, pge_error_get_sqlstate (inner),
                                    "query %u of %u failed: %s", index + 1, n, inner->message);
  else if (kind == STEP_OPEN)
    error = pge_error_new_sqlstate (inner->code, pge_error_get_sqlstate (inner),
                                    "the atomic could not start: %s", inner->message);
  else
    error = pge_error_new_sqlstate (inner->code, pge_error_get_sqlstate (inner),
                                    "%s of the atomic failed; nothing was committed: %s",
                                    close_sql, inner->message);
  g_error_free (inner);
  return error;
}

/* Reads the results of one pipelined statement, up to the NULL that ends
 * them. Returns its result, or NULL with @error set (and *@aborted when the
 * server skipped it after an earlier error). */
static PgeResult *
read_step (PgeConnection *c, gboolean *aborted, GError **error)
{
  PGconn *conn = pge_connection_get_pgconn (c);
  PGresult *res;
  PGresult *last = NULL;
  GError *first = NULL;

  *aborted = FALSE;
  while (pge_connection_wait_for_result (c), (res = PQgetResult (conn)) != NULL)
    {
      switch (PQresultStatus (res))
        {
        case PGRES_COPY_IN:
          /* libpq would hand this result back forever: end the COPY, and
           * the server's error, the skipped steps and the Sync follow. */
          PQputCopyEnd (conn, "pgengine: COPY cannot run in an atomic: use pge_engine_copy_from_stream()");
          if (first == NULL)
            first = g_error_new_literal (PGE_ERROR, PGE_ERROR_INVALID_ARGUMENT,
                                         "COPY cannot run in an atomic: use the "
                                         "pge_engine_copy_*() functions");
          break;
        case PGRES_COPY_OUT:
        case PGRES_COPY_BOTH:
          {
            char *buffer = NULL;

            while (PQgetCopyData (conn, &buffer, 0) > 0)
              PQfreemem (buffer);
            if (first == NULL)
              first = g_error_new_literal (PGE_ERROR, PGE_ERROR_INVALID_ARGUMENT,
                                           "COPY cannot run in an atomic: use the "
                                           "pge_engine_copy_*() functions");
          }
          break;
        case PGRES_TUPLES_OK:
        case PGRES_COMMAND_OK:
        case PGRES_EMPTY_QUERY:
          g_clear_pointer (&last, PQclear);
          last = res;
          continue;
        case PGRES_PIPELINE_ABORTED:
          *aborted = TRUE;
          break;
        case PGRES_FATAL_ERROR:
        case PGRES_BAD_RESPONSE:
        case PGRES_NONFATAL_ERROR:
          if (first == NULL)
            first = pge_connection_error_from_result (c, res);
          break;
        default:
          /* COPY and the like: libpq refuses them in pipeline mode. */
          if (first == NULL)
            first = g_error_new (PGE_ERROR, PGE_ERROR_INVALID_ARGUMENT,
                                 "%s cannot run in an atomic",
                                 PQresStatus (PQresultStatus (res)));
          break;
        }
      PQclear (res);
      if (PQstatus (conn) == CONNECTION_BAD)
        break;
    }
  if (first == NULL && PQstatus (conn) == CONNECTION_BAD)
    first = pge_error_new_from_conn (conn, PGE_ERROR_CONNECTION, "the connection was lost");
  if (first == NULL && *aborted)
    first = g_error_new_literal (PGE_ERROR, PGE_ERROR_QUERY, "skipped after an earlier error");
  if (first != NULL)
    {
      g_clear_pointer (&last, PQclear);
      g_propagate_error (error, first);
      return NULL;
    }
  return last ? pge_result_new_take (last) : NULL;
}

static gboolean
send_step (PGconn *conn, const char *sql, PgeParams *frozen_params)
{
  PgeParamsView view;

  pge_params_view (frozen_params, &view);
  return PQsendQueryParams (conn, sql, view.n, view.types, view.values, view.lengths,
                            view.formats, 0);
}

/* Sends the whole list and the Sync; FALSE with @error set if libpq
 * refused (a lost connection), in which case nothing more is read. */
static gboolean
send_all (PGconn *conn, AtomicRun *run, const char *open_sql, const char *close_sql,
          GError **error)
{
  gboolean ok = send_step (conn, open_sql, NULL);

  for (guint i = 0; ok && i < run->queries->len; i++)
    {
      AtomicQuery *query = run->queries->pdata[i];

      ok = send_step (conn, query->sql, query->params);
    }
  ok = ok && send_step (conn, close_sql, NULL) && PQpipelineSync (conn);
  if (!ok)
    g_propagate_error (error, pge_error_new_from_conn (conn,
                                                       PQstatus (conn) == CONNECTION_BAD
                                                         ? PGE_ERROR_CONNECTION : PGE_ERROR_FAILED,
                                                       "cannot send the atomic"));
  return ok;
}

static PgeResult *
atomic_job_run (PgeJob *job, PgeConnection *c, gpointer data, GError **error)
{
  AtomicRun *run = data;
  PGconn *conn = pge_connection_get_pgconn (c);
  guint n = run->queries->len;
  gboolean nested = PQtransactionStatus (conn) != PQTRANS_IDLE;
  g_autofree char *savepoint = NULL;
  g_autofree char *open_sql = NULL;
  g_autofree char *close_sql = NULL;
  g_autoptr(GPtrArray) results = g_ptr_array_new_full (n, (GDestroyNotify) pge_result_unref);
  gboolean opened = FALSE;
  GError *local = NULL;
  gint64 step_start;
  PGresult *res;

  if (pge_job_is_cancel_requested (job))
    {
      g_set_error_literal (error, PGE_ERROR, PGE_ERROR_CANCELLED, "cancelled before it ran");
      return NULL;
    }
  if (nested)
    {
      savepoint = g_strdup_printf ("pge_atomic_%u", (guint) g_atomic_int_add (&savepoint_counter, 1));
      open_sql = g_strdup_printf ("SAVEPOINT %s", savepoint);
      close_sql = g_strdup_printf ("RELEASE SAVEPOINT %s", savepoint);
    }
  else
    {
      open_sql = g_strdup ("BEGIN");
      close_sql = g_strdup ("COMMIT");
    }

  if (!PQenterPipelineMode (conn))
    {
      g_propagate_error (error, pge_error_new_from_conn (conn, PGE_ERROR_FAILED,
                                                         "cannot enter pipeline mode"));
      return NULL;
    }
  step_start = g_get_monotonic_time ();
  if (!send_all (conn, run, open_sql, close_sql, &local))
    {
      /* The connection is gone; the worker replaces it. */
      g_propagate_error (error, local);
      return NULL;
    }

  /* One step per statement sent: open, the queries, close. */
  for (guint step = 0; step < n + 2; step++)
    {
      StepKind kind = step == 0 ? STEP_OPEN : step == n + 1 ? STEP_CLOSE : STEP_QUERY;
      const char *sql = kind == STEP_OPEN ? open_sql : kind == STEP_CLOSE ? close_sql
                        : ((AtomicQuery *) run->queries->pdata[step - 1])->sql;
      GError *inner = NULL;
      gboolean aborted;
      PgeResult *result = read_step (c, &aborted, &inner);

      if (!aborted)
        pge_connection_log (c, sql, step_start, result, inner);
      step_start = g_get_monotonic_time ();
      if (inner != NULL)
        {
          if (local == NULL)
            local = step_error (inner, kind, step - 1, n, close_sql);
          else
            g_error_free (inner);
          if (PQstatus (conn) == CONNECTION_BAD)
            break;
          continue;
        }
      if (kind == STEP_OPEN)
        opened = TRUE;
      if (kind == STEP_QUERY && result == NULL && local == NULL)
        local = g_error_new (PGE_ERROR, PGE_ERROR_FAILED, "query %u of %u gave no result",
                             step, n);
      if (kind == STEP_QUERY && result != NULL)
        g_ptr_array_add (results, result);
      else
        g_clear_pointer (&result, pge_result_unref);
    }

  if (PQstatus (conn) == CONNECTION_OK)
    {
      res = PQgetResult (conn);
      if (PQresultStatus (res) != PGRES_PIPELINE_SYNC && local == NULL)
        local = g_error_new (PGE_ERROR, PGE_ERROR_FAILED, "protocol out of step: %s instead of "
                             "the pipeline's sync", PQresStatus (PQresultStatus (res)));
      PQclear (res);
      PQexitPipelineMode (conn);
    }

  if (local != NULL)
    {
      /* The server has skipped everything after the failure, COMMIT (or
       * RELEASE) included; undo what ran before it. */
      if (PQstatus (conn) == CONNECTION_OK && PQpipelineStatus (conn) == PQ_PIPELINE_OFF)
        {
          if (!nested)
            PQclear (PQexec (conn, "ROLLBACK"));
          else if (opened)
            {
              g_autofree char *undo = g_strdup_printf ("ROLLBACK TO SAVEPOINT %s; "
                                                       "RELEASE SAVEPOINT %s", savepoint, savepoint);

              PQclear (PQexec (conn, undo));
            }
        }
      g_propagate_error (error, local);
      return NULL;
    }

  g_mutex_lock (&run->atomic->queries_lock);
  g_clear_pointer (&run->atomic->results, g_ptr_array_unref);
  run->atomic->results = g_ptr_array_ref (results);
  g_mutex_unlock (&run->atomic->queries_lock);
  return n > 0 ? pge_result_ref (results->pdata[n - 1]) : NULL;
}

/* ---------------------------------------------------------- public API */

/**
 * pge_engine_atomic:
 * @engine: a #PgeEngine
 *
 * Creates an empty list of queries to run all or nothing with
 * pge_atomic_run(). Nothing is sent until then. Never blocks;
 * thread-safe.
 *
 * Returns: (transfer full): a new #PgeAtomic
 *
 * Since: 1.0
 */
PgeAtomic *
pge_engine_atomic (PgeEngine *engine)
{
  PgeAtomic *atomic;

  g_return_val_if_fail (PGE_IS_ENGINE (engine), NULL);
  atomic = g_atomic_rc_box_new0 (PgeAtomic);
  atomic->engine = pge_engine_ref (engine);
  g_mutex_init (&atomic->queries_lock);
  atomic->queries = g_ptr_array_new_with_free_func (atomic_query_free);
  return atomic;
}

/**
 * pge_atomic_ref:
 * @atomic: a #PgeAtomic
 *
 * Thread-safe.
 *
 * Returns: (transfer full): @atomic
 *
 * Since: 1.0
 */
PgeAtomic *
pge_atomic_ref (PgeAtomic *atomic)
{
  g_return_val_if_fail (atomic != NULL, NULL);
  return g_atomic_rc_box_acquire (atomic);
}

static void
atomic_free (gpointer data)
{
  PgeAtomic *atomic = data;

  g_clear_pointer (&atomic->results, g_ptr_array_unref);
  g_clear_pointer (&atomic->queries, g_ptr_array_unref);
  g_mutex_clear (&atomic->queries_lock);
  g_clear_pointer (&atomic->engine, pge_engine_unref);
}

/**
 * pge_atomic_unref:
 * @atomic: (transfer full): a #PgeAtomic
 *
 * Drops a reference. A run in progress holds its own, so dropping the
 * last one of the caller does not stop it. Never blocks (except when it
 * drops the last reference to the engine, see pge_engine_unref()).
 * Thread-safe.
 *
 * Since: 1.0
 */
void
pge_atomic_unref (PgeAtomic *atomic)
{
  g_return_if_fail (atomic != NULL);
  g_atomic_rc_box_release_full (atomic, atomic_free);
}

/**
 * pge_atomic_add:
 * @atomic: a #PgeAtomic
 * @sql: (nullable): one SQL statement, with `$1`, `$2` ... placeholders
 * @params: (nullable): its parameters, copied before this returns
 *
 * Appends a query. A %NULL or blank @sql is recorded as given: the next
 * run fails with %PGE_ERROR_INVALID_ARGUMENT naming its number, and sends
 * nothing. Queries added while a run is in progress belong to the next
 * run. Never blocks; thread-safe.
 *
 * Since: 1.0
 */
void
pge_atomic_add (PgeAtomic *atomic, const char *sql, PgeParams *params)
{
  AtomicQuery *query;

  g_return_if_fail (atomic != NULL);
  query = g_new0 (AtomicQuery, 1);
  query->sql = g_strdup (sql);
  query->params = params ? pge_params_copy (params) : NULL;
  g_mutex_lock (&atomic->queries_lock);
  g_ptr_array_add (atomic->queries, query);
  g_mutex_unlock (&atomic->queries_lock);
}

/**
 * pge_atomic_get_n_queries:
 * @atomic: a #PgeAtomic
 *
 * Never blocks; thread-safe.
 *
 * Returns: how many queries have been added
 *
 * Since: 1.0
 */
guint
pge_atomic_get_n_queries (PgeAtomic *atomic)
{
  guint n;

  g_return_val_if_fail (atomic != NULL, 0);
  g_mutex_lock (&atomic->queries_lock);
  n = atomic->queries->len;
  g_mutex_unlock (&atomic->queries_lock);
  return n;
}

static gboolean
is_blank (const char *sql)
{
  while (g_ascii_isspace (*sql))
    sql++;
  return *sql == '\0';
}

/* Finds what would fail before anything is sent. */
static GError *
check_queries (GPtrArray *queries)
{
  for (guint i = 0; i < queries->len; i++)
    {
      AtomicQuery *query = queries->pdata[i];
      const char *problem = NULL;

      if (query->sql == NULL)
        problem = "has no SQL (NULL)";
      else if (is_blank (query->sql))
        problem = "is empty";
      else if (query->params != NULL && pge_params_get_length (query->params) > PGE_MAX_PARAMS)
        problem = "has more parameters than PostgreSQL takes (65535)";
      if (problem != NULL)
        return g_error_new (PGE_ERROR, PGE_ERROR_INVALID_ARGUMENT, "query %u of %u %s; "
                            "nothing was sent", i + 1, queries->len, problem);
    }
  return NULL;
}

/**
 * pge_atomic_run:
 * @atomic: a #PgeAtomic
 *
 * Runs every query added so far, all or nothing, in one round trip (libpq
 * pipeline mode: `BEGIN`, the queries, `COMMIT`, one Sync) on one worker.
 *
 * On a thread with a current transaction on the engine, the run goes into
 * that transaction, after the statements queued before it (on one with a
 * current session and no transaction, onto the session's connection, as
 * a transaction of its own), and inside a transaction it uses
 * `SAVEPOINT` / `RELEASE SAVEPOINT` instead of `BEGIN` / `COMMIT`: on
 * failure only the atomic's work is rolled back and the transaction stays
 * usable; on success its work commits or rolls back with the transaction.
 *
 * The future's result is the last query's; pge_atomic_get_result() gives
 * each one afterwards. On failure nothing is committed and the error says
 * which query failed, e.g. "query 3 of 5 failed: ...", keeping the
 * server's code and SQLSTATE (pge_error_get_sqlstate());
 * pge_future_cancel() fails it with %PGE_ERROR_CANCELLED, and the
 * connection stays usable. A %NULL or blank query fails the future with
 * %PGE_ERROR_INVALID_ARGUMENT and sends nothing. An empty atomic succeeds
 * at once, without touching the server, with no result. Running again
 * runs the current list again and replaces the results.
 *
 * A statement that is only a comment succeeds with an empty result, as in
 * PostgreSQL. Statements that cannot run in a transaction block (VACUUM,
 * CREATE DATABASE) or in a pipeline (COPY) fail. Every statement is
 * logged (log_queries) with the time from the pipeline's start, or from
 * the previous statement's answer, to its own.
 *
 * Never blocks; thread-safe.
 *
 * Returns: (transfer full): a future for the last query's result
 *
 * Since: 1.0
 */
PgeFuture *
pge_atomic_run (PgeAtomic *atomic)
{
  g_autoptr(PgeJob) job = NULL;
  GPtrArray *snapshot;
  AtomicRun *run;
  GError *invalid;

  g_return_val_if_fail (atomic != NULL, NULL);
  g_mutex_lock (&atomic->queries_lock);
  g_clear_pointer (&atomic->results, g_ptr_array_unref);
  snapshot = g_ptr_array_new_full (atomic->queries->len, NULL);
  for (guint i = 0; i < atomic->queries->len; i++)
    g_ptr_array_add (snapshot, atomic->queries->pdata[i]);
  g_mutex_unlock (&atomic->queries_lock);

  if (snapshot->len == 0)
    {
      g_ptr_array_unref (snapshot);
      return future_done (NULL, NULL);
    }
  invalid = check_queries (snapshot);
  if (invalid != NULL)
    {
      g_ptr_array_unref (snapshot);
      return future_done (NULL, invalid);
    }

  run = g_new0 (AtomicRun, 1);
  run->atomic = pge_atomic_ref (atomic);
  run->queries = snapshot;
  job = pge_job_new_call (atomic_job_run, run, atomic_run_free);
  return pge_engine_submit (atomic->engine, job);
}

/**
 * pge_atomic_run_sync:
 * @atomic: a #PgeAtomic
 * @error: return location for a #GError
 *
 * pge_atomic_run() and pge_future_wait() in one call: blocks until the
 * run is over. Thread-safe. On one of the engine's own worker threads (a
 * %NULL-context future callback) it fails with %PGE_ERROR_WOULD_DEADLOCK and runs
 * nothing, since it could wait for itself: use pge_atomic_run() there.
 *
 * Returns: %TRUE if every query ran and the work was committed (or, inside
 *   a transaction, kept in it)
 *
 * Since: 1.0
 */
gboolean
pge_atomic_run_sync (PgeAtomic *atomic, GError **error)
{
  g_autoptr(PgeFuture) future = NULL;
  g_autoptr(PgeResult) result = NULL;
  GError *local = NULL;

  g_return_val_if_fail (atomic != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);
  if (!pge_engine_check_may_block (atomic->engine, "pge_atomic_run_sync()", error))
    return FALSE;
  future = pge_atomic_run (atomic);
  result = pge_future_wait (future, &local);
  if (local != NULL)
    {
      g_propagate_error (error, local);
      return FALSE;
    }
  return TRUE;
}

/**
 * pge_atomic_get_result:
 * @atomic: a #PgeAtomic
 * @index: 0-based: the query's position in the order of pge_atomic_add()
 *
 * The result of one query of the last run, once it has succeeded. Before
 * that (or after a failed run, or during a new one), or with @index out of
 * range, returns %NULL and logs a critical: a programming error. Never
 * blocks; thread-safe.
 *
 * Returns: (transfer full) (nullable): the query's result
 *
 * Since: 1.0
 */
PgeResult *
pge_atomic_get_result (PgeAtomic *atomic, guint index)
{
  PgeResult *result = NULL;
  guint n = 0;

  g_return_val_if_fail (atomic != NULL, NULL);
  g_mutex_lock (&atomic->queries_lock);
  if (atomic->results != NULL)
    {
      n = atomic->results->len;
      if (index < n)
        result = pge_result_ref (atomic->results->pdata[index]);
    }
  g_mutex_unlock (&atomic->queries_lock);
  if (result == NULL)
    g_critical ("%s: no result %u: the last run of this atomic %s", G_STRFUNC, index,
                n > 0 ? "has fewer results" : "has not succeeded");
  return result;
}

/* ---------------------------------------------------------------- atomic */

/**
 * pge_atomic_run_async:
 * @atomic: a #PgeAtomic
 * @cancellable: (nullable): cancels the run if it is still queued (nothing
 *   runs), or through libpq's cancel API if it runs (nothing is
 *   committed)
 * @callback: (scope async) (closure user_data): called with the outcome
 * @user_data: data for @callback
 *
 * GIO-style pge_atomic_run(): the queries run as one transaction (inside
 * the calling thread's current transaction, if it has one, like
 * pge_atomic_run()), and @callback runs in the thread-default
 * #GMainContext of the calling thread at the time of this call, where
 * pge_atomic_run_finish() gets the outcome. Never blocks.
 *
 * Since: 1.0
 */
void
pge_atomic_run_async (PgeAtomic          *atomic,
                      GCancellable       *cancellable,
                      GAsyncReadyCallback callback,
                      gpointer            user_data)
{
  g_autoptr(PgeFuture) future = NULL;
  GTask *task;

  g_return_if_fail (atomic != NULL);
  task = pge_async_task_new (atomic->engine, pge_atomic_run_async, "pge_atomic_run_async",
                             cancellable, callback, user_data);
  if (task == NULL)
    return;
  future = pge_atomic_run (atomic);
  pge_async_follow_boolean (task, future);
}

/**
 * pge_atomic_run_finish:
 * @atomic: the #PgeAtomic given to pge_atomic_run_async()
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError
 *
 * On success every query ran and the work was committed (or, inside a
 * transaction, kept in it); pge_atomic_get_result() then gives each
 * query's result. On failure nothing was committed and the error says
 * which query (1-based) failed; a cancelled #GCancellable gives
 * %G_IO_ERROR_CANCELLED. Never blocks.
 *
 * Returns: %TRUE if every query ran and the work was committed
 *
 * Since: 1.0
 */
gboolean
pge_atomic_run_finish (PgeAtomic *atomic, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (atomic != NULL, FALSE);
  g_return_val_if_fail (pge_async_task_check (result, atomic->engine, pge_atomic_run_async), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}
