/* test-async.c — the GIO-style `_async` / `_finish` pairs and main-context
 * delivery of future callbacks.
 *
 * Each test runs its own GMainContext, pushed as the thread-default one,
 * so "the callback runs in the caller's context" is checked against a
 * context that only this thread iterates.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "fixture.h"

TestSuite (async, .init = pge_test_engine_up, .fini = pge_test_engine_down);

/* ------------------------------------------------------------- helpers */

typedef struct {
  GMainContext *context;
  GMainLoop    *loop;
  GAsyncResult *result;       /* the last callback's */
  GThread      *thread;       /* where it ran */
  guint         n_calls;
  gboolean      in_call;      /* TRUE while the _async call runs */
  gboolean      reentrant;    /* a callback ran while in_call */
} Waiter;

static void
waiter_init (Waiter *w)
{
  *w = (Waiter) { 0 };
  w->context = g_main_context_new ();
  g_main_context_push_thread_default (w->context);
  w->loop = g_main_loop_new (w->context, FALSE);
}

static void
waiter_clear (Waiter *w)
{
  g_clear_object (&w->result);
  g_main_context_pop_thread_default (w->context);
  /* Let sources already queued (GTask's own idles) be freed. */
  while (g_main_context_iteration (w->context, FALSE))
    ;
  g_clear_pointer (&w->loop, g_main_loop_unref);
  g_clear_pointer (&w->context, g_main_context_unref);
}

static void
waiter_callback (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Waiter *w = user_data;

  /* Every pgengine task's source object is the engine (a new one for
   * pge_engine_new_async()), so a binding's callback can reach it. */
  cr_assert (PGE_IS_ENGINE (source), "the source object is not the engine");
  if (w->in_call)
    w->reentrant = TRUE;
  g_clear_object (&w->result);
  w->result = g_object_ref (result);
  w->thread = g_thread_self ();
  w->n_calls++;
  g_main_loop_quit (w->loop);
}

static gboolean
waiter_timed_out (gpointer user_data)
{
  cr_assert_fail ("no callback within 20 s");
  return G_SOURCE_REMOVE;
}

/* Runs the loop until the callback has run; returns its result (borrowed). */
static GAsyncResult *
waiter_wait (Waiter *w)
{
  GSource *timeout = g_timeout_source_new_seconds (20);

  g_source_set_callback (timeout, waiter_timed_out, NULL, NULL);
  g_source_attach (timeout, w->context);
  while (w->n_calls == 0)
    g_main_loop_run (w->loop);
  g_source_destroy (timeout);
  g_source_unref (timeout);
  cr_assert_eq (w->n_calls, 1, "the callback ran %u times", w->n_calls);
  cr_assert (!w->reentrant, "the callback ran inside the _async call");
  cr_assert_eq (w->thread, g_thread_self (), "the callback ran on another thread");
  return w->result;
}

static gboolean
cancel_later (gpointer user_data)
{
  g_cancellable_cancel (user_data);
  return G_SOURCE_REMOVE;
}

/* Cancels @cancellable from @w's loop after @ms milliseconds. */
static void
schedule_cancel (Waiter *w, GCancellable *cancellable, guint ms)
{
  GSource *source = g_timeout_source_new (ms);

  g_source_set_callback (source, cancel_later, g_object_ref (cancellable), g_object_unref);
  g_source_attach (source, w->context);
  g_source_unref (source);
}

static gint64
count_rows (const char *table)
{
  g_autofree char *sql = g_strdup_printf ("SELECT count(*) FROM %s.%s", pge_test_schema (), table);
  g_autofree char *value = pge_test_admin_query (sql);

  return g_ascii_strtoll (value, NULL, 10);
}

static void
create_table (void)
{
  g_autoptr(GError) error = NULL;

  cr_assert (pge_engine_exec_sync (test_engine, "CREATE TABLE t (id int PRIMARY KEY, v text)", &error),
             "%s", error ? error->message : "");
}

/* ------------------------------------------------------------ engine new */

