/* test-notify.c — LISTEN/NOTIFY: order, payloads, quoted channel names,
 * several listeners, unlisten, the context callbacks run on, a killed
 * LISTEN connection, a GTK-style main loop. The server restart is
 * faults/server_restart_notify_* in test-faults.c (it runs alone).
 *
 * Channels are global to the server and tests run in parallel, so each
 * test's channels carry a unique suffix.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <string.h>
#include <unistd.h>

#include "fixture.h"

TestSuite (notify, .init = pge_test_engine_up, .fini = pge_test_engine_down);

/* ------------------------------------------------------------- helpers */

/* What a listener saw; filled on the listener's context. */
typedef struct {
  GMutex     lock;
  GPtrArray *payloads;   /* of char*; "<missed>" for a missed call */
  guint      n_missed;
  GThread   *thread;     /* where the last call ran */
  gint       pid;
  gboolean   destroyed;
} Seen;

static Seen *
seen_new (void)
{
  Seen *seen = g_new0 (Seen, 1);

  g_mutex_init (&seen->lock);
  seen->payloads = g_ptr_array_new_with_free_func (g_free);
  return seen;
}

static void
seen_free (Seen *seen)
{
  g_ptr_array_unref (seen->payloads);
  g_mutex_clear (&seen->lock);
  g_free (seen);
}

static guint
seen_count (Seen *seen)
{
  guint n;

  g_mutex_lock (&seen->lock);
  n = seen->payloads->len;
  g_mutex_unlock (&seen->lock);
  return n;
}

static void
on_notify (const char *channel, const char *payload, gint pid, gboolean missed, gpointer data)
{
  Seen *seen = data;

  g_mutex_lock (&seen->lock);
  seen->thread = g_thread_self ();
  if (missed)
    {
      cr_assert_null (payload);
      seen->n_missed++;
      g_ptr_array_add (seen->payloads, g_strdup ("<missed>"));
    }
  else
    {
      cr_assert_not_null (payload);
      seen->pid = pid;
      g_ptr_array_add (seen->payloads, g_strdup (payload));
    }
  g_mutex_unlock (&seen->lock);
}

static void
on_destroy (gpointer data)
{
  ((Seen *) data)->destroyed = TRUE;
}

static gboolean
tick (gpointer data)
{
  return G_SOURCE_CONTINUE;
}

/* Runs @context (owned by this thread) until @seen has @n calls, at most
 * 15 s. */
static void
seen_wait (Seen *seen, GMainContext *context, guint n)
{
  gint64 end = g_get_monotonic_time () + 15 * G_USEC_PER_SEC;
  g_autoptr(GSource) ticker = g_timeout_source_new (20);

  g_source_set_callback (ticker, tick, NULL, NULL);
  g_source_attach (ticker, context);
  while (seen_count (seen) < n && g_get_monotonic_time () < end)
    g_main_context_iteration (context, TRUE);
  g_source_destroy (ticker);
  cr_assert_geq (seen_count (seen), n, "got %u calls, want %u", seen_count (seen), n);
}

/* Lets @context run for @ms, for checks that nothing (more) arrives. */
static void
run_for (GMainContext *context, guint ms)
{
  gint64 end = g_get_monotonic_time () + ms * G_TIME_SPAN_MILLISECOND;
  g_autoptr(GSource) ticker = g_timeout_source_new (10);

  g_source_set_callback (ticker, tick, NULL, NULL);
  g_source_attach (ticker, context);
  while (g_get_monotonic_time () < end)
    g_main_context_iteration (context, TRUE);
  g_source_destroy (ticker);
}

static char *
channel_name (const char *prefix)
{
  return g_strdup_printf ("%s_%d_%u", prefix, (int) getpid (), g_random_int ());
}

static guint
listen_ok (PgeEngine *engine, const char *channel, GMainContext *context, Seen *seen)
{
  g_autoptr(GError) error = NULL;
  guint id = pge_engine_listen (engine, channel, context, on_notify, seen, on_destroy, &error);

  cr_assert_null (error, "listen: %s", error ? error->message : "");
  cr_assert_neq (id, 0);
  return id;
}

static void
notify_ok (PgeEngine *engine, const char *channel, const char *payload)
{
  g_autoptr(GError) error = NULL;

  cr_assert (pge_engine_notify_sync (engine, channel, payload, &error), "notify: %s",
             error ? error->message : "");
}

/* ---------------------------------------------------------------- tests */

