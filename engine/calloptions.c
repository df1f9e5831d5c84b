/* calloptions.c — limits a single call carries: PgeCallOptions.
 *
 * A GTK handler wants to fail after 200 ms where a batch job accepts
 * 30 s: a call may carry its own acquire timeout (how long it may wait
 * for a connection) and statement timeout (how long the server may run
 * it), instead of the engine's.
 *
 * Acquire deadlines. The pool queue is FIFO and stays so: jobs are served
 * in submission order whatever their deadlines. With one timeout per
 * pool the queue is also in deadline order; with per-call timeouts it no
 * longer is, so the janitor finds expired jobs in two parts. Jobs that use
 * the pool's timeout are in deadline order among themselves: the first
 * of them from the head is the nearest (jobs with their own timeout are
 * skipped on the way, and they are few). Jobs with their own timeout
 * also go into `pool->deadlines`, a GSequence sorted by deadline that
 * holds a reference to each; the janitor pops the entries whose deadline
 * passed and expires those jobs that are still queued (the others ran,
 * were cancelled or were refused: their entry is just dropped).
 * Submission wakes the janitor only when the new deadline is nearer than
 * the one it sleeps until.
 *
 * Statement timeouts: a query with its own statement timeout runs as a
 * CALL job that sets `statement_timeout` with set_config() (reading the
 * value in force in the same round trip), runs the query, and restores
 * the value, so a session's or the on-connect setup's own setting
 * survives. Inside a transaction that the timeout aborted, the restore
 * fails harmlessly: the rollback restores the value. The client-side
 * deadline of the connection (connection.c) follows for the call.
 *
 * Threads: a PgeCallOptions is a small value read when a call is made;
 * change it only while no call that uses it is being made. The deadline
 * functions run with the pool's queue_lock held.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "calloptions-private.h"
#include "scheduler-private.h"
#include "connection-private.h"
#include "result-private.h"

struct _PgeCallOptions {
  gint acquire_timeout_ms;    /* -1: the engine's */
  gint statement_timeout_ms;  /* -1: the engine's */
};

/**
 * PgeCallOptions:
 *
 * Limits for one call, overriding the engine's: how long it may wait for
 * a connection (acquire timeout) and how long the server may run it
 * (statement timeout). Pass it to pge_engine_query_with_options() and its
 * `_sync` and `_async` forms, or to
 * pge_engine_transaction_with_options(). Its values are read when the
 * call is made, so one options value may serve many calls; do not change
 * it while another thread makes a call with it.
 *
 * Since: 1.2
 */
/**
 * pge_call_options_get_type:
 *
 * Returns: the boxed #GType of #PgeCallOptions
 *
 * Since: 1.2
 */
G_DEFINE_BOXED_TYPE (PgeCallOptions, pge_call_options, pge_call_options_ref, pge_call_options_unref)

/**
 * pge_call_options_new:
 *
 * Options that change nothing yet: both limits are the engine's until
 * set. Never blocks.
 *
 * Returns: (transfer full): new options
 *
 * Since: 1.2
 */
PgeCallOptions *
pge_call_options_new (void)
{
  PgeCallOptions *options = g_atomic_rc_box_new0 (PgeCallOptions);

  options->acquire_timeout_ms = -1;
  options->statement_timeout_ms = -1;
  return options;
}

/**
 * pge_call_options_ref:
 * @options: a #PgeCallOptions
 *
 * Thread-safe.
 *
 * Returns: (transfer full): @options
 *
 * Since: 1.2
 */
PgeCallOptions *
pge_call_options_ref (PgeCallOptions *options)
{
  g_return_val_if_fail (options != NULL, NULL);
  return g_atomic_rc_box_acquire (options);
}

/**
 * pge_call_options_unref:
 * @options: (transfer full): a #PgeCallOptions
 *
 * Thread-safe.
 *
 * Since: 1.2
 */
void
pge_call_options_unref (PgeCallOptions *options)
{
  g_return_if_fail (options != NULL);
  g_atomic_rc_box_release (options);
}

/**
 * pge_call_options_set_acquire_timeout:
 * @options: a #PgeCallOptions
 * @timeout_ms: milliseconds, 0 to wait forever; at most %G_MAXINT
 *
 * How long the call may wait for a free connection before it fails with
 * %PGE_ERROR_TIMEOUT, instead of the engine's acquire timeout
 * (pge_config_set_acquire_timeout()). The call keeps its place in the
 * queue: calls are served in submission order whatever their timeouts.
 * For a transaction, it bounds the wait for the connection it pins.
 * Inside the thread's current transaction or session a statement runs on
 * that transaction's or session's connection and never waits for one, and
 * a transaction begun in the thread's current session pins none: the
 * value is not used.
 *
 * Since: 1.2
 */
