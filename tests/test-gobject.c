/* test-gobject.c — PgeEngine as a GObject (GInitable, GAsyncInitable,
 * properties, signals in the engine's main context), and `_async` calls
 * that never park a thread: 64 concurrent transactions on one worker.
 *
 * Each test runs its own GMainContext, pushed as the thread-default one
 * before the engine under test is made, so that context is the engine's
 * main context.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "fixture.h"

TestSuite (gobject, .init = pge_test_engine_up, .fini = pge_test_engine_down);

static GMainContext *
push_context (void)
{
  GMainContext *context = g_main_context_new ();

  g_main_context_push_thread_default (context);
  return context;
}

static void
pop_context (GMainContext *context)
{
  g_main_context_pop_thread_default (context);
  while (g_main_context_iteration (context, FALSE))
    ;
  g_main_context_unref (context);
}

/* Iterates @context until *@flag is set, at most @seconds. */
static gboolean
iterate_until (GMainContext *context, const gboolean *flag, guint seconds)
{
  gint64 until = g_get_monotonic_time () + seconds * G_TIME_SPAN_SECOND;

  while (!*flag && g_get_monotonic_time () < until)
    {
      if (!g_main_context_iteration (context, FALSE))
        g_usleep (1000);
    }
  return *flag;
}

static guint
count_threads (void)
{
  g_autoptr(GDir) dir = g_dir_open ("/proc/self/task", 0, NULL);
  guint n = 0;

  cr_assert_not_null (dir);
  while (g_dir_read_name (dir) != NULL)
    n++;
  return n;
}

/* -------------------------------------------------------------- object */

Test (gobject, engine_is_an_initable_gobject_with_read_only_properties)
{
  g_autoptr(PgeConfig) config = pge_test_config (2);
  g_autoptr(GError) error = NULL;
  g_autoptr(PgeEngine) engine = g_initable_new (PGE_TYPE_ENGINE, NULL, &error, "config", config, NULL);
  GParamSpec *pspec;
  int server_version = -1;
  guint n_workers = 0;
  gboolean closed = TRUE;

  cr_assert_not_null (engine, "%s", error ? error->message : "");
  cr_assert (G_IS_OBJECT (engine));
  g_object_get (engine, "server-version", &server_version, "n-workers", &n_workers,
                "closed", &closed, NULL);
  cr_assert_geq (server_version, 140000);
  cr_assert_eq (server_version, pge_engine_get_server_version (engine));
  cr_assert_eq (n_workers, 2);
  cr_assert (!closed);
  /* What users inspect cannot be set; the config only at construction. */
  pspec = g_object_class_find_property (G_OBJECT_GET_CLASS (engine), "n-workers");
  cr_assert_not_null (pspec);
  cr_assert_eq (pspec->flags & G_PARAM_WRITABLE, 0);
  pspec = g_object_class_find_property (G_OBJECT_GET_CLASS (engine), "config");
  cr_assert (pspec->flags & G_PARAM_CONSTRUCT_ONLY);
  /* A repeated init returns what the first one did. */
  cr_assert (g_initable_init (G_INITABLE (engine), NULL, &error));
  pge_engine_close (engine);
  g_object_get (engine, "closed", &closed, NULL);
  cr_assert (closed);
}