Test (async, engine_new_async_connects_and_calls_back_in_callers_context)
{
  g_autoptr(PgeConfig) config = pge_test_config (2);
  g_autoptr(PgeEngine) engine = NULL;
  g_autoptr(PgeResult) result = NULL;
  g_autoptr(GError) error = NULL;
  Waiter w;

  waiter_init (&w);
  w.in_call = TRUE;
  pge_engine_new_async (config, NULL, waiter_callback, &w);
  w.in_call = FALSE;
  engine = pge_engine_new_finish (waiter_wait (&w), &error);
  cr_assert_null (error, "%s", error ? error->message : "");
  cr_assert_not_null (engine);
  cr_assert_eq (pge_engine_get_n_workers (engine), 2);
  result = pge_engine_query_sync (engine, "SELECT 41 + 1", NULL, &error);
  cr_assert_null (error);
  cr_assert_eq (pge_result_get_int64 (result, 0, 0), 42);
  waiter_clear (&w);
}

Test (async, engine_new_async_reports_connection_errors)
{
  g_autoptr(PgeConfig) config = pge_config_new ("host=127.0.0.1 port=1 connect_timeout=5");
  g_autoptr(GError) error = NULL;
  PgeEngine *engine;
  Waiter w;

  waiter_init (&w);
  pge_engine_new_async (config, NULL, waiter_callback, &w);
  engine = pge_engine_new_finish (waiter_wait (&w), &error);
  cr_assert_null (engine);
  pge_assert_error (error, PGE_ERROR, PGE_ERROR_CONNECTION);
  waiter_clear (&w);
}

Test (async, engine_new_async_cancelled_before_gives_io_cancelled)
{
  g_autoptr(PgeConfig) config = pge_test_config (1);
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GError) error = NULL;
  PgeEngine *engine;
  Waiter w;

  waiter_init (&w);
  g_cancellable_cancel (cancellable);
  w.in_call = TRUE;
  pge_engine_new_async (config, cancellable, waiter_callback, &w);
  w.in_call = FALSE;
  engine = pge_engine_new_finish (waiter_wait (&w), &error);
  cr_assert_null (engine);
  pge_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  waiter_clear (&w);
}

/* ----------------------------------------------------------- engine query */

Test (async, query_async_calls_back_in_callers_context_never_inside_the_call)
{
  g_autoptr(PgeParams) params = pge_params_new ();
  g_autoptr(PgeResult) result = NULL;
  g_autoptr(GError) error = NULL;
  Waiter w;

  waiter_init (&w);
  pge_params_add_int64 (params, 20);
  w.in_call = TRUE;
  pge_engine_query_async (test_engine, "SELECT $1::int8 * 2", params, NULL, waiter_callback, &w);
  w.in_call = FALSE;
  result = pge_engine_query_finish (test_engine, waiter_wait (&w), &error);
  cr_assert_null (error);
  cr_assert_eq (pge_result_get_int64 (result, 0, 0), 40);
  waiter_clear (&w);
}

Test (async, query_async_reports_server_errors_as_pge_errors)
{
  g_autoptr(GError) error = NULL;
  PgeResult *result;
  Waiter w;

  waiter_init (&w);
  pge_engine_query_async (test_engine, "SELECT * FROM no_such_table", NULL, NULL, waiter_callback, &w);
  result = pge_engine_query_finish (test_engine, waiter_wait (&w), &error);
  cr_assert_null (result);
  pge_assert_error (error, PGE_ERROR, PGE_ERROR_QUERY);
  cr_assert_eq (pge_error_get_class (error), PGE_ERROR_CLASS_UNDEFINED_TABLE);
  cr_assert_str_eq (pge_error_get_sqlstate (error), "42P01");
  waiter_clear (&w);
}

typedef struct {
  GThread *caller;
  GThread *callback_thread;
  gint64   value;
} OtherThread;

static void
other_thread_done (GObject *source, GAsyncResult *res, gpointer user_data)
{
  Waiter *w = user_data;

  w->result = g_object_ref (res);
  w->thread = g_thread_self ();
  w->n_calls++;
  g_main_loop_quit (w->loop);
}