Test (notify, many_notifications_arrive_in_the_server_order)
{
  g_autofree char *channel = channel_name ("orders");
  g_autoptr(GMainContext) context = g_main_context_new ();
  g_autofree char *sql = g_strdup_printf ("SELECT pg_notify('%s', 'bulk' || g) "
                                          "FROM generate_series(1, 1000) g", channel);
  g_autoptr(PgeResult) result = NULL;
  g_autoptr(GError) error = NULL;
  Seen *seen = seen_new ();

  g_main_context_push_thread_default (context);
  listen_ok (test_engine, channel, context, seen);
  for (int i = 1; i <= 200; i++)
    {
      g_autofree char *payload = g_strdup_printf ("%d", i);

      notify_ok (test_engine, channel, payload);
    }
  /* 1000 in one transaction: delivered at commit, in order. */
  result = pge_engine_query_sync (test_engine, sql, NULL, &error);
  cr_assert_null (error);
  seen_wait (seen, context, 1200);
  for (int i = 0; i < 200; i++)
    {
      g_autofree char *want = g_strdup_printf ("%d", i + 1);

      cr_assert_str_eq (seen->payloads->pdata[i], want);
    }
  for (int i = 0; i < 1000; i++)
    {
      g_autofree char *want = g_strdup_printf ("bulk%d", i + 1);

      cr_assert_str_eq (seen->payloads->pdata[200 + i], want);
    }
  cr_assert_gt (seen->pid, 0, "the sender's PID");
  cr_assert_eq (seen->n_missed, 0);
  g_main_context_pop_thread_default (context);
  pge_engine_close (test_engine);
  cr_assert (seen->destroyed, "close drops the listener");
  seen_free (seen);
}

/* Two channels, one context: the callbacks follow the server's order
 * across channels (a0 b1 a2 b3, not a0 a2 b1 b3), both when they were
 * sent one by one and when they came in one batch (a transaction's,
 * delivered at its commit). */
Test (notify, channels_on_one_context_interleave_in_the_server_order)
{
  g_autofree char *a = channel_name ("order_a");
  g_autofree char *b = channel_name ("order_b");
  g_autoptr(GMainContext) context = g_main_context_new ();
  g_autoptr(GString) script = g_string_new ("BEGIN;");
  g_autoptr(GError) error = NULL;
  Seen *seen = seen_new ();

  listen_ok (test_engine, a, context, seen);
  listen_ok (test_engine, b, context, seen);
  for (int i = 0; i < 40; i++)
    g_string_append_printf (script, " NOTIFY %s, '%d';", i % 2 == 0 ? a : b, i);
  g_string_append (script, " COMMIT;");
  cr_assert (pge_engine_exec_sync (test_engine, script->str, &error), "%s", error ? error->message : "");
  for (int i = 40; i < 60; i++)
    {
      g_autofree char *payload = g_strdup_printf ("%d", i);

      notify_ok (test_engine, i % 2 == 0 ? a : b, payload);
    }
  seen_wait (seen, context, 60);
  for (int i = 0; i < 60; i++)
    {
      g_autofree char *want = g_strdup_printf ("%d", i);

      cr_assert_str_eq (seen->payloads->pdata[i], want, "call %d", i);
    }
  pge_engine_close (test_engine);
  seen_free (seen);
}

Test (notify, payload_with_quotes_and_unicode_arrives_intact)
{
  g_autofree char *channel = channel_name ("payload");
  g_autoptr(GMainContext) context = g_main_context_new ();
  const char *payloads[] = { "it's \"quoted\"; DROP TABLE x; --", "ünïcödé ✓ 🐘", "", "$1 \\n %s" };
  Seen *seen = seen_new ();
  guint id;

  id = listen_ok (test_engine, channel, context, seen);
  for (guint i = 0; i < G_N_ELEMENTS (payloads); i++)
    notify_ok (test_engine, channel, payloads[i]);
  seen_wait (seen, context, G_N_ELEMENTS (payloads));
  for (guint i = 0; i < G_N_ELEMENTS (payloads); i++)
    cr_assert_str_eq (seen->payloads->pdata[i], payloads[i]);
  cr_assert (pge_engine_unlisten (test_engine, id, NULL));
  cr_assert (seen->destroyed);
  seen_free (seen);
}