Test (gobject, initable_new_without_config_or_with_bad_config_fails_cleanly)
{
  g_autoptr(PgeConfig) bad = pge_config_new ("host=127.0.0.1 port=1 connect_timeout=5");
  g_autoptr(GError) error = NULL;
  PgeEngine *engine;

  engine = g_initable_new (PGE_TYPE_ENGINE, NULL, &error, NULL);
  cr_assert_null (engine);
  pge_assert_error (error, PGE_ERROR, PGE_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  engine = pge_engine_new (NULL, &error);
  cr_assert_null (engine);
  pge_assert_error (error, PGE_ERROR, PGE_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  engine = g_initable_new (PGE_TYPE_ENGINE, NULL, &error, "config", bad, NULL);
  cr_assert_null (engine);
  pge_assert_error (error, PGE_ERROR, PGE_ERROR_CONNECTION);
}

/* A binding may make the object and never initialize it: every call then
 * fails as on a closed engine, nothing crashes. */
Test (gobject, uninitialized_engine_refuses_work)
{
  g_autoptr(PgeConfig) config = pge_test_config (1);
  g_autoptr(PgeEngine) engine = g_object_new (PGE_TYPE_ENGINE, "config", config, NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(PgeResult) result = NULL;
  g_autoptr(PgeTransaction) tx = NULL;

  result = pge_engine_query_sync (engine, "SELECT 1", NULL, &error);
  cr_assert_null (result);
  pge_assert_error (error, PGE_ERROR, PGE_ERROR_CLOSED);
  g_clear_error (&error);
  tx = pge_engine_transaction (engine, PGE_TRANSACTION_DEFAULT, &error);
  cr_assert_null (tx);
  pge_assert_error (error, PGE_ERROR, PGE_ERROR_CLOSED);
  cr_assert_eq (pge_engine_get_n_workers (engine), 0);
  cr_assert_eq (pge_engine_get_server_version (engine), 0);
}

static void
on_notify (GObject *object, GParamSpec *pspec, gpointer user_data)
{
  gboolean *notified = user_data;

  *notified = TRUE;
}

Test (gobject, closed_is_notified_in_the_engines_context)
{
  GMainContext *context = push_context ();
  g_autoptr(PgeEngine) engine = pge_test_new_engine (1);
  gboolean notified = FALSE;

  g_signal_connect (engine, "notify::closed", G_CALLBACK (on_notify), &notified);
  pge_engine_close (engine);
  cr_assert (!notified, "notified inside pge_engine_close()");
  cr_assert (iterate_until (context, &notified, 10));
  pge_engine_close (engine);
  pop_context (context);
}

typedef struct {
  GThread *thread;
  char    *lost;
  char    *restored;
  gboolean both;
} Links;

static void
on_lost (PgeEngine *engine, const char *node, gpointer user_data)
{
  Links *links = user_data;

  links->thread = g_thread_self ();
  if (links->lost == NULL)
    links->lost = g_strdup (node);
}

static void
on_restored (PgeEngine *engine, const char *node, gpointer user_data)
{
  Links *links = user_data;

  links->thread = g_thread_self ();
  if (links->restored == NULL)
    links->restored = g_strdup (node);
  links->both = links->lost != NULL;
}

Test (gobject, connection_lost_and_restored_are_signalled_in_the_engines_context)
{
  GMainContext *context = push_context ();
  g_autoptr(PgeEngine) engine = pge_test_new_engine (1);
  g_autoptr(PgeResult) pid = NULL;
  g_autoptr(PgeResult) after = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *kill = NULL;
  g_autofree char *killed = NULL;
  Links links = { 0 };

  g_signal_connect (engine, "connection-lost", G_CALLBACK (on_lost), &links);
  g_signal_connect (engine, "connection-restored", G_CALLBACK (on_restored), &links);
  pid = pge_engine_query_sync (engine, "SELECT pg_backend_pid()", NULL, &error);
  cr_assert_not_null (pid, "%s", error ? error->message : "");
  kill = g_strdup_printf ("SELECT pg_terminate_backend(%s)", pge_result_get_value (pid, 0, 0));
  killed = pge_test_admin_query (kill);
  cr_assert_str_eq (killed, "t");
  /* The worker finds out when it next uses the connection. */
  for (guint i = 0; i < 50 && after == NULL; i++)
    {
      g_clear_error (&error);
      after = pge_engine_query_sync (engine, "SELECT 1", NULL, &error);
    }
  cr_assert_not_null (after, "%s", error ? error->message : "");
  cr_assert_null (links.lost, "emitted before the context was iterated");
  cr_assert (iterate_until (context, &links.both, 10), "lost: %s, restored: %s",
             links.lost ? links.lost : "no", links.restored ? links.restored : "no");
  cr_assert_str_eq (links.lost, "primary");
  cr_assert_str_eq (links.restored, "primary");
  cr_assert_eq (links.thread, g_thread_self ());
  g_free (links.lost);
  g_free (links.restored);
  g_clear_object (&engine);
  pop_context (context);
}

/* ---------------------------------------------------- async, no threads */

/* 64 transaction_async + commit_async on a 1-worker engine: each begin is
 * a queued lease request, so they are served one after another by the
 * worker; nothing blocks a thread of GIO's pool (the issue measured 26.7 s
 * and 63 extra threads when they did). */

#define N_TX 64

typedef struct {
  PgeEngine *engine;
  guint      n_begun;
  guint      n_committed;
  guint      n_failed;
  char      *first_error;
  guint      ticks;
  gint64     last_tick;
  gint64     max_gap;
  guint      max_threads;
  gboolean   done;
} Many;

static void
many_fail (Many *m, GError *error)
{
  m->n_failed++;
  if (m->first_error == NULL)
    m->first_error = g_strdup (error->message);
  g_error_free (error);
}

static void
many_check_done (Many *m)
{
  m->done = m->n_committed + m->n_failed == N_TX;
}

static void
many_committed (GObject *source, GAsyncResult *res, gpointer user_data)
{
  g_autoptr(PgeTransaction) tx = user_data;
  Many *m = g_object_get_data (source, "many");
  GError *error = NULL;

  cr_assert_eq (source, G_OBJECT (m->engine));
  if (pge_transaction_commit_finish (tx, res, &error))
    m->n_committed++;
  else
    many_fail (m, error);
  many_check_done (m);
}

static void
many_begun (GObject *source, GAsyncResult *res, gpointer user_data)
{
  Many *m = user_data;
  GError *error = NULL;
  PgeTransaction *tx = pge_engine_transaction_finish (PGE_ENGINE (source), res, &error);

  if (tx == NULL)
    {
      many_fail (m, error);
      many_check_done (m);
      return;
    }
  m->n_begun++;
  /* The callback owns @tx until the commit is done. */
  pge_transaction_commit_async (tx, NULL, many_committed, tx);
}

static gboolean
many_tick (gpointer user_data)
{
  Many *m = user_data;
  gint64 now = g_get_monotonic_time ();

  m->ticks++;
  m->max_gap = MAX (m->max_gap, now - m->last_tick);
  m->last_tick = now;
  m->max_threads = MAX (m->max_threads, count_threads ());
  return G_SOURCE_CONTINUE;
}

Test (gobject, many_transactions_async_on_one_worker_use_no_helper_thread)
{
  GMainContext *context = push_context ();
  g_autoptr(PgeEngine) engine = pge_test_new_engine (1);
  GSource *tick = g_timeout_source_new (5);
  Many m = { 0 };
  guint before;
  gint64 start;
  gint64 elapsed;

  m.engine = engine;
  g_object_set_data (G_OBJECT (engine), "many", &m);
  before = count_threads ();
  m.max_threads = before;
  g_source_set_callback (tick, many_tick, &m, NULL);
  g_source_attach (tick, context);

  start = m.last_tick = g_get_monotonic_time ();
  for (guint i = 0; i < N_TX; i++)
    pge_engine_transaction_async (engine, PGE_TRANSACTION_DEFAULT, NULL, many_begun, &m);
  m.max_threads = MAX (m.max_threads, count_threads ());
  cr_assert (iterate_until (context, &m.done, 20), "%u of %u committed", m.n_committed, N_TX);
  elapsed = g_get_monotonic_time () - start;
  many_tick (&m);

  cr_assert_eq (m.n_failed, 0, "%u failed, first: %s", m.n_failed, m.first_error);
  cr_assert_eq (m.n_begun, N_TX);
  cr_assert_eq (m.n_committed, N_TX);
  cr_assert_lt (elapsed, G_TIME_SPAN_SECOND, "64 transactions took %" G_GINT64_FORMAT " ms",
                elapsed / 1000);
  /* The loop kept running its other sources all along. */
  cr_assert_gt (m.ticks, 1);
  cr_assert_lt (m.max_gap, 250 * G_TIME_SPAN_MILLISECOND, "the loop stalled for %" G_GINT64_FORMAT " ms",
                m.max_gap / 1000);
  cr_assert_leq (m.max_threads, before + 2, "threads grew from %u to %u", before, m.max_threads);
  cr_log_info ("64 transactions in %" G_GINT64_FORMAT " ms, longest loop gap %" G_GINT64_FORMAT
               " ms, threads %u -> %u", elapsed / 1000, m.max_gap / 1000, before, m.max_threads);

  g_source_destroy (tick);
  g_source_unref (tick);
  g_clear_object (&engine);
  pop_context (context);
}

/* ------------------------------------------------------------ bad input */

static void
store_result (GObject *source, GAsyncResult *res, gpointer user_data)
{
  GAsyncResult **out = user_data;

  cr_assert (PGE_IS_ENGINE (source));
  *out = g_object_ref (res);
}

Test (gobject, async_bad_input_is_an_error_in_the_callback)
{
  GMainContext *context = push_context ();
  g_autoptr(PgeEngine) closed = pge_test_new_engine (1);
  g_autoptr(GAsyncResult) res = NULL;
  g_autoptr(GError) error = NULL;
  PgeTransaction *tx;
  PgeBatch *batch;

  pge_engine_transaction_async (test_engine, PGE_TRANSACTION_REPEATABLE_READ | PGE_TRANSACTION_SERIALIZABLE,
                                NULL, store_result, &res);
  cr_assert_null (res, "called back inside the call");
  while (res == NULL)
    g_main_context_iteration (context, TRUE);
  tx = pge_engine_transaction_finish (test_engine, res, &error);
  cr_assert_null (tx);
  pge_assert_error (error, PGE_ERROR, PGE_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  g_clear_object (&res);

  pge_engine_batch_async (test_engine, NULL, NULL, 10, NULL, store_result, &res);
  while (res == NULL)
    g_main_context_iteration (context, TRUE);
  batch = pge_engine_batch_finish (test_engine, res, &error);
  cr_assert_null (batch);
  pge_assert_error (error, PGE_ERROR, PGE_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  g_clear_object (&res);

  pge_engine_close (closed);
  pge_engine_transaction_async (closed, PGE_TRANSACTION_DEFAULT, NULL, store_result, &res);
  while (res == NULL)
    g_main_context_iteration (context, TRUE);
  tx = pge_engine_transaction_finish (closed, res, &error);
  cr_assert_null (tx);
  pge_assert_error (error, PGE_ERROR, PGE_ERROR_CLOSED);
  g_clear_object (&res);
  pop_context (context);
}

/* pge_engine_batch_async() is two queued jobs too: it waits for the only
 * worker like a transaction does, without a thread. */
Test (gobject, batch_async_waits_for_a_pinned_worker_without_a_thread)
{
  GMainContext *context = push_context ();
  g_autoptr(PgeEngine) engine = pge_test_new_engine (1);
  g_autoptr(GAsyncResult) res = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(PgeTransaction) holder = NULL;
  g_autoptr(PgeBatch) batch = NULL;
  g_autoptr(PgeResult) rows = NULL;
  guint before;

  holder = pge_engine_transaction (engine, PGE_TRANSACTION_DEFAULT, &error);
  cr_assert_not_null (holder);
  before = count_threads ();
  pge_engine_batch_async (engine, "SELECT generate_series(1, 5)", NULL, 2, NULL, store_result, &res);
  for (guint i = 0; i < 20; i++)
    g_main_context_iteration (context, FALSE);
  cr_assert_null (res, "the batch did not wait for the pinned worker");
  cr_assert_leq (count_threads (), before + 2);
  cr_assert (pge_transaction_commit (holder, &error), "%s", error ? error->message : "");
  while (res == NULL)
    g_main_context_iteration (context, TRUE);
  batch = pge_engine_batch_finish (engine, res, &error);
  cr_assert_not_null (batch, "%s", error ? error->message : "");
  rows = pge_batch_next (batch, &error);
  cr_assert_eq (pge_result_get_n_rows (rows), 2);
  cr_assert (pge_batch_close (batch, &error));
  g_clear_pointer (&batch, pge_batch_unref);
  g_clear_object (&engine);
  pop_context (context);
}

/* Object arguments are checked with their type, not only for NULL: an
 * object that is not an engine is refused with a critical, and nothing
 * reads it as one. */
Test (gobject, an_object_that_is_not_an_engine_is_refused)
{
  g_autoptr(GObject) other = g_object_new (G_TYPE_OBJECT, NULL);
  PgeEngine *not_engine = (PgeEngine *) other;
  g_autoptr(GError) error = NULL;

  cr_assert_null (pge_engine_query_sync (not_engine, "SELECT 1", NULL, &error));
  cr_assert_null (error);
  cr_assert_null (pge_engine_query (not_engine, "SELECT 1", NULL));
  cr_assert_null (pge_engine_transaction (not_engine, PGE_TRANSACTION_DEFAULT, &error));
  cr_assert_null (error);
  cr_assert_null (pge_engine_session (not_engine, &error));
  cr_assert_null (error);
}