static gpointer
other_thread_main (gpointer data)
{
  OtherThread *ot = data;
  g_autoptr(PgeResult) result = NULL;
  g_autoptr(GError) error = NULL;
  Waiter w;

  ot->caller = g_thread_self ();
  waiter_init (&w);
  pge_engine_query_async (test_engine, "SELECT 7", NULL, NULL, other_thread_done, &w);
  while (w.n_calls == 0)
    g_main_loop_run (w.loop);
  ot->callback_thread = w.thread;
  result = pge_engine_query_finish (test_engine, w.result, &error);
  ot->value = result ? pge_result_get_int64 (result, 0, 0) : -1;
  waiter_clear (&w);
  return NULL;
}

Test (async, query_async_from_another_thread_calls_back_on_that_thread)
{
  OtherThread ot = { 0 };
  GThread *thread = g_thread_new ("caller", other_thread_main, &ot);

  g_thread_join (thread);
  cr_assert_eq (ot.value, 7);
  cr_assert_not_null (ot.caller);
  cr_assert_eq (ot.callback_thread, ot.caller, "the callback ran on another thread");
  cr_assert_neq (ot.callback_thread, g_thread_self ());
}

Test (async, query_async_cancelled_before_never_runs)
{
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GError) error = NULL;
  PgeResult *result;
  Waiter w;

  create_table ();
  waiter_init (&w);
  g_cancellable_cancel (cancellable);
  w.in_call = TRUE;
  pge_engine_query_async (test_engine, "INSERT INTO t VALUES (1, 'x')", NULL, cancellable,
                          waiter_callback, &w);
  w.in_call = FALSE;
  result = pge_engine_query_finish (test_engine, waiter_wait (&w), &error);
  cr_assert_null (result);
  pge_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  cr_assert_eq (count_rows ("t"), 0);
  waiter_clear (&w);
}

Test (async, query_async_cancelled_while_queued_never_runs)
{
  g_autoptr(PgeEngine) engine = pge_test_new_engine (1);
  g_autoptr(PgeFuture) busy = NULL;
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GError) error = NULL;
  g_autoptr(PgeResult) after = NULL;
  PgeResult *result;
  Waiter w;

  create_table ();
  waiter_init (&w);
  /* The only worker is busy: the INSERT waits in the queue. */
  busy = pge_engine_query (engine, "SELECT pg_sleep(1)", NULL);
  /* Submitted together, the worker would pipeline both: let it start. */
  g_usleep (200 * 1000);
  pge_engine_query_async (engine, "INSERT INTO t VALUES (1, 'x')", NULL, cancellable,
                          waiter_callback, &w);
  schedule_cancel (&w, cancellable, 100);
  result = pge_engine_query_finish (engine, waiter_wait (&w), &error);
  cr_assert_null (result);
  pge_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_pointer (&result, pge_result_unref);
  g_clear_error (&error);
  after = pge_future_wait (busy, &error);
  cr_assert_null (error);
  cr_assert_eq (count_rows ("t"), 0, "the cancelled INSERT ran");
  waiter_clear (&w);
}

Test (async, query_async_cancelled_while_running_stops_quickly)
{
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GError) error = NULL;
  g_autoptr(PgeResult) after = NULL;
  PgeResult *result;
  gint64 start;
  Waiter w;

  waiter_init (&w);
  start = g_get_monotonic_time ();
  pge_engine_query_async (test_engine, "SELECT pg_sleep(30)", NULL, cancellable, waiter_callback, &w);
  schedule_cancel (&w, cancellable, 300);
  result = pge_engine_query_finish (test_engine, waiter_wait (&w), &error);
  cr_assert_null (result);
  pge_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  cr_assert_lt (g_get_monotonic_time () - start, 5 * G_TIME_SPAN_SECOND, "the cancel took too long");
  g_clear_error (&error);
  /* Every worker still answers. */
  for (guint i = 0; i < 2 * pge_engine_get_n_workers (test_engine); i++)
    {
      g_clear_pointer (&after, pge_result_unref);
      after = pge_engine_query_sync (test_engine, "SELECT 1", NULL, &error);
      cr_assert_null (error, "%s", error ? error->message : "");
    }
  waiter_clear (&w);
}

