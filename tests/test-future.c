/* test-future.c — PgeFuture: wait, timeouts, callbacks and where they
 * run, cancellation of queued and running jobs.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <string.h>

#include "fixture.h"

TestSuite (future, .init = pge_test_engine_up, .fini = pge_test_engine_down);

/* ------------------------------------------------------------- helpers */

/* Gate, gate_close () and gate_open () come from the fixture. */

/* Records callback calls, from any thread. */
typedef struct {
  GMutex   lock;
  GCond    cond;
  guint    n_calls;
  guint    n_notifies;
  GThread *thread;        /* where the last call ran */
  int      order[8];
  guint    n_order;
} Recorder;

typedef struct {
  Recorder *recorder;
  int       tag;
} Tagged;

static void
record_call (PgeFuture *future, gpointer user_data)
{
  Tagged *tagged = user_data;
  Recorder *rec = tagged->recorder;

  cr_assert (pge_future_is_done (future));
  g_mutex_lock (&rec->lock);
  rec->n_calls++;
  rec->thread = g_thread_self ();
  if (rec->n_order < G_N_ELEMENTS (rec->order))
    rec->order[rec->n_order++] = tagged->tag;
  g_cond_broadcast (&rec->cond);
  g_mutex_unlock (&rec->lock);
}

static void
record_notify (gpointer user_data)
{
  Tagged *tagged = user_data;
  Recorder *rec = tagged->recorder;

  g_mutex_lock (&rec->lock);
  rec->n_notifies++;
  g_cond_broadcast (&rec->cond);
  g_mutex_unlock (&rec->lock);
  g_free (tagged);
}

static Tagged *
tagged_new (Recorder *rec, int tag)
{
  Tagged *tagged = g_new0 (Tagged, 1);

  tagged->recorder = rec;
  tagged->tag = tag;
  return tagged;
}

static void
recorder_wait_notifies (Recorder *rec, guint n)
{
  g_mutex_lock (&rec->lock);
  while (rec->n_notifies < n)
    g_cond_wait (&rec->cond, &rec->lock);
  g_mutex_unlock (&rec->lock);
}

static guint
recorder_calls (Recorder *rec)
{
  guint n;

  g_mutex_lock (&rec->lock);
  n = rec->n_calls;
  g_mutex_unlock (&rec->lock);
  return n;
}

/* Waits (at most @timeout_s) until the admin connection sees @marker in
 * an active query. */
static gboolean
wait_until_active (const char *marker, double timeout_s)
{
  g_autofree char *sql = g_strdup_printf (
    "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND query LIKE '%%%s%%' "
    "AND pid <> pg_backend_pid()", marker);
  gint64 end = g_get_monotonic_time () + (gint64) (timeout_s * G_USEC_PER_SEC);

  while (g_get_monotonic_time () < end)
    {
      g_autofree char *count = pge_test_admin_query (sql);

      if (g_strcmp0 (count, "0") != 0)
        return TRUE;
      g_usleep (10 * 1000);
    }
  return FALSE;
}

/* --------------------------------------------------------------- wait */

