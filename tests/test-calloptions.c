/* test-calloptions.c — PgeCallOptions: a call's own acquire and statement
 * timeouts (engine/calloptions.c), and the janitor that honours
 * deadlines that are not in queue order.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <string.h>

#include "fixture.h"

TestSuite (calloptions, .init = pge_test_engine_up, .fini = pge_test_engine_down);

static PgeEngine *
engine_with (guint acquire_ms, guint statement_ms)
{
  g_autoptr(PgeConfig) config = pge_test_config (1);
  g_autoptr(GError) error = NULL;
  PgeEngine *engine;

  pge_config_set_acquire_timeout (config, acquire_ms);
  pge_config_set_statement_timeout (config, statement_ms);
  engine = pge_engine_new (config, &error);
  cr_assert_null (error, "%s", error ? error->message : "");
  return engine;
}

static PgeCallOptions *
options_with (gint acquire_ms, gint statement_ms)
{
  PgeCallOptions *options = pge_call_options_new ();

  if (acquire_ms >= 0)
    pge_call_options_set_acquire_timeout (options, (guint) acquire_ms);
  if (statement_ms >= 0)
    pge_call_options_set_statement_timeout (options, (guint) statement_ms);
  return options;
}

static char *
show (PgeEngine *engine, const char *setting)
{
  g_autofree char *sql = g_strdup_printf ("SELECT current_setting('%s')", setting);
  g_autoptr(GError) error = NULL;
  g_autoptr(PgeResult) result = pge_engine_query_sync (engine, sql, NULL, &error);

  cr_assert_null (error, "%s", error ? error->message : "");
  return g_strdup (pge_result_get_value (result, 0, 0));
}

Test (calloptions, new_options_change_nothing)
{
  g_autoptr(PgeCallOptions) options = pge_call_options_new ();
  g_autoptr(PgeResult) result = NULL;
  g_autoptr(GError) error = NULL;

  cr_assert_eq (pge_call_options_get_acquire_timeout (options), -1);
  cr_assert_eq (pge_call_options_get_statement_timeout (options), -1);
  pge_call_options_set_acquire_timeout (options, 0);
  pge_call_options_set_statement_timeout (options, 250);
  cr_assert_eq (pge_call_options_get_acquire_timeout (options), 0);
  cr_assert_eq (pge_call_options_get_statement_timeout (options), 250);
  cr_assert (G_TYPE_IS_BOXED (pge_call_options_get_type ()));
  result = pge_engine_query_with_options_sync (test_engine, "SELECT 41 + 1", NULL, NULL, &error);
  cr_assert_null (error);
  cr_assert_eq (pge_result_get_int64 (result, 0, 0), 42);
}

Test (calloptions, null_sql_is_invalid_argument)
{
  g_autoptr(PgeCallOptions) options = pge_call_options_new ();
  g_autoptr(PgeFuture) future = pge_engine_query_with_options (test_engine, NULL, NULL, options);
  g_autoptr(PgeResult) result = NULL;
  g_autoptr(GError) error = NULL;

  result = pge_future_wait (future, &error);
  pge_assert_error (error, PGE_ERROR, PGE_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  result = pge_engine_query_with_options_sync (test_engine, NULL, NULL, options, &error);
  pge_assert_error (error, PGE_ERROR, PGE_ERROR_INVALID_ARGUMENT);
}

Test (calloptions, own_acquire_timeout_fails_sooner_than_the_engines)
{
  g_autoptr(PgeEngine) engine = engine_with (30000, 0);
  g_autoptr(PgeCallOptions) options = options_with (200, -1);
  g_autoptr(PgeFuture) held = NULL;
  g_autoptr(PgeResult) result = NULL;
  g_autoptr(GError) error = NULL;
  Gate gate = { 0 };

  held = gate_close (engine, &gate);
  result = pge_engine_query_with_options_sync (engine, "SELECT 1", NULL, options, &error);
  pge_assert_error (error, PGE_ERROR, PGE_ERROR_TIMEOUT);
  cr_assert (strstr (error->message, "200 ms") != NULL, "%s", error->message);
  gate_open (&gate);
  g_clear_pointer (&result, pge_result_unref);
  result = pge_future_wait (held, NULL);
}

/* The janitor fix: a short deadline queued behind long ones expires on
 * time, and the others keep their turn. */