Test (async, query_async_completed_before_the_cancel_keeps_its_result)
{
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(PgeResult) result = NULL;
  g_autoptr(GError) error = NULL;
  PgeStats stats;
  guint64 before;
  Waiter w;

  create_table ();
  waiter_init (&w);
  pge_engine_get_stats (test_engine, &stats);
  before = stats.n_completed;
  pge_engine_query_async (test_engine, "INSERT INTO t VALUES (1, 'x')", NULL, cancellable,
                          waiter_callback, &w);
  /* The INSERT is done (its callback waits for this loop): cancel now. */
  do
    {
      g_usleep (10 * 1000);
      pge_engine_get_stats (test_engine, &stats);
    }
  while (stats.n_completed == before);
  g_cancellable_cancel (cancellable);
  result = pge_engine_query_finish (test_engine, waiter_wait (&w), &error);
  cr_assert_null (error, "%s", error ? error->message : "");
  cr_assert_str_eq (pge_result_get_command_tag (result), "INSERT 0 1");
  cr_assert_eq (count_rows ("t"), 1);
  waiter_clear (&w);
}

/* ------------------------------------------------------- future on_done */

typedef struct {
  GThread  *thread;
  guint     n_calls;
  gboolean  in_call;
  gboolean  reentrant;
  gboolean  notified;
} OnDone;

static void
on_done_cb (PgeFuture *future, gpointer user_data)
{
  OnDone *od = user_data;

  if (od->in_call)
    od->reentrant = TRUE;
  od->thread = g_thread_self ();
  od->n_calls++;
}

static void
on_done_notify (gpointer user_data)
{
  ((OnDone *) user_data)->notified = TRUE;
}

Test (async, on_done_with_context_for_done_future_calls_back_later_in_context)
{
  g_autoptr(PgeFuture) future = pge_engine_query (test_engine, "SELECT 1", NULL);
  g_autoptr(GMainContext) context = g_main_context_new ();
  g_autoptr(PgeResult) result = NULL;
  OnDone od = { 0 };

  result = pge_future_wait (future, NULL);
  cr_assert (pge_future_is_done (future));
  od.in_call = TRUE;
  pge_future_on_done (future, context, on_done_cb, &od, on_done_notify);
  od.in_call = FALSE;
  cr_assert_eq (od.n_calls, 0, "called back inside pge_future_on_done()");
  cr_assert (!od.reentrant);
  while (od.n_calls == 0)
    g_main_context_iteration (context, TRUE);
  cr_assert_eq (od.n_calls, 1);
  cr_assert_eq (od.thread, g_thread_self ());
  cr_assert (od.notified);
}

Test (async, on_done_with_context_delivers_worker_completion_on_context_thread)
{
  g_autoptr(PgeFuture) future = pge_engine_query (test_engine, "SELECT pg_sleep(0.2)", NULL);
  g_autoptr(GMainContext) context = g_main_context_new ();
  OnDone od = { 0 };

  pge_future_on_done (future, context, on_done_cb, &od, NULL);
  cr_assert (pge_future_wait_timeout (future, 10000));
  /* Done on a worker, but nothing runs until this thread iterates. */
  g_usleep (50 * 1000);
  cr_assert_eq (od.n_calls, 0);
  while (od.n_calls == 0)
    g_main_context_iteration (context, TRUE);
  cr_assert_eq (od.thread, g_thread_self ());
}

Test (async, on_done_without_context_for_done_future_calls_back_right_away)
{
  g_autoptr(PgeFuture) future = pge_engine_query (test_engine, "SELECT 1", NULL);
  g_autoptr(PgeResult) result = pge_future_wait (future, NULL);
  OnDone od = { 0 };

  pge_future_on_done (future, NULL, on_done_cb, &od, on_done_notify);
  cr_assert_eq (od.n_calls, 1);
  cr_assert_eq (od.thread, g_thread_self ());
  cr_assert (od.notified);
}

/* ------------------------------------------------------------ transactions */

static PgeTransaction *
begin_async (Waiter *w, GCancellable *cancellable, GError **error)
{
  pge_engine_transaction_async (test_engine, PGE_TRANSACTION_DEFAULT, cancellable, waiter_callback, w);
  return pge_engine_transaction_finish (test_engine, waiter_wait (w), error);
}