Test (notify, channel_name_is_a_quoted_identifier)
{
  g_autofree char *suffix = channel_name ("");
  g_autofree char *channel = g_strdup_printf ("Mixed Case\"; DROP TABLE x; --%s", suffix);
  g_autofree char *lower = g_ascii_strdown (channel, -1);
  g_autoptr(GMainContext) context = g_main_context_new ();
  Seen *seen = seen_new ();
  Seen *other = seen_new ();

  listen_ok (test_engine, channel, context, seen);
  listen_ok (test_engine, lower, context, other);
  notify_ok (test_engine, channel, "exact");
  notify_ok (test_engine, lower, "lower");
  seen_wait (seen, context, 1);
  seen_wait (other, context, 1);
  run_for (context, 100);
  cr_assert_eq (seen_count (seen), 1);
  cr_assert_str_eq (seen->payloads->pdata[0], "exact");
  cr_assert_eq (seen_count (other), 1);
  cr_assert_str_eq (other->payloads->pdata[0], "lower");
  pge_engine_close (test_engine);
  seen_free (seen);
  seen_free (other);
}

Test (notify, two_listeners_on_one_channel_both_get_it_until_one_stops)
{
  g_autofree char *channel = channel_name ("two");
  g_autoptr(GMainContext) context = g_main_context_new ();
  g_autoptr(GError) error = NULL;
  Seen *a = seen_new ();
  Seen *b = seen_new ();
  guint id_a = listen_ok (test_engine, channel, context, a);
  guint id_b = listen_ok (test_engine, channel, context, b);

  cr_assert_neq (id_a, id_b);
  notify_ok (test_engine, channel, "both");
  seen_wait (a, context, 1);
  seen_wait (b, context, 1);
  cr_assert (pge_engine_unlisten (test_engine, id_a, &error));
  cr_assert (a->destroyed);
  notify_ok (test_engine, channel, "b only");
  seen_wait (b, context, 2);
  cr_assert_str_eq (b->payloads->pdata[1], "b only");
  cr_assert_eq (seen_count (a), 1);
  /* Twice, or an id that never was: an error, nothing else happens. */
  cr_assert_not (pge_engine_unlisten (test_engine, id_a, &error));
  pge_assert_error (error, PGE_ERROR, PGE_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  cr_assert_not (pge_engine_unlisten (test_engine, 0, &error));
  pge_assert_error (error, PGE_ERROR, PGE_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  cr_assert (pge_engine_unlisten (test_engine, id_b, &error));
  seen_free (a);
  seen_free (b);
}

Test (notify, unlisten_stops_delivery)
{
  g_autofree char *channel = channel_name ("stop");
  g_autofree char *sentinel = channel_name ("sentinel");
  g_autoptr(GMainContext) context = g_main_context_new ();
  g_autoptr(GError) error = NULL;
  Seen *seen = seen_new ();
  Seen *last = seen_new ();
  guint id = listen_ok (test_engine, channel, context, seen);

  notify_ok (test_engine, channel, "one");
  seen_wait (seen, context, 1);
  /* Queued but not yet dispatched when unlisten comes: never called. */
  notify_ok (test_engine, channel, "queued");
  cr_assert (pge_engine_unlisten (test_engine, id, &error));
  notify_ok (test_engine, channel, "after");
  listen_ok (test_engine, sentinel, context, last);
  notify_ok (test_engine, channel, "after listen");
  notify_ok (test_engine, sentinel, "end");
  seen_wait (last, context, 1);
  run_for (context, 100);
  cr_assert_eq (seen_count (seen), 1, "got %u", seen_count (seen));
  cr_assert (seen->destroyed);
  pge_engine_close (test_engine);
  seen_free (seen);
  seen_free (last);
}

/* The context is owned by a thread of the test's: callbacks run there,
 * never on the engine's threads or the sender's. */
typedef struct {
  GMainContext *context;
  GMainLoop    *loop;
  GThread      *thread;
} LoopThread;

static gpointer
loop_thread (gpointer data)
{
  LoopThread *lt = data;

  g_main_context_push_thread_default (lt->context);
  g_main_loop_run (lt->loop);
  g_main_context_pop_thread_default (lt->context);
  return NULL;
}

Test (notify, callback_runs_on_the_given_context)
{
  g_autofree char *channel = channel_name ("ctx");
  LoopThread lt = { 0 };
  Seen *seen = seen_new ();
  Seen *here = seen_new ();
  gint64 end;

  lt.context = g_main_context_new ();
  lt.loop = g_main_loop_new (lt.context, FALSE);
  lt.thread = g_thread_new ("loop", loop_thread, &lt);
  listen_ok (test_engine, channel, lt.context, seen);
  /* NULL: the calling thread's thread-default context (the global one). */
  listen_ok (test_engine, channel, NULL, here);
  notify_ok (test_engine, channel, "x");
  end = g_get_monotonic_time () + 15 * G_USEC_PER_SEC;
  while (seen_count (seen) < 1 && g_get_monotonic_time () < end)
    g_usleep (1000);
  cr_assert_eq (seen_count (seen), 1);
  cr_assert_eq (seen->thread, lt.thread);
  /* Nothing runs on the default context until this thread iterates it. */
  cr_assert_eq (seen_count (here), 0);
  seen_wait (here, NULL, 1);
  cr_assert_eq (here->thread, g_thread_self ());
  pge_engine_close (test_engine);
  g_main_loop_quit (lt.loop);
  g_thread_join (lt.thread);
  g_main_loop_unref (lt.loop);
  g_main_context_unref (lt.context);
  seen_free (seen);
  seen_free (here);
}

Test (notify, bad_input_is_an_error)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *long_name = g_strnfill (64, 'c');
  g_autofree char *filled = NULL;
  const char *bad[] = { NULL, "", long_name, "\xff\xfe" };
  Seen *seen = seen_new ();
  guint id;

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      seen->destroyed = FALSE;
      id = pge_engine_listen (test_engine, bad[i], NULL, on_notify, seen, on_destroy, &error);
      cr_assert_eq (id, 0);
      pge_assert_error (error, PGE_ERROR, PGE_ERROR_INVALID_ARGUMENT);
      cr_assert (seen->destroyed, "destroy runs on a failed listen");
      g_clear_error (&error);
      cr_assert_not (pge_engine_notify_sync (test_engine, bad[i], "x", &error));
      pge_assert_error (error, PGE_ERROR, PGE_ERROR_INVALID_ARGUMENT);
      g_clear_error (&error);
    }
  id = pge_engine_listen (test_engine, "fine", NULL, NULL, NULL, NULL, &error);
  cr_assert_eq (id, 0);
  pge_assert_error (error, PGE_ERROR, PGE_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  /* 63 bytes is the longest name: accepted. */
  filled = g_strdup_printf ("%08x%s", g_random_int (), long_name);
  filled[63] = '\0';
  id = listen_ok (test_engine, filled, NULL, seen);
  cr_assert (pge_engine_unlisten (test_engine, id, &error));
  /* A payload the server refuses (8000 bytes and more). */
  {
    g_autofree char *huge = g_strnfill (9000, 'p');

    cr_assert_not (pge_engine_notify_sync (test_engine, "fine", huge, &error));
    pge_assert_error (error, PGE_ERROR, PGE_ERROR_QUERY);
    g_clear_error (&error);
  }
  /* After close. */
  pge_engine_close (test_engine);
  seen->destroyed = FALSE;
  id = pge_engine_listen (test_engine, "fine", NULL, on_notify, seen, on_destroy, &error);
  cr_assert_eq (id, 0);
  pge_assert_error (error, PGE_ERROR, PGE_ERROR_CLOSED);
  cr_assert (seen->destroyed);
  seen_free (seen);
}

Test (notify, notification_inside_a_transaction_arrives_at_commit)
{
  g_autofree char *channel = channel_name ("tx");
  g_autoptr(GMainContext) context = g_main_context_new ();
  g_autoptr(GError) error = NULL;
  Seen *seen = seen_new ();

  listen_ok (test_engine, channel, context, seen);
  {
    g_autoptr(PgeTransaction) tx = pge_engine_transaction (test_engine, PGE_TRANSACTION_DEFAULT, &error);

    notify_ok (test_engine, channel, "rolled back");
    cr_assert (pge_transaction_rollback (tx, &error));
  }
  {
    g_autoptr(PgeTransaction) tx = pge_engine_transaction (test_engine, PGE_TRANSACTION_DEFAULT, &error);

    notify_ok (test_engine, channel, "committed");
    run_for (context, 50);
    cr_assert_eq (seen_count (seen), 0);
    cr_assert (pge_transaction_commit (tx, &error));
  }
  seen_wait (seen, context, 1);
  run_for (context, 50);
  cr_assert_eq (seen_count (seen), 1);
  cr_assert_str_eq (seen->payloads->pdata[0], "committed");
  pge_engine_close (test_engine);
  seen_free (seen);
}

/* ------------------------------------------------------------- faults */

static PgeEngine *
named_engine (guint n_workers, char **app_name)
{
  g_autofree char *name = g_strdup_printf ("pge_listen_%d_%u", (int) getpid (), g_random_int ());
  g_autofree char *conninfo = g_strdup_printf ("%s application_name=%s", pge_test_schema_conninfo (), name);
  g_autoptr(PgeConfig) config = pge_config_new (conninfo);
  g_autoptr(GError) error = NULL;
  PgeEngine *engine;

  pge_config_set_workers (config, n_workers);
  pge_config_set_acquire_timeout (config, 10000);
  engine = pge_engine_new (config, &error);
  cr_assert_null (error, "%s", error ? error->message : "");
  *app_name = g_steal_pointer (&name);
  return engine;
}

Test (notify, killed_listen_connection_reconnects_and_says_missed)
{
  g_autofree char *app = NULL;
  g_autoptr(PgeEngine) engine = named_engine (2, &app);
  g_autofree char *channel = channel_name ("killed");
  g_autoptr(GMainContext) context = g_main_context_new ();
  g_autofree char *kill = NULL;
  g_autofree char *killed = NULL;
  Seen *seen = seen_new ();

  listen_ok (engine, channel, context, seen);
  notify_ok (engine, channel, "before");
  seen_wait (seen, context, 1);
  kill = g_strdup_printf ("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                          "WHERE application_name = '%s' AND query LIKE 'LISTEN%%'", app);
  killed = pge_test_admin_query (kill);
  cr_assert_str_eq (killed, "1", "the LISTEN connection, and only it");
  /* Missed is said once the connection listens again... */
  seen_wait (seen, context, 2);
  cr_assert_str_eq (seen->payloads->pdata[1], "<missed>");
  cr_assert_eq (seen->n_missed, 1);
  /* ...so what is sent from then on arrives. */
  notify_ok (engine, channel, "after");
  seen_wait (seen, context, 3);
  cr_assert_str_eq (seen->payloads->pdata[2], "after");
  pge_engine_close (engine);
  seen_free (seen);
}

/* ------------------------------------------------------ GTK-app style */

/* What a GTK app does, with no thread code: a view shows a count; a
 * NOTIFY makes it refresh with an async query; all on the main loop. */
typedef struct {
  PgeEngine *engine;
  GMainLoop *loop;
  gint64     shown;       /* what the "view" shows */
  guint      refreshes;
} View;

static void
view_refreshed (GObject *source, GAsyncResult *res, gpointer data)
{
  View *view = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(PgeResult) result = pge_engine_query_finish (view->engine, res, &error);

  cr_assert_null (error, "%s", error ? error->message : "");
  view->shown = pge_result_get_int64 (result, 0, 0);
  view->refreshes++;
  if (view->shown == 3)
    g_main_loop_quit (view->loop);
}

static void
view_on_notify (const char *channel, const char *payload, gint pid, gboolean missed, gpointer data)
{
  View *view = data;

  pge_engine_query_async (view->engine, "SELECT count(*) FROM items", NULL, NULL, view_refreshed, view);
}

static void
inserted (GObject *source, GAsyncResult *res, gpointer data)
{
  View *view = data;
  g_autoptr(PgeResult) result = pge_engine_query_finish (view->engine, res, NULL);

  cr_assert_not_null (result);
}

static gboolean
view_add_items (gpointer data)
{
  View *view = data;
  g_autofree char *sql = NULL;

  /* Three writers, each telling the listeners (in its own statement). */
  for (int i = 0; i < 3; i++)
    pge_engine_query_async (view->engine, "WITH i AS (INSERT INTO items DEFAULT VALUES) "
                                          "SELECT pg_notify('items_changed_' || current_schema(), '')",
                            NULL, NULL, inserted, view);
  return G_SOURCE_REMOVE;
}

static gboolean
view_give_up (gpointer data)
{
  g_main_loop_quit (((View *) data)->loop);
  return G_SOURCE_REMOVE;
}

Test (notify, main_loop_view_refreshes_on_notify)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *channel = g_strdup_printf ("items_changed_%s", pge_test_schema ());
  View view = { .engine = test_engine, .shown = -1 };
  guint id, give_up;

  cr_assert (pge_engine_exec_sync (test_engine, "CREATE TABLE items (id serial)", &error));
  view.loop = g_main_loop_new (NULL, FALSE);
  id = pge_engine_listen (test_engine, channel, NULL, view_on_notify, &view, NULL, &error);
  cr_assert_neq (id, 0, "%s", error ? error->message : "");
  g_idle_add (view_add_items, &view);
  give_up = g_timeout_add_seconds (15, view_give_up, &view);
  g_main_loop_run (view.loop);
  g_source_remove (give_up);
  cr_assert_eq (view.shown, 3, "the view shows %" G_GINT64_FORMAT, view.shown);
  cr_assert_geq (view.refreshes, 1);
  cr_assert (pge_engine_unlisten (test_engine, id, &error));
  g_main_loop_unref (view.loop);
}

/* ------------------------------------------------------------- signal */

static void
on_signal (PgeEngine *engine, const char *channel, const char *payload, gint pid, gboolean missed,
           gpointer data)
{
  on_notify (channel, payload, pid, missed, data);
}

/* pge_engine_listen_signal(): each notification is the "notification"
 * signal in the engine's main context, detailed by its channel; unlisten
 * stops it; the listener does not keep the engine alive. */
Test (notify, listen_signal_emits_the_detailed_notification_signal)
{
  g_autofree char *a = channel_name ("sig_a");
  g_autofree char *b = channel_name ("sig_b");
  g_autofree char *detail = g_strdup_printf ("notification::%s", a);
  g_autoptr(PgeEngine) engine = pge_test_new_engine (1);
  g_autoptr(GError) error = NULL;
  Seen *only_a = seen_new ();
  Seen *all = seen_new ();
  guint id_a, id_b;

  g_signal_connect (engine, detail, G_CALLBACK (on_signal), only_a);
  g_signal_connect (engine, "notification", G_CALLBACK (on_signal), all);
  id_a = pge_engine_listen_signal (engine, a, &error);
  cr_assert_null (error, "%s", error ? error->message : "");
  id_b = pge_engine_listen_signal (engine, b, &error);
  cr_assert_null (error, "%s", error ? error->message : "");
  cr_assert (id_a != 0 && id_b != 0 && id_a != id_b);

  notify_ok (engine, a, "one");
  notify_ok (engine, b, "two");
  notify_ok (engine, a, "three");
  seen_wait (all, NULL, 3);
  seen_wait (only_a, NULL, 2);
  /* In the server's order, across channels too. */
  cr_assert_str_eq (g_ptr_array_index (only_a->payloads, 0), "one");
  cr_assert_str_eq (g_ptr_array_index (only_a->payloads, 1), "three");
  cr_assert_str_eq (g_ptr_array_index (all->payloads, 0), "one");
  cr_assert_str_eq (g_ptr_array_index (all->payloads, 1), "two");
  cr_assert_str_eq (g_ptr_array_index (all->payloads, 2), "three");
  cr_assert_eq (all->thread, g_thread_self (), "emitted in the engine's main context");
  cr_assert_gt (all->pid, 0);

  cr_assert (pge_engine_unlisten (engine, id_a, &error), "%s", error ? error->message : "");
  notify_ok (engine, a, "gone");
  notify_ok (engine, b, "four");
  seen_wait (all, NULL, 4);
  run_for (NULL, 200);
  cr_assert_eq (seen_count (all), 4, "an unlistened channel still emitted");
  cr_assert_str_eq (g_ptr_array_index (all->payloads, 3), "four");
  cr_assert_eq (seen_count (only_a), 2);

  /* Dropped with a listener still on: the engine goes (the weak
   * reference), and closing takes the listener down. */
  g_signal_handlers_disconnect_by_data (engine, only_a);
  g_signal_handlers_disconnect_by_data (engine, all);
  g_clear_object (&engine);
  seen_free (only_a);
  seen_free (all);
}

Test (notify, listen_signal_bad_input_is_an_error)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *long_name = g_strnfill (64, 'x');

  cr_assert_eq (pge_engine_listen_signal (test_engine, NULL, &error), 0);
  pge_assert_error (error, PGE_ERROR, PGE_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  cr_assert_eq (pge_engine_listen_signal (test_engine, "", &error), 0);
  pge_assert_error (error, PGE_ERROR, PGE_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  cr_assert_eq (pge_engine_listen_signal (test_engine, long_name, &error), 0);
  pge_assert_error (error, PGE_ERROR, PGE_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  pge_engine_close (test_engine);
  cr_assert_eq (pge_engine_listen_signal (test_engine, "after_close", &error), 0);
  pge_assert_error (error, PGE_ERROR, PGE_ERROR_CLOSED);
}