Test (calloptions, short_deadline_behind_long_ones_expires_and_fifo_order_holds)
{
  g_autoptr(PgeEngine) engine = engine_with (30000, 0);
  g_autoptr(PgeCallOptions) quick = options_with (200, -1);
  g_autoptr(PgeFuture) held = NULL;
  g_autoptr(PgeFuture) first = NULL;
  g_autoptr(PgeFuture) hasty = NULL;
  g_autoptr(PgeFuture) last = NULL;
  g_autoptr(PgeResult) first_result = NULL;
  g_autoptr(PgeResult) last_result = NULL;
  g_autoptr(PgeResult) result = NULL;
  g_autoptr(GError) error = NULL;
  Gate gate = { 0 };
  gint64 start;

  held = gate_close (engine, &gate);
  first = pge_engine_query (engine, "SELECT clock_timestamp()::text", NULL);
  start = g_get_monotonic_time ();
  hasty = pge_engine_query_with_options (engine, "SELECT 2", NULL, quick);
  last = pge_engine_query (engine, "SELECT clock_timestamp()::text", NULL);
  result = pge_future_wait (hasty, &error);
  pge_assert_error (error, PGE_ERROR, PGE_ERROR_TIMEOUT);
  /* Not the 30 s of the jobs ahead of it (generous bound: no speed claim). */
  cr_assert_lt (g_get_monotonic_time () - start, 15 * G_USEC_PER_SEC);
  cr_assert_not (pge_future_is_done (first));
  cr_assert_not (pge_future_is_done (last));
  gate_open (&gate);
  g_clear_error (&error);
  first_result = pge_future_wait (first, &error);
  cr_assert_null (error);
  last_result = pge_future_wait (last, &error);
  cr_assert_null (error);
  cr_assert_lt (strcmp (pge_result_get_value (first_result, 0, 0), pge_result_get_value (last_result, 0, 0)), 0,
                "served out of order");
  g_clear_pointer (&result, pge_result_unref);
  result = pge_future_wait (held, NULL);
}

Test (calloptions, own_acquire_timeout_can_be_longer_than_the_engines)
{
  g_autoptr(PgeEngine) engine = engine_with (200, 0);
  g_autoptr(PgeCallOptions) patient = options_with (20000, -1);
  g_autoptr(PgeFuture) held = NULL;
  g_autoptr(PgeFuture) future = NULL;
  g_autoptr(PgeFuture) plain = NULL;
  g_autoptr(PgeResult) result = NULL;
  g_autoptr(GError) error = NULL;
  Gate gate = { 0 };

  held = gate_close (engine, &gate);
  future = pge_engine_query_with_options (engine, "SELECT 7", NULL, patient);
  plain = pge_engine_query (engine, "SELECT 8", NULL);
  result = pge_future_wait (plain, &error);
  pge_assert_error (error, PGE_ERROR, PGE_ERROR_TIMEOUT);
  g_clear_error (&error);
  /* Well past the engine's 200 ms. */
  g_usleep (600 * 1000);
  cr_assert_not (pge_future_is_done (future));
  gate_open (&gate);
  g_clear_pointer (&result, pge_result_unref);
  result = pge_future_wait (future, &error);
  cr_assert_null (error, "%s", error ? error->message : "");
  cr_assert_eq (pge_result_get_int64 (result, 0, 0), 7);
  g_clear_pointer (&result, pge_result_unref);
  result = pge_future_wait (held, NULL);
}