Test (async, transaction_async_begin_query_commit)
{
  g_autoptr(PgeTransaction) tx = NULL;
  g_autoptr(PgeResult) result = NULL;
  g_autoptr(GError) error = NULL;
  Waiter w;

  create_table ();
  waiter_init (&w);
  tx = begin_async (&w, NULL, &error);
  cr_assert_null (error, "%s", error ? error->message : "");
  cr_assert_not_null (tx);

  w.n_calls = 0;
  w.in_call = TRUE;
  pge_transaction_query_async (tx, "INSERT INTO t VALUES (1, 'one')", NULL, NULL, waiter_callback, &w);
  w.in_call = FALSE;
  result = pge_transaction_query_finish (tx, waiter_wait (&w), &error);
  cr_assert_null (error, "%s", error ? error->message : "");
  cr_assert_str_eq (pge_result_get_command_tag (result), "INSERT 0 1");
  cr_assert_eq (count_rows ("t"), 0, "visible before commit");

  w.n_calls = 0;
  w.in_call = TRUE;
  pge_transaction_commit_async (tx, NULL, waiter_callback, &w);
  w.in_call = FALSE;
  cr_assert (pge_transaction_commit_finish (tx, waiter_wait (&w), &error));
  cr_assert_null (error);
  cr_assert (pge_transaction_is_committed (tx));
  cr_assert_eq (count_rows ("t"), 1);
  waiter_clear (&w);
}

Test (async, transaction_async_is_never_current)
{
  g_autoptr(PgeTransaction) tx = NULL;
  g_autoptr(PgeResult) inside = NULL;
  g_autoptr(PgeResult) outside = NULL;
  g_autoptr(GError) error = NULL;
  Waiter w;

  create_table ();
  waiter_init (&w);
  tx = begin_async (&w, NULL, &error);
  cr_assert_null (error, "%s", error ? error->message : "");
  cr_assert_null (pge_engine_get_current_transaction (test_engine));
  cr_assert (!pge_engine_transaction_exists (test_engine));

  inside = pge_transaction_query_sync (tx, "INSERT INTO t VALUES (1, 'uncommitted')", NULL, &error);
  cr_assert_null (error, "%s", error ? error->message : "");
  /* This thread began it, yet engine-level queries run outside it. */
  outside = pge_engine_query_sync (test_engine, "SELECT count(*) FROM t", NULL, &error);
  cr_assert_null (error, "%s", error ? error->message : "");
  cr_assert_eq (pge_result_get_int64 (outside, 0, 0), 0, "the engine query ran inside the transaction");

  w.n_calls = 0;
  pge_transaction_rollback_async (tx, NULL, waiter_callback, &w);
  cr_assert (pge_transaction_rollback_finish (tx, waiter_wait (&w), &error));
  cr_assert (pge_transaction_is_rolled_back (tx));
  cr_assert_eq (count_rows ("t"), 0);
  waiter_clear (&w);
}

Test (async, transaction_async_does_not_nest_into_the_current_one)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PgeTransaction) current = pge_engine_transaction (test_engine, PGE_TRANSACTION_DEFAULT, &error);
  g_autoptr(PgeTransaction) tx = NULL;
  Waiter w;

  cr_assert_not_null (current);
  waiter_init (&w);
  tx = begin_async (&w, NULL, &error);
  cr_assert_null (error, "%s", error ? error->message : "");
  cr_assert_neq (tx, current);
  cr_assert_eq (pge_engine_get_current_transaction (test_engine), current);
  cr_assert (pge_transaction_rollback (tx, NULL));
  cr_assert (pge_transaction_rollback (current, NULL));
  waiter_clear (&w);
}

Test (async, transaction_async_cancelled_before_gives_io_cancelled)
{
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GError) error = NULL;
  PgeTransaction *tx;
  PgeStats stats;
  Waiter w;

  waiter_init (&w);
  g_cancellable_cancel (cancellable);
  tx = begin_async (&w, cancellable, &error);
  cr_assert_null (tx);
  pge_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  pge_engine_get_stats (test_engine, &stats);
  cr_assert_eq (stats.n_pinned, 0);
  waiter_clear (&w);
}