void
pge_call_options_set_acquire_timeout (PgeCallOptions *options, guint timeout_ms)
{
  g_return_if_fail (options != NULL);
  g_return_if_fail (timeout_ms <= G_MAXINT);
  options->acquire_timeout_ms = (gint) timeout_ms;
}

/**
 * pge_call_options_get_acquire_timeout:
 * @options: a #PgeCallOptions
 *
 * Returns: the acquire timeout in milliseconds (0: forever), or -1 when
 *   the engine's applies
 *
 * Since: 1.2
 */
gint
pge_call_options_get_acquire_timeout (PgeCallOptions *options)
{
  g_return_val_if_fail (options != NULL, -1);
  return options->acquire_timeout_ms;
}

/**
 * pge_call_options_set_statement_timeout:
 * @options: a #PgeCallOptions
 * @timeout_ms: milliseconds, 0 for none; at most %G_MAXINT
 *
 * How long the server may run the call's statement before it stops it
 * (the call then fails with %PGE_ERROR_TIMEOUT, SQLSTATE 57014, and the
 * connection stays usable), instead of the engine's statement timeout
 * (pge_config_set_statement_timeout()). Costs two short round trips
 * around the statement, which is never pipelined. For a transaction, it
 * applies to every statement of the transaction (`SET LOCAL`).
 *
 * Since: 1.2
 */
void
pge_call_options_set_statement_timeout (PgeCallOptions *options, guint timeout_ms)
{
  g_return_if_fail (options != NULL);
  g_return_if_fail (timeout_ms <= G_MAXINT);
  options->statement_timeout_ms = (gint) timeout_ms;
}

/**
 * pge_call_options_get_statement_timeout:
 * @options: a #PgeCallOptions
 *
 * Returns: the statement timeout in milliseconds (0: none), or -1 when
 *   the engine's applies
 *
 * Since: 1.2
 */
gint
pge_call_options_get_statement_timeout (PgeCallOptions *options)
{
  g_return_val_if_fail (options != NULL, -1);
  return options->statement_timeout_ms;
}

/* ------------------------------------------------------ statement timeout */

/* set_config() returns the new value; current_setting(), evaluated first,
 * the one in force. */
#define SWAP_SQL "SELECT current_setting('statement_timeout'), " \
                 "set_config('statement_timeout', $1, false)"
#define RESTORE_SQL "SELECT set_config('statement_timeout', $1, false)"

static PgeResult *
set_timeout (PgeConnection *conn, const char *sql, const char *value, GError **error)
{
  g_autoptr(PgeParams) params = pge_params_new ();

  pge_params_add_text (params, value);
  return pge_connection_query (conn, sql, params, error);
}

static PgeResult *
timed_query_run (PgeJob *job, PgeConnection *conn, gpointer data, GError **error)
{
  guint timeout_ms = GPOINTER_TO_UINT (data);
  g_autofree char *value = g_strdup_printf ("%u", timeout_ms);
  g_autoptr(PgeResult) swapped = NULL;
  g_autoptr(PgeResult) restored = NULL;
  g_autofree char *old = NULL;
  PgeResult *result;
  guint old_client_ms;

  swapped = set_timeout (conn, SWAP_SQL, value, error);
  if (swapped == NULL)
    return NULL;
  old = g_strdup (pge_result_get_value (swapped, 0, 0));
  old_client_ms = pge_connection_swap_statement_timeout (conn, timeout_ms);
  result = pge_connection_query (conn, job->sql, job->params, error);
  pge_connection_swap_statement_timeout (conn, old_client_ms);
  /* Fails in a transaction the statement aborted, whose rollback restores
   * the value anyway; and on a dead connection, which is replaced. */
  if (pge_connection_is_ok (conn))
    restored = set_timeout (conn, RESTORE_SQL, old, NULL);
  return result;
}

void
pge_call_options_apply_acquire (PgeCallOptions *options, PgeJob *job)
{
  if (options == NULL || options->acquire_timeout_ms < 0)
    return;
  job->own_acquire_timeout = TRUE;
  job->acquire_timeout_ms = (guint) options->acquire_timeout_ms;
}

PgeJob *
pge_call_options_new_query_job (PgeCallOptions *options, const char *sql, PgeParams *params,
                                gboolean borrowed)
{
  PgeJob *job = borrowed ? pge_job_new_query_borrowed (sql, params) : pge_job_new_query (sql, params);

  pge_call_options_apply_acquire (options, job);
  if (options != NULL && options->statement_timeout_ms >= 0)
    {
      /* Still carries its SQL and frozen parameters; only how it runs
       * changes (a CALL is never pipelined). */
      job->kind = PGE_JOB_CALL;
      job->func = timed_query_run;
      job->data = GUINT_TO_POINTER ((guint) options->statement_timeout_ms);
    }
  return job;
}