Test (calloptions, own_statement_timeout_stops_the_statement_and_is_restored)
{
  g_autoptr(PgeEngine) engine = engine_with (10000, 0);
  g_autoptr(PgeCallOptions) options = options_with (-1, 200);
  g_autoptr(PgeResult) result = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *after = NULL;

  result = pge_engine_query_with_options_sync (engine, "SELECT pg_sleep(5)", NULL, options, &error);
  pge_assert_error (error, PGE_ERROR, PGE_ERROR_TIMEOUT);
  /* The one connection is usable, with the engine's setting back. */
  after = show (engine, "statement_timeout");
  cr_assert_str_eq (after, "0");
}

/* A queued call with its own statement timeout behind a plain query of
 * the same (fast) statement: the worker pipelines what may join its
 * pipeline, and the timed call must not be taken for a plain query and
 * run there without its timeout. */
Test (calloptions, own_statement_timeout_holds_when_queued_behind_plain_queries)
{
  g_autoptr(PgeEngine) engine = engine_with (10000, 0);
  g_autoptr(PgeCallOptions) options = options_with (-1, 200);
  g_autoptr(PgeFuture) held = NULL;
  g_autoptr(PgeFuture) plain = NULL;
  g_autoptr(PgeFuture) timed = NULL;
  g_autoptr(PgeResult) result = NULL;
  g_autoptr(GError) error = NULL;
  Gate gate = { 0 };

  /* The statement is known to be fast, so it may be pipelined. */
  for (int i = 0; i < 3; i++)
    {
      g_autoptr(PgeParams) quick = pge_params_new ();
      g_autoptr(PgeResult) warm = NULL;

      pge_params_add_double (quick, 0);
      warm = pge_engine_query_sync (engine, "SELECT pg_sleep($1)", quick, &error);
      cr_assert_null (error, "%s", error ? error->message : "");
    }
  held = gate_close (engine, &gate);
  {
    g_autoptr(PgeParams) quick = pge_params_new ();
    g_autoptr(PgeParams) slow = pge_params_new ();

    pge_params_add_double (quick, 0);
    pge_params_add_double (slow, 3);
    plain = pge_engine_query (engine, "SELECT pg_sleep($1)", quick);
    timed = pge_engine_query_with_options (engine, "SELECT pg_sleep($1)", slow, options);
  }
  gate_open (&gate);
  result = pge_future_wait (timed, &error);
  pge_assert_error (error, PGE_ERROR, PGE_ERROR_TIMEOUT);
  g_clear_error (&error);
  g_clear_pointer (&result, pge_result_unref);
  result = pge_future_wait (plain, &error);
  cr_assert_null (error, "%s", error ? error->message : "");
  g_clear_pointer (&result, pge_result_unref);
  result = pge_future_wait (held, NULL);
}

Test (calloptions, own_statement_timeout_can_be_longer_than_the_engines)
{
  g_autoptr(PgeEngine) engine = engine_with (10000, 200);
  g_autoptr(PgeCallOptions) options = options_with (-1, 10000);
  g_autoptr(PgeParams) params = pge_params_new ();
  g_autoptr(PgeResult) result = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *after = NULL;

  pge_params_add_int32 (params, 21);
  result = pge_engine_query_with_options_sync (engine, "SELECT $1::int * 2 FROM pg_sleep(0.6)",
                                               params, options, &error);
  cr_assert_null (error, "%s", error ? error->message : "");
  cr_assert_eq (pge_result_get_int64 (result, 0, 0), 42);
  after = show (engine, "statement_timeout");
  cr_assert_str_eq (after, "200ms");
  g_clear_pointer (&result, pge_result_unref);
  result = pge_engine_query_sync (engine, "SELECT pg_sleep(0.6)", NULL, &error);
  pge_assert_error (error, PGE_ERROR, PGE_ERROR_TIMEOUT);
}