Test (async, transaction_async_cancelled_while_waiting_for_a_worker)
{
  g_autoptr(PgeEngine) engine = pge_test_new_engine (1);
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GError) error = NULL;
  g_autoptr(PgeTransaction) holder = NULL;
  g_autoptr(PgeResult) after = NULL;
  PgeTransaction *tx;
  gint64 start;
  Waiter w;

  waiter_init (&w);
  /* The only worker is pinned: the begin waits (up to 10 s) for it. */
  holder = pge_engine_transaction (engine, PGE_TRANSACTION_DEFAULT, &error);
  cr_assert_not_null (holder);
  start = g_get_monotonic_time ();
  pge_engine_transaction_async (engine, PGE_TRANSACTION_DEFAULT, cancellable, waiter_callback, &w);
  schedule_cancel (&w, cancellable, 200);
  tx = pge_engine_transaction_finish (engine, waiter_wait (&w), &error);
  cr_assert_null (tx);
  pge_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  cr_assert_lt (g_get_monotonic_time () - start, 5 * G_TIME_SPAN_SECOND);
  g_clear_error (&error);
  cr_assert (pge_transaction_commit (holder, &error));
  after = pge_engine_query_sync (engine, "SELECT 1", NULL, &error);
  cr_assert_null (error, "%s", error ? error->message : "");
  waiter_clear (&w);
}

Test (async, transaction_query_async_cancelled_during_sleep)
{
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GError) error = NULL;
  g_autoptr(PgeTransaction) tx = NULL;
  PgeResult *result;
  gint64 start;
  Waiter w;

  waiter_init (&w);
  tx = begin_async (&w, NULL, &error);
  cr_assert_not_null (tx);
  w.n_calls = 0;
  start = g_get_monotonic_time ();
  pge_transaction_query_async (tx, "SELECT pg_sleep(30)", NULL, cancellable, waiter_callback, &w);
  schedule_cancel (&w, cancellable, 300);
  result = pge_transaction_query_finish (tx, waiter_wait (&w), &error);
  cr_assert_null (result);
  pge_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  cr_assert_lt (g_get_monotonic_time () - start, 5 * G_TIME_SPAN_SECOND);
  g_clear_error (&error);
  /* The cancel aborted the transaction, as in psql; rollback ends it. */
  w.n_calls = 0;
  pge_transaction_rollback_async (tx, NULL, waiter_callback, &w);
  cr_assert (pge_transaction_rollback_finish (tx, waiter_wait (&w), &error),
             "%s", error ? error->message : "");
  waiter_clear (&w);
}

Test (async, transaction_commit_async_cancelled_before_keeps_it_open)
{
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GError) error = NULL;
  g_autoptr(PgeTransaction) tx = NULL;
  Waiter w;

  waiter_init (&w);
  tx = begin_async (&w, NULL, &error);
  cr_assert_not_null (tx);
  g_cancellable_cancel (cancellable);
  w.n_calls = 0;
  pge_transaction_commit_async (tx, cancellable, waiter_callback, &w);
  cr_assert (!pge_transaction_commit_finish (tx, waiter_wait (&w), &error));
  pge_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  cr_assert (!pge_transaction_is_committed (tx));
  cr_assert (!pge_transaction_is_rolled_back (tx));
  g_clear_error (&error);
  w.n_calls = 0;
  pge_transaction_rollback_async (tx, cancellable, waiter_callback, &w);
  cr_assert (!pge_transaction_rollback_finish (tx, waiter_wait (&w), &error));
  pge_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  cr_assert (pge_transaction_rollback (tx, NULL));
  waiter_clear (&w);
}

Test (async, transaction_commit_async_of_aborted_transaction_fails)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PgeTransaction) tx = NULL;
  g_autoptr(PgeResult) bad = NULL;
  Waiter w;

  waiter_init (&w);
  tx = begin_async (&w, NULL, &error);
  cr_assert_not_null (tx);
  bad = pge_transaction_query_sync (tx, "SELECT 1/0", NULL, &error);
  cr_assert_null (bad);
  g_clear_error (&error);
  w.n_calls = 0;
  pge_transaction_commit_async (tx, NULL, waiter_callback, &w);
  cr_assert (!pge_transaction_commit_finish (tx, waiter_wait (&w), &error));
  pge_assert_error (error, PGE_ERROR, PGE_ERROR_TRANSACTION_STATE);
  cr_assert (pge_transaction_is_rolled_back (tx));
  waiter_clear (&w);
}