Test (future, wait_twice_returns_two_references_to_the_result)
{
  g_autoptr(PgeFuture) future = pge_engine_query (test_engine, "SELECT 42", NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(PgeResult) first = pge_future_wait (future, &error);
  g_autoptr(PgeResult) second = pge_future_wait (future, &error);

  cr_assert_null (error);
  cr_assert_not_null (first);
  cr_assert_eq (first, second);
  g_clear_pointer (&first, pge_result_unref);
  /* The second reference still holds the rows. */
  cr_assert_eq (pge_result_get_int64 (second, 0, 0), 42);
}

Test (future, wait_copies_the_error_each_time)
{
  g_autoptr(PgeFuture) future = pge_engine_query (test_engine, "SELECT 1/0", NULL);
  g_autoptr(GError) first = NULL;
  g_autoptr(GError) second = NULL;
  g_autoptr(PgeResult) r1 = pge_future_wait (future, &first);
  g_autoptr(PgeResult) r2 = pge_future_wait (future, &second);

  cr_assert_null (r1);
  cr_assert_null (r2);
  pge_assert_error (first, PGE_ERROR, PGE_ERROR_QUERY);
  pge_assert_error (second, PGE_ERROR, PGE_ERROR_QUERY);
  cr_assert_neq (first, second);
  cr_assert_str_eq (first->message, second->message);
  cr_assert_str_eq (pge_error_get_sqlstate (second), "22012");
}

Test (future, wait_with_null_error_still_returns_the_result)
{
  g_autoptr(PgeFuture) ok = pge_engine_query (test_engine, "SELECT 1", NULL);
  g_autoptr(PgeFuture) bad = pge_engine_query (test_engine, "SELECT 1/0", NULL);
  g_autoptr(PgeResult) result = pge_future_wait (ok, NULL);

  cr_assert_not_null (result);
  cr_assert_null (pge_future_wait (bad, NULL));
}

Test (future, wait_timeout_is_false_before_and_true_after)
{
  g_autoptr(PgeFuture) future = pge_engine_query (test_engine, "SELECT pg_sleep(0.3)", NULL);
  gint64 start = g_get_monotonic_time ();

  cr_assert_not (pge_future_wait_timeout (future, 10));
  cr_assert_lt (g_get_monotonic_time () - start, 250 * 1000, "waited far longer than 10 ms");
  cr_assert_not (pge_future_is_done (future));
  cr_assert (pge_future_wait_timeout (future, 10000));
  cr_assert (pge_future_is_done (future));
  cr_assert (pge_future_wait_timeout (future, 0));
}

Test (future, wait_timeout_zero_only_checks)
{
  Gate gate = { 0 };
  g_autoptr(PgeEngine) engine = pge_test_new_engine (1);
  g_autoptr(PgeFuture) blocker = gate_close (engine, &gate);

  cr_assert_not (pge_future_wait_timeout (blocker, 0));
  gate_open (&gate);
  cr_assert (pge_future_wait_timeout (blocker, 10000));
}

Test (future, is_done_follows_the_job)
{
  Gate gate = { 0 };
  g_autoptr(PgeEngine) engine = pge_test_new_engine (1);
  g_autoptr(PgeFuture) blocker = gate_close (engine, &gate);
  g_autoptr(PgeFuture) queued = pge_engine_query (engine, "SELECT 1", NULL);
  g_autoptr(PgeResult) result = NULL;

  cr_assert_not (pge_future_is_done (blocker));
  cr_assert_not (pge_future_is_done (queued));
  gate_open (&gate);
  result = pge_future_wait (queued, NULL);
  cr_assert_not_null (result);
  cr_assert (pge_future_is_done (queued));
  cr_assert (pge_future_is_done (blocker));
}

Test (future, ref_and_unref_keep_it_alive)
{
  PgeFuture *future = pge_engine_query (test_engine, "SELECT 5", NULL);
  PgeFuture *ref = pge_future_ref (future);
  g_autoptr(PgeResult) result = NULL;

  cr_assert_eq (ref, future);
  pge_future_unref (future);
  result = pge_future_wait (ref, NULL);
  cr_assert_eq (pge_result_get_int64 (result, 0, 0), 5);
  pge_future_unref (ref);
  cr_assert (G_TYPE_IS_BOXED (pge_future_get_type ()));
}

Test (future, dropping_the_future_does_not_cancel_the_job)
{
  g_autoptr(PgeEngine) engine = pge_test_new_engine (1);
  g_autoptr(GError) error = NULL;
  g_autoptr(PgeResult) result = NULL;

  cr_assert (pge_engine_exec_sync (engine, "CREATE TABLE dropped (v int)", &error));
  pge_future_unref (pge_engine_query (engine, "INSERT INTO dropped VALUES (1)", NULL));
  /* One worker, FIFO: the count runs after the INSERT. */
  result = pge_engine_query_sync (engine, "SELECT count(*) FROM dropped", NULL, &error);
  cr_assert_null (error);
  cr_assert_eq (pge_result_get_int64 (result, 0, 0), 1);
}

/* ------------------------------------------------------------ on_done */

Test (future, on_done_without_context_runs_at_once_when_done)
{
  Recorder rec = { 0 };
  g_autoptr(PgeFuture) future = pge_engine_query (test_engine, "SELECT 1", NULL);
  g_autoptr(PgeResult) result = pge_future_wait (future, NULL);

  pge_future_on_done (future, NULL, record_call, tagged_new (&rec, 1), record_notify);
  cr_assert_eq (rec.n_calls, 1);
  cr_assert_eq (rec.n_notifies, 1);
  cr_assert_eq (rec.thread, g_thread_self ());
}

Test (future, on_done_without_context_runs_on_the_completing_worker)
{
  Recorder rec = { 0 };
  Gate gate = { 0 };
  g_autoptr(PgeEngine) engine = pge_test_new_engine (1);
  g_autoptr(PgeFuture) blocker = gate_close (engine, &gate);

  pge_future_on_done (blocker, NULL, record_call, tagged_new (&rec, 1), record_notify);
  cr_assert_eq (recorder_calls (&rec), 0, "called before the job finished");
  gate_open (&gate);
  recorder_wait_notifies (&rec, 1);
  cr_assert_eq (rec.n_calls, 1);
  cr_assert_neq (rec.thread, g_thread_self ());
}

Test (future, on_done_without_context_runs_callbacks_in_order)
{
  Recorder rec = { 0 };
  Gate gate = { 0 };
  g_autoptr(PgeEngine) engine = pge_test_new_engine (1);
  g_autoptr(PgeFuture) blocker = gate_close (engine, &gate);

  for (int i = 0; i < 5; i++)
    pge_future_on_done (blocker, NULL, record_call, tagged_new (&rec, i), record_notify);
  gate_open (&gate);
  recorder_wait_notifies (&rec, 5);
  cr_assert_eq (rec.n_calls, 5);
  for (int i = 0; i < 5; i++)
    cr_assert_eq (rec.order[i], i);
}

Test (future, on_done_with_context_never_runs_inside_the_call)
{
  Recorder rec = { 0 };
  g_autoptr(GMainContext) context = g_main_context_new ();
  g_autoptr(PgeFuture) future = pge_engine_query (test_engine, "SELECT 1", NULL);
  g_autoptr(PgeResult) result = pge_future_wait (future, NULL);

  cr_assert (pge_future_is_done (future));
  /* Owning the context is what would tempt an implementation to invoke
   * the callback right away. */
  cr_assert (g_main_context_acquire (context));
  g_main_context_push_thread_default (context);
  pge_future_on_done (future, context, record_call, tagged_new (&rec, 1), record_notify);
  cr_assert_eq (rec.n_calls, 0, "ran inside pge_future_on_done()");
  while (rec.n_notifies == 0)
    g_main_context_iteration (context, TRUE);
  cr_assert_eq (rec.n_calls, 1);
  cr_assert_eq (rec.thread, g_thread_self ());
  g_main_context_pop_thread_default (context);
  g_main_context_release (context);
}

Test (future, on_done_with_context_runs_in_that_context_in_order)
{
  Recorder rec = { 0 };
  Gate gate = { 0 };
  g_autoptr(GMainContext) context = g_main_context_new ();
  g_autoptr(PgeEngine) engine = pge_test_new_engine (1);
  g_autoptr(PgeFuture) blocker = gate_close (engine, &gate);

  for (int i = 0; i < 3; i++)
    pge_future_on_done (blocker, context, record_call, tagged_new (&rec, i), record_notify);
  gate_open (&gate);
  cr_assert (pge_future_wait_timeout (blocker, 10000));
  /* Done, but nothing runs until the context is iterated. */
  cr_assert_eq (recorder_calls (&rec), 0);
  while (recorder_calls (&rec) < 3 || rec.n_notifies < 3)
    g_main_context_iteration (context, TRUE);
  cr_assert_eq (rec.thread, g_thread_self ());
  for (int i = 0; i < 3; i++)
    cr_assert_eq (rec.order[i], i);
  cr_assert_eq (rec.n_notifies, 3);
}

Test (future, on_done_notify_runs_when_the_context_dies_unrun)
{
  Recorder rec = { 0 };
  GMainContext *context = g_main_context_new ();
  g_autoptr(PgeFuture) future = pge_engine_query (test_engine, "SELECT 1", NULL);
  g_autoptr(PgeResult) result = pge_future_wait (future, NULL);

  pge_future_on_done (future, context, record_call, tagged_new (&rec, 1), record_notify);
  g_main_context_unref (context);
  cr_assert_eq (rec.n_calls, 0);
  cr_assert_eq (rec.n_notifies, 1);
}

Test (future, on_done_with_null_notify_is_fine)
{
  Recorder rec = { 0 };
  Tagged tagged = { &rec, 7 };
  g_autoptr(PgeFuture) future = pge_engine_query (test_engine, "SELECT 1", NULL);
  g_autoptr(PgeResult) result = pge_future_wait (future, NULL);

  pge_future_on_done (future, NULL, record_call, &tagged, NULL);
  cr_assert_eq (rec.n_calls, 1);
  cr_assert_eq (rec.order[0], 7);
}

Test (future, on_done_callback_may_drop_the_last_reference)
{
  Recorder rec = { 0 };
  Gate gate = { 0 };
  g_autoptr(PgeEngine) engine = pge_test_new_engine (1);
  PgeFuture *blocker = gate_close (engine, &gate);

  pge_future_on_done (blocker, NULL, record_call, tagged_new (&rec, 1), record_notify);
  pge_future_unref (blocker);    /* the callback's own reference keeps it */
  gate_open (&gate);
  recorder_wait_notifies (&rec, 1);
  cr_assert_eq (rec.n_calls, 1);
}

/* --------------------------------------------------------------- cancel */

Test (future, cancel_of_a_queued_job_removes_it_unrun)
{
  g_autoptr(PgeEngine) engine = pge_test_new_engine (1);
  g_autoptr(GError) error = NULL;
  g_autoptr(PgeFuture) blocker = NULL;
  g_autoptr(PgeFuture) queued = NULL;
  g_autoptr(PgeResult) result = NULL;
  g_autoptr(PgeResult) count = NULL;
  Gate gate = { 0 };
  PgeStats before, after;

  cr_assert (pge_engine_exec_sync (engine, "CREATE TABLE never (v int)", &error));
  blocker = gate_close (engine, &gate);
  queued = pge_engine_query (engine, "INSERT INTO never VALUES (1)", NULL);
  pge_engine_get_stats (engine, &before);
  cr_assert_eq (before.queue_length, 1);
  pge_future_cancel (queued);
  cr_assert (pge_future_is_done (queued), "a queued job resolves at once");
  result = pge_future_wait (queued, &error);
  cr_assert_null (result);
  pge_assert_error (error, PGE_ERROR, PGE_ERROR_CANCELLED);
  g_clear_error (&error);
  pge_engine_get_stats (engine, &after);
  cr_assert_eq (after.queue_length, 0);
  cr_assert_eq (after.n_failed, before.n_failed + 1);

  gate_open (&gate);
  count = pge_engine_query_sync (engine, "SELECT count(*) FROM never", NULL, &error);
  cr_assert_null (error);
  cr_assert_eq (pge_result_get_int64 (count, 0, 0), 0, "the cancelled INSERT ran");
}

Test (future, cancel_of_a_running_query_stops_it_and_keeps_the_connection)
{
  g_autoptr(PgeEngine) engine = pge_test_new_engine (1);
  g_autofree char *marker = g_strdup_printf ("cancel_running_%s", pge_test_schema ());
  g_autofree char *sql = g_strdup_printf ("SELECT pg_sleep(30) /* %s */", marker);
  g_autoptr(PgeFuture) future = pge_engine_query (engine, sql, NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(PgeResult) result = NULL;
  g_autoptr(PgeResult) next = NULL;
  PgeStats before, after;
  gint64 start;

  cr_assert (wait_until_active (marker, 10), "the query never showed up as active");
  pge_engine_get_stats (engine, &before);
  cr_assert_eq (before.n_busy, 1);
  start = g_get_monotonic_time ();
  pge_future_cancel (future);
  cr_assert (pge_future_wait_timeout (future, 2000), "not cancelled within 2 s");
  cr_assert_lt (g_get_monotonic_time () - start, 2 * G_USEC_PER_SEC);
  result = pge_future_wait (future, &error);
  cr_assert_null (result);
  pge_assert_error (error, PGE_ERROR, PGE_ERROR_CANCELLED);
  cr_assert_str_eq (pge_error_get_sqlstate (error), "57014");
  g_clear_error (&error);

  next = pge_engine_query_sync (engine, "SELECT 'still usable'", NULL, &error);
  cr_assert_null (error, "%s", error ? error->message : "");
  cr_assert_str_eq (pge_result_get_value (next, 0, 0), "still usable");
  pge_engine_get_stats (engine, &after);
  cr_assert_eq (after.n_reconnects, before.n_reconnects, "the connection was replaced");
}

Test (future, cancel_right_after_submit_never_leaves_the_query_running)
{
  /* Cancel races the worker taking the job and sending it: whatever the
   * interleaving, the future must resolve promptly. */
  g_autoptr(PgeEngine) engine = pge_test_new_engine (1);

  for (int i = 0; i < 30; i++)
    {
      g_autoptr(PgeFuture) future = pge_engine_query (engine, "SELECT pg_sleep(20)", NULL);
      g_autoptr(GError) error = NULL;
      g_autoptr(PgeResult) result = NULL;

      if (i % 3 == 1)
        g_usleep (200 * (i % 7));
      pge_future_cancel (future);
      cr_assert (pge_future_wait_timeout (future, 5000), "iteration %d: still running", i);
      result = pge_future_wait (future, &error);
      pge_assert_error (error, PGE_ERROR, PGE_ERROR_CANCELLED);
    }
}

Test (future, cancel_of_a_done_future_does_nothing)
{
  g_autoptr(PgeFuture) future = pge_engine_query (test_engine, "SELECT 'kept'", NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(PgeResult) before = pge_future_wait (future, &error);
  g_autoptr(PgeResult) after = NULL;
  PgeStats stats;

  pge_future_cancel (future);
  pge_future_cancel (future);
  after = pge_future_wait (future, &error);
  cr_assert_null (error);
  cr_assert_eq (after, before);
  cr_assert_str_eq (pge_result_get_value (after, 0, 0), "kept");
  pge_engine_get_stats (test_engine, &stats);
  cr_assert_eq (stats.n_failed, 0);
}

Test (future, cancel_of_a_failed_future_keeps_its_error)
{
  g_autoptr(PgeFuture) future = pge_engine_query (test_engine, "SELECT 1/0", NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(PgeResult) result = NULL;

  cr_assert (pge_future_wait_timeout (future, 10000));
  pge_future_cancel (future);
  result = pge_future_wait (future, &error);
  pge_assert_error (error, PGE_ERROR, PGE_ERROR_QUERY);
}

Test (future, cancel_fires_on_done_callbacks_once)
{
  Recorder rec = { 0 };
  Gate gate = { 0 };
  g_autoptr(PgeEngine) engine = pge_test_new_engine (1);
  g_autoptr(PgeFuture) blocker = gate_close (engine, &gate);
  g_autoptr(PgeFuture) queued = pge_engine_query (engine, "SELECT 1", NULL);

  pge_future_on_done (queued, NULL, record_call, tagged_new (&rec, 1), record_notify);
  pge_future_cancel (queued);
  recorder_wait_notifies (&rec, 1);
  cr_assert_eq (rec.n_calls, 1);
  cr_assert_eq (rec.thread, g_thread_self (), "a queued job fails on the cancelling thread");
  pge_future_cancel (queued);
  gate_open (&gate);
  cr_assert (pge_future_wait_timeout (blocker, 10000));
  cr_assert_eq (recorder_calls (&rec), 1);
}

static PGresult *
sleep_in_worker (PGconn *conn, gpointer data, GError **error)
{
  g_autofree char *sql = g_strdup_printf ("SELECT pg_sleep(30) /* %s */", (const char *) data);

  return PQexec (conn, sql);
}

Test (future, cancel_of_a_running_worker_function_reaches_its_query)
{
  g_autoptr(PgeEngine) engine = pge_test_new_engine (1);
  g_autofree char *marker = g_strdup_printf ("cancel_func_%s", pge_test_schema ());
  g_autoptr(PgeFuture) future = pge_engine_run_in_worker (engine, sleep_in_worker, marker, NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(PgeResult) result = NULL;
  g_autoptr(PgeResult) next = NULL;

  cr_assert (wait_until_active (marker, 10));
  pge_future_cancel (future);
  cr_assert (pge_future_wait_timeout (future, 2000), "not cancelled within 2 s");
  result = pge_future_wait (future, &error);
  cr_assert_null (result);
  pge_assert_error (error, PGE_ERROR, PGE_ERROR_CANCELLED);
  g_clear_error (&error);
  next = pge_engine_query_sync (engine, "SELECT 1", NULL, &error);
  cr_assert_null (error);
}