Test (calloptions, a_sessions_own_setting_survives_a_call_with_options)
{
  g_autoptr(PgeEngine) engine = engine_with (10000, 0);
  g_autoptr(PgeCallOptions) options = options_with (-1, 300);
  g_autoptr(PgeSession) session = NULL;
  g_autoptr(PgeResult) result = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *after = NULL;

  session = pge_engine_session (engine, &error);
  cr_assert_null (error);
  cr_assert (pge_session_exec_sync (session, "SET statement_timeout = '7s'", &error));
  /* Routed into the thread's session. */
  result = pge_engine_query_with_options_sync (engine, "SELECT current_setting('statement_timeout')",
                                               NULL, options, &error);
  cr_assert_null (error, "%s", error ? error->message : "");
  cr_assert_str_eq (pge_result_get_value (result, 0, 0), "300ms");
  after = show (engine, "statement_timeout");
  cr_assert_str_eq (after, "7s");
  cr_assert (pge_session_end (session, &error));
}

static void
on_async_done (GObject *source, GAsyncResult *res, gpointer data)
{
  GError **out = data;
  g_autoptr(PgeResult) result = pge_engine_query_with_options_finish (PGE_ENGINE (source), res, out);

  if (*out == NULL)
    *out = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_FAILED, "unexpected success");
}

Test (calloptions, async_form_honours_the_acquire_timeout)
{
  g_autoptr(PgeEngine) engine = engine_with (30000, 0);
  g_autoptr(PgeCallOptions) options = options_with (200, -1);
  g_autoptr(PgeFuture) held = NULL;
  g_autoptr(PgeResult) result = NULL;
  g_autoptr(GError) error = NULL;
  Gate gate = { 0 };
  gint64 end = g_get_monotonic_time () + 15 * G_USEC_PER_SEC;

  held = gate_close (engine, &gate);
  pge_engine_query_with_options_async (engine, "SELECT 1", NULL, options, NULL, on_async_done, &error);
  while (error == NULL)
    {
      cr_assert_lt (g_get_monotonic_time (), end, "the async call never completed");
      g_main_context_iteration (NULL, FALSE);
      g_usleep (2000);
    }
  pge_assert_error (error, PGE_ERROR, PGE_ERROR_TIMEOUT);
  gate_open (&gate);
  result = pge_future_wait (held, NULL);
}

Test (calloptions, transaction_takes_its_own_limits)
{
  g_autoptr(PgeEngine) engine = engine_with (30000, 0);
  g_autoptr(PgeCallOptions) options = options_with (200, 200);
  g_autoptr(PgeTransaction) tx = NULL;
  g_autoptr(PgeFuture) held = NULL;
  g_autoptr(PgeResult) result = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *after = NULL;
  Gate gate = { 0 };

  /* The acquire timeout bounds the wait for the connection to pin. */
  held = gate_close (engine, &gate);
  tx = pge_engine_transaction_with_options (engine, 0, options, &error);
  cr_assert_null (tx);
  pge_assert_error (error, PGE_ERROR, PGE_ERROR_TIMEOUT);
  g_clear_error (&error);
  gate_open (&gate);
  result = pge_future_wait (held, NULL);

  /* The statement timeout holds for each statement inside. */
  tx = pge_engine_transaction_with_options (engine, 0, options, &error);
  cr_assert_null (error, "%s", error ? error->message : "");
  g_clear_pointer (&result, pge_result_unref);
  result = pge_engine_query_sync (engine, "SELECT pg_sleep(0.05)", NULL, &error);
  cr_assert_null (error, "%s", error ? error->message : "");
  g_clear_pointer (&result, pge_result_unref);
  result = pge_engine_query_sync (engine, "SELECT pg_sleep(5)", NULL, &error);
  pge_assert_error (error, PGE_ERROR, PGE_ERROR_TIMEOUT);
  g_clear_error (&error);
  pge_transaction_rollback (tx, NULL);
  g_clear_pointer (&tx, pge_transaction_unref);
  after = show (engine, "statement_timeout");
  cr_assert_str_eq (after, "0");
}