/* ----------------------------------------------------------------- batch */

Test (async, batch_async_pages_through_then_null)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PgeBatch) batch = NULL;
  guint n_chunks = 0, n_rows = 0;
  gint64 last = 0;
  Waiter w;

  waiter_init (&w);
  pge_engine_batch_async (test_engine, "SELECT g FROM generate_series(1, 250) g", NULL, 100, NULL,
                          waiter_callback, &w);
  batch = pge_engine_batch_finish (test_engine, waiter_wait (&w), &error);
  cr_assert_null (error, "%s", error ? error->message : "");
  cr_assert_not_null (batch);
  for (;;)
    {
      g_autoptr(PgeResult) chunk = NULL;

      w.n_calls = 0;
      w.in_call = TRUE;
      pge_batch_next_async (batch, NULL, waiter_callback, &w);
      w.in_call = FALSE;
      chunk = pge_batch_next_finish (batch, waiter_wait (&w), &error);
      cr_assert_null (error, "%s", error ? error->message : "");
      if (chunk == NULL)
        break;
      n_chunks++;
      for (guint i = 0; i < pge_result_get_n_rows (chunk); i++)
        {
          gint64 g = pge_result_get_int64 (chunk, i, 0);

          cr_assert_eq (g, last + 1, "rows out of order");
          last = g;
          n_rows++;
        }
    }
  cr_assert_eq (n_chunks, 3);
  cr_assert_eq (n_rows, 250);
  cr_assert (pge_batch_close (batch, &error));
  waiter_clear (&w);
}

Test (async, batch_async_bad_sql_fails_at_finish)
{
  g_autoptr(GError) error = NULL;
  PgeBatch *batch;
  Waiter w;

  waiter_init (&w);
  pge_engine_batch_async (test_engine, "SELECT * FROM no_such_table", NULL, 0, NULL, waiter_callback, &w);
  batch = pge_engine_batch_finish (test_engine, waiter_wait (&w), &error);
  cr_assert_null (batch);
  pge_assert_error (error, PGE_ERROR, PGE_ERROR_QUERY);
  cr_assert_eq (pge_error_get_class (error), PGE_ERROR_CLASS_UNDEFINED_TABLE);
  waiter_clear (&w);
}

Test (async, batch_next_async_cancelled_before_gives_io_cancelled)
{
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GError) error = NULL;
  g_autoptr(PgeBatch) batch = pge_engine_batch (test_engine, "SELECT g FROM generate_series(1, 10) g",
                                                NULL, 5, &error);
  g_autoptr(PgeResult) chunk = NULL;
  Waiter w;

  cr_assert_not_null (batch);
  waiter_init (&w);
  g_cancellable_cancel (cancellable);
  pge_batch_next_async (batch, cancellable, waiter_callback, &w);
  chunk = pge_batch_next_finish (batch, waiter_wait (&w), &error);
  cr_assert_null (chunk);
  pge_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&error);
  /* Nothing was taken: the next chunk is the first. */
  g_clear_pointer (&chunk, pge_result_unref);
  chunk = pge_batch_next (batch, &error);
  cr_assert_not_null (chunk);
  cr_assert_eq (pge_result_get_int64 (chunk, 0, 0), 1);
  waiter_clear (&w);
}