/* -------------------------------------------------------- acquire deadlines */

static gint
by_deadline (gconstpointer a, gconstpointer b, gpointer user_data)
{
  const PgeJob *ja = a;
  const PgeJob *jb = b;

  return (ja->deadline > jb->deadline) - (ja->deadline < jb->deadline);
}

static void register_own_locked (PgePool *pool, PgeJob *job);

guint
pge_call_get_acquire_timeout (PgeJob *job, PgePool *pool)
{
  return job->own_acquire_timeout ? job->acquire_timeout_ms : pool->acquire_timeout_ms;
}

gint64
pge_call_deadline_locked (PgePool *pool, PgeJob *job)
{
  guint timeout_ms = pge_call_get_acquire_timeout (job, pool);
  gint64 deadline;

  if (timeout_ms == 0)
    return 0;
  /* From now, not from the job's creation: a routed read may wait in
   * its router (routing.c) before it is queued. */
  deadline = g_get_monotonic_time () + (gint64) timeout_ms * 1000;
  if (job->own_acquire_timeout)
    {
      job->deadline = deadline;  /* the sort key */
      register_own_locked (pool, job);
    }
  return deadline;
}

static void
expire_locked (PgePool *pool, PgeJob *job, GQueue *expired)
{
  g_queue_unlink (&pool->queue, &job->link);
  job->state = PGE_JOB_DONE;
  job->queue = NULL;
  g_queue_push_tail (expired, job);   /* the queue's reference */
}

static gboolean
is_queued_on (PgePool *pool, PgeJob *job)
{
  return job->state == PGE_JOB_QUEUED && job->queue == &pool->queue;
}

static void
register_own_locked (PgePool *pool, PgeJob *job)
{
  if (pool->deadlines == NULL)
    pool->deadlines = g_sequence_new ((GDestroyNotify) pge_job_unref);
  g_sequence_insert_sorted (pool->deadlines, pge_job_ref (job), by_deadline, NULL);
}

/* Jobs with the pool's timeout, in deadline order among themselves. A
 * job taken at once by a blocking caller and put back (its connection
 * was dead, pool.c's requeue) has its deadline from
 * pge_pool_deadline_of_taken(); one without (not expected) waits from
 * now. Put-back jobs are at the head, where requeue puts them. */
static gint64
expire_pool_timeouts_locked (PgePool *pool, gint64 now, GQueue *expired)
{
  GList *link = pool->queue.head;

  while (link != NULL)
    {
      PgeJob *job = link->data;
      guint timeout_ms = pge_call_get_acquire_timeout (job, pool);

      link = link->next;
      if (job->deadline == 0 && timeout_ms > 0)
        {
          job->deadline = now + (gint64) timeout_ms * 1000;
          if (job->own_acquire_timeout)
            register_own_locked (pool, job);
        }
      if (job->own_acquire_timeout)
        continue;
      if (job->deadline == 0)
        return 0;   /* the pool has no acquire timeout */
      if (job->deadline > now)
        return job->deadline;
      expire_locked (pool, job, expired);
    }
  return 0;
}

static gint64
expire_own_timeouts_locked (PgePool *pool, gint64 now, GQueue *expired, GQueue *drop)
{
  GSequenceIter *iter;

  if (pool->deadlines == NULL)
    return 0;
  while (!g_sequence_iter_is_end (iter = g_sequence_get_begin_iter (pool->deadlines)))
    {
      PgeJob *job = g_sequence_get (iter);

      if (job->deadline > now)
        return job->deadline;
      if (is_queued_on (pool, job))
        expire_locked (pool, job, expired);
      /* The reference moves to @drop: the sequence must not free it here. */
      g_queue_push_tail (drop, pge_job_ref (job));
      g_sequence_remove (iter);
    }
  return 0;
}

gint64
pge_call_expire_locked (PgePool *pool, gint64 now, GQueue *expired, GQueue *drop)
{
  gint64 pool_next = expire_pool_timeouts_locked (pool, now, expired);
  gint64 own_next = expire_own_timeouts_locked (pool, now, expired, drop);

  if (pool_next == 0)
    return own_next;
  return own_next == 0 ? pool_next : MIN (pool_next, own_next);
}

void
pge_call_clear_deadlines (PgePool *pool)
{
  g_clear_pointer (&pool->deadlines, g_sequence_free);
}