Test (async, batch_next_async_cancelled_during_slow_fetch)
{
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GError) error = NULL;
  g_autoptr(PgeBatch) batch = pge_engine_batch (test_engine,
                                                "SELECT g, pg_sleep(30) FROM generate_series(1, 3) g",
                                                NULL, 1, &error);
  g_autoptr(PgeResult) after = NULL;
  PgeResult *chunk;
  gint64 start;
  Waiter w;

  cr_assert_not_null (batch, "%s", error ? error->message : "");
  waiter_init (&w);
  start = g_get_monotonic_time ();
  pge_batch_next_async (batch, cancellable, waiter_callback, &w);
  schedule_cancel (&w, cancellable, 300);
  chunk = pge_batch_next_finish (batch, waiter_wait (&w), &error);
  cr_assert_null (chunk);
  pge_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  cr_assert_lt (g_get_monotonic_time () - start, 5 * G_TIME_SPAN_SECOND);
  g_clear_error (&error);
  g_clear_pointer (&batch, pge_batch_unref);
  after = pge_engine_query_sync (test_engine, "SELECT 1", NULL, &error);
  cr_assert_null (error, "%s", error ? error->message : "");
  waiter_clear (&w);
}

/* ---------------------------------------------------------------- atomic */

Test (async, atomic_run_async_commits_all)
{
  g_autoptr(PgeAtomic) atomic = pge_engine_atomic (test_engine);
  g_autoptr(GError) error = NULL;
  Waiter w;

  create_table ();
  pge_atomic_add (atomic, "INSERT INTO t VALUES (1, 'a')", NULL);
  pge_atomic_add (atomic, "INSERT INTO t VALUES (2, 'b')", NULL);
  waiter_init (&w);
  w.in_call = TRUE;
  pge_atomic_run_async (atomic, NULL, waiter_callback, &w);
  w.in_call = FALSE;
  cr_assert (pge_atomic_run_finish (atomic, waiter_wait (&w), &error), "%s", error ? error->message : "");
  cr_assert_eq (count_rows ("t"), 2);
  waiter_clear (&w);
}

Test (async, atomic_run_async_failure_commits_nothing)
{
  g_autoptr(PgeAtomic) atomic = pge_engine_atomic (test_engine);
  g_autoptr(GError) error = NULL;
  Waiter w;

  create_table ();
  pge_atomic_add (atomic, "INSERT INTO t VALUES (1, 'a')", NULL);
  pge_atomic_add (atomic, "INSERT INTO t VALUES (1, 'duplicate')", NULL);
  waiter_init (&w);
  pge_atomic_run_async (atomic, NULL, waiter_callback, &w);
  cr_assert (!pge_atomic_run_finish (atomic, waiter_wait (&w), &error));
  pge_assert_error (error, PGE_ERROR, PGE_ERROR_QUERY);
  cr_assert_eq (pge_error_get_class (error), PGE_ERROR_CLASS_UNIQUE_VIOLATION);
  cr_assert_eq (count_rows ("t"), 0);
  waiter_clear (&w);
}

Test (async, atomic_run_async_cancelled_before_runs_nothing)
{
  g_autoptr(PgeAtomic) atomic = pge_engine_atomic (test_engine);
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GError) error = NULL;
  Waiter w;

  create_table ();
  pge_atomic_add (atomic, "INSERT INTO t VALUES (1, 'a')", NULL);
  waiter_init (&w);
  g_cancellable_cancel (cancellable);
  pge_atomic_run_async (atomic, cancellable, waiter_callback, &w);
  cr_assert (!pge_atomic_run_finish (atomic, waiter_wait (&w), &error));
  pge_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  cr_assert_eq (count_rows ("t"), 0);
  waiter_clear (&w);
}

Test (async, atomic_run_async_cancelled_while_running_commits_nothing)
{
  g_autoptr(PgeAtomic) atomic = pge_engine_atomic (test_engine);
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GError) error = NULL;
  gint64 start;
  Waiter w;

  create_table ();
  pge_atomic_add (atomic, "INSERT INTO t VALUES (1, 'a')", NULL);
  pge_atomic_add (atomic, "SELECT pg_sleep(30)", NULL);
  waiter_init (&w);
  start = g_get_monotonic_time ();
  pge_atomic_run_async (atomic, cancellable, waiter_callback, &w);
  schedule_cancel (&w, cancellable, 300);
  cr_assert (!pge_atomic_run_finish (atomic, waiter_wait (&w), &error));
  pge_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  cr_assert_lt (g_get_monotonic_time () - start, 5 * G_TIME_SPAN_SECOND);
  cr_assert_eq (count_rows ("t"), 0);
  waiter_clear (&w);
}
