/* test-pipeline.c — pge_config_set_pipeline_depth: busy workers send
 * queued queries several to a round trip, each with its own outcome.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "fixture.h"

TestSuite (pipeline, .init = pge_test_engine_up, .fini = pge_test_engine_down);

static PgeEngine *
pipelined_engine (guint n_workers, guint depth)
{
  g_autoptr(PgeConfig) config = pge_test_config (n_workers);
  g_autoptr(GError) error = NULL;
  PgeEngine *engine;

  pge_config_set_pipeline_depth (config, depth);
  /* Without the cache every plain query may be pipelined, known or not. */
  pge_config_set_statement_cache (config, 0);
  engine = pge_engine_new (config, &error);
  cr_assert_null (error, "%s", error ? error->message : "");
  return engine;
}

Test (pipeline, depth_defaults_to_sixteen_and_is_validated)
{
  g_autoptr(PgeConfig) config = pge_test_config (1);
  g_autoptr(GError) error = NULL;
  g_autoptr(PgeEngine) engine = NULL;

  cr_assert_eq (pge_config_get_pipeline_depth (config), 16);
  pge_config_set_pipeline_depth (config, 0);
  engine = pge_engine_new (config, &error);
  cr_assert_null (engine);
  pge_assert_error (error, PGE_ERROR, PGE_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  pge_config_set_pipeline_depth (config, 65);
  engine = pge_engine_new (config, &error);
  cr_assert_null (engine);
  pge_assert_error (error, PGE_ERROR, PGE_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  pge_config_set_pipeline_depth (config, 64);
  cr_assert_eq (pge_config_get_pipeline_depth (config), 64);
  engine = pge_engine_new (config, &error);
  cr_assert_not_null (engine, "%s", error ? error->message : "");
}

/* A queue behind a slow query on one worker: everything behind it goes
 * out in pipelines; every future must get its own result or error. */
Test (pipeline, every_future_gets_its_own_outcome)
{
  g_autoptr(PgeEngine) engine = pipelined_engine (1, 16);
  g_autoptr(PgeFuture) slow = pge_engine_query (engine, "SELECT pg_sleep(0.2)", NULL);
  PgeFuture *futures[300];

  for (guint i = 0; i < G_N_ELEMENTS (futures); i++)
    {
      g_autoptr(PgeParams) params = pge_params_new ();

      pge_params_add_int64 (params, i);
      futures[i] = pge_engine_query (engine, i % 7 == 3 ? "SELECT 1 / ($1::int8 - $1::int8)"
                                                        : "SELECT $1::int8 * 3", params);
    }
  for (guint i = 0; i < G_N_ELEMENTS (futures); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(PgeResult) result = pge_future_wait (futures[i], &error);

      if (i % 7 == 3)
        {
          cr_assert_null (result);
          pge_assert_error (error, PGE_ERROR, PGE_ERROR_QUERY);
          cr_assert_str_eq (pge_error_get_sqlstate (error), "22012");
        }
      else
        {
          cr_assert_null (error, "query %u: %s", i, error ? error->message : "");
          cr_assert_eq (pge_result_get_int64 (result, 0, 0), 3 * (gint64) i);
        }
      pge_future_unref (futures[i]);
    }
}

/* Each pipelined statement is its own implicit transaction: a failing
 * INSERT between two good ones takes nothing else with it. */
Test (pipeline, a_failure_does_not_roll_back_its_neighbours)
{
  g_autoptr(PgeEngine) engine = pipelined_engine (1, 8);
  g_autoptr(GError) error = NULL;
  g_autoptr(PgeFuture) slow = NULL;
  g_autoptr(PgeResult) count = NULL;
  PgeFuture *futures[3];

  cr_assert (pge_engine_exec_sync (engine, "CREATE TABLE p (id int PRIMARY KEY)", &error));
  slow = pge_engine_query (engine, "SELECT pg_sleep(0.1)", NULL);
  futures[0] = pge_engine_query (engine, "INSERT INTO p VALUES (1)", NULL);
  futures[1] = pge_engine_query (engine, "INSERT INTO p VALUES (1)", NULL);
  futures[2] = pge_engine_query (engine, "INSERT INTO p VALUES (2)", NULL);
  for (guint i = 0; i < 3; i++)
    {
      g_autoptr(GError) step_error = NULL;
      g_autoptr(PgeResult) result = pge_future_wait (futures[i], &step_error);

      if (i == 1)
        cr_assert_str_eq (pge_error_get_sqlstate (step_error), "23505");
      else
        cr_assert_null (step_error);
      pge_future_unref (futures[i]);
    }
  count = pge_engine_query_sync (engine, "SELECT count(*) FROM p", NULL, &error);
  cr_assert_eq (pge_result_get_int64 (count, 0, 0), 2);
}

/* Cancelling a query that sits in a pipeline behind another: whatever the
 * server was running when the request landed, only the cancelled future
 * reports CANCELLED, every other one completes, and the worker goes on. */
Test (pipeline, cancel_inside_a_pipeline_touches_only_its_query)
{
  g_autoptr(PgeEngine) engine = pipelined_engine (1, 16);
  g_autoptr(PgeFuture) first = pge_engine_query (engine, "SELECT pg_sleep(0.2)", NULL);
  g_autoptr(PgeFuture) victim = NULL;
  PgeFuture *others[10];
  g_autoptr(GError) error = NULL;
  g_autoptr(PgeResult) result = NULL;

  victim = pge_engine_query (engine, "SELECT pg_sleep(5)", NULL);
  for (guint i = 0; i < G_N_ELEMENTS (others); i++)
    others[i] = pge_engine_query (engine, "SELECT pg_sleep(0.01)", NULL);
  g_usleep (300 * 1000);   /* the victim is running now, the others queued behind it */
  pge_future_cancel (victim);
  result = pge_future_wait (victim, &error);
  cr_assert_null (result);
  pge_assert_error (error, PGE_ERROR, PGE_ERROR_CANCELLED);
  for (guint i = 0; i < G_N_ELEMENTS (others); i++)
    {
      g_autoptr(GError) other_error = NULL;
      g_autoptr(PgeResult) other = pge_future_wait (others[i], &other_error);

      cr_assert_null (other_error, "neighbour %u: %s", i, other_error ? other_error->message : "");
      pge_future_unref (others[i]);
    }
}

/* A transaction's statements are never pipelined with pool queries: the
 * worker is pinned, and the pool's queue waits. */
Test (pipeline, transactions_still_work_with_pipelining_on)
{
  g_autoptr(PgeEngine) engine = pipelined_engine (2, 16);
  g_autoptr(GError) error = NULL;
  g_autoptr(PgeTransaction) tx = NULL;
  g_autoptr(PgeResult) inside = NULL;
  g_autoptr(PgeResult) after = NULL;

  cr_assert (pge_engine_exec_sync (engine, "CREATE TABLE q (id int)", &error));
  tx = pge_engine_transaction (engine, PGE_TRANSACTION_DEFAULT, &error);
  cr_assert_not_null (tx, "%s", error ? error->message : "");
  for (int i = 0; i < 50; i++)
    pge_future_unref (pge_transaction_query (tx, "INSERT INTO q VALUES (1)", NULL));
  inside = pge_transaction_query_sync (tx, "SELECT count(*) FROM q", NULL, &error);
  cr_assert_eq (pge_result_get_int64 (inside, 0, 0), 50);
  cr_assert (pge_transaction_rollback (tx, &error));
  after = pge_engine_query_sync (engine, "SELECT count(*) FROM q", NULL, &error);
  cr_assert_eq (pge_result_get_int64 (after, 0, 0), 0);
}

/* A BEGIN never shares a pipeline: its transaction would swallow the
 * queries behind it, report them done, and roll them back afterwards. */
Test (pipeline, begin_is_never_pipelined_with_others)
{
  g_autoptr(PgeEngine) engine = pipelined_engine (1, 8);
  g_autoptr(GError) error = NULL;
  g_autoptr(PgeFuture) slow = NULL;
  g_autoptr(PgeFuture) begin = NULL;
  g_autoptr(PgeFuture) insert = NULL;
  g_autoptr(PgeResult) inserted = NULL;
  g_autoptr(PgeResult) count = NULL;

  cr_assert (pge_engine_exec_sync (engine, "CREATE TABLE b (a int)", &error));
  slow = pge_engine_query (engine, "SELECT pg_sleep(0.3)", NULL);
  g_usleep (100 * 1000);
  begin = pge_engine_query (engine, "/* a comment */ BEGIN", NULL);
  insert = pge_engine_query (engine, "INSERT INTO b VALUES (1)", NULL);
  inserted = pge_future_wait (insert, &error);
  cr_assert_not_null (inserted, "%s", error ? error->message : "");
  count = pge_engine_query_sync (engine, "SELECT count(*) FROM b", NULL, &error);
  cr_assert_eq (pge_result_get_int64 (count, 0, 0), 1, "a reported INSERT was rolled back");
}

/* A COPY hidden behind a comment is still kept out of pipelines, so it
 * fails alone and the queries around it are untouched. */
Test (pipeline, commented_copy_fails_alone)
{
  g_autoptr(PgeEngine) engine = pipelined_engine (1, 8);
  g_autoptr(PgeFuture) slow = pge_engine_query (engine, "SELECT pg_sleep(0.2)", NULL);
  PgeFuture *futures[3];

  g_usleep (50 * 1000);
  futures[0] = pge_engine_query (engine, "SELECT 1", NULL);
  futures[1] = pge_engine_query (engine, "-- load\n/* nested /* comment */ */ COPY pg_catalog.pg_description FROM STDIN", NULL);
  futures[2] = pge_engine_query (engine, "SELECT 3", NULL);
  for (guint i = 0; i < 3; i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(PgeResult) result = pge_future_wait (futures[i], &error);

      if (i == 1)
        pge_assert_error (error, PGE_ERROR, PGE_ERROR_INVALID_ARGUMENT);
      else
        cr_assert_eq (pge_result_get_int64 (result, 0, 0), i + 1, "%s", error ? error->message : "");
      pge_future_unref (futures[i]);
    }
}

/* Too many parameters is the caller's mistake, reported on that query
 * alone, never as a connection error for its neighbours. */
Test (pipeline, too_many_parameters_fail_only_their_query)
{
  g_autoptr(PgeEngine) engine = pipelined_engine (1, 8);
  g_autoptr(PgeParams) huge = pge_params_new ();
  g_autoptr(PgeFuture) slow = pge_engine_query (engine, "SELECT pg_sleep(0.2)", NULL);
  g_autoptr(PgeFuture) bad = NULL;
  g_autoptr(PgeFuture) good = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(PgeResult) result = NULL;
  g_autoptr(PgeResult) fine = NULL;

  for (int i = 0; i < 70000; i++)
    pge_params_add_null (huge);
  g_usleep (50 * 1000);
  bad = pge_engine_query (engine, "SELECT 1", huge);
  good = pge_engine_query (engine, "SELECT 2", NULL);
  result = pge_future_wait (bad, &error);
  pge_assert_error (error, PGE_ERROR, PGE_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  fine = pge_future_wait (good, &error);
  cr_assert_not_null (fine, "%s", error ? error->message : "");
}

/* Close cancels every pipelined query still running after the grace
 * period, not only the first: it returns in about 5 s, not 3 x 8 s. */
Test (pipeline, close_cancels_every_pipelined_query)
{
  PgeEngine *engine = pipelined_engine (1, 8);
  g_autoptr(PgeFuture) first = pge_engine_query (engine, "SELECT pg_sleep(0.2)", NULL);
  PgeFuture *sleepers[3];
  gint64 start;

  g_usleep (50 * 1000);
  for (guint i = 0; i < 3; i++)
    sleepers[i] = pge_engine_query (engine, "SELECT pg_sleep(8)", NULL);
  g_usleep (500 * 1000);
  start = g_get_monotonic_time ();
  pge_engine_close (engine);
  cr_assert_lt (g_get_monotonic_time () - start, 12 * G_USEC_PER_SEC, "close waited for every query");
  for (guint i = 0; i < 3; i++)
    {
      cr_assert (pge_future_is_done (sleepers[i]));
      pge_future_unref (sleepers[i]);
    }
  pge_engine_unref (engine);
}

/* On default settings (statement cache on), statements the connection
 * has seen run fast are pipelined as prepared statements; a statement it
 * has not seen runs alone, and every future gets its own answer. */
Test (pipeline, cached_statements_ride_the_pipeline_on_defaults)
{
  g_autoptr(PgeEngine) engine = pge_test_new_engine (1);
  g_autoptr(GError) error = NULL;
  g_autoptr(PgeFuture) held = NULL;
  PgeFuture *futures[40];
  Gate gate = { 0 };

  for (int i = 0; i < 3; i++)
    {
      g_autoptr(PgeResult) warm = pge_engine_query_sync (engine, "SELECT $1::int8 * 3", NULL, &error);

      cr_assert_null (warm);   /* no parameter given: an error, and not cached */
      g_clear_error (&error);
    }
  for (gint64 i = 0; i < 3; i++)
    {
      g_autoptr(PgeParams) params = pge_params_new ();
      g_autoptr(PgeResult) warm = NULL;

      pge_params_add_int64 (params, i);
      warm = pge_engine_query_sync (engine, "SELECT $1::int8 * 3", params, &error);
      cr_assert_not_null (warm, "%s", error ? error->message : "");
    }
  held = gate_close (engine, &gate);
  for (gint64 i = 0; i < (gint64) G_N_ELEMENTS (futures); i++)
    {
      g_autoptr(PgeParams) params = pge_params_new ();

      pge_params_add_int64 (params, i);
      futures[i] = pge_engine_query (engine, i % 10 == 9 ? "SELECT $1::int8 * 3 + 0 AS unseen"
                                                          : "SELECT $1::int8 * 3", params);
    }
  gate_open (&gate);
  for (gint64 i = 0; i < (gint64) G_N_ELEMENTS (futures); i++)
    {
      g_autoptr(PgeResult) result = pge_future_wait (futures[i], &error);

      cr_assert_not_null (result, "%" G_GINT64_FORMAT ": %s", i, error ? error->message : "");
      cr_assert_eq (pge_result_get_int64 (result, 0, 0), 3 * i);
      pge_future_unref (futures[i]);
    }
}

/* Refills that go out together are sent corked (TCP_CORK): a connection
 * left corked would hold each later query back for the kernel's 200 ms.
 * After pipelined bursts on the only connection, 20 queries in a row
 * take far less than one such delay each. */
Test (pipeline, a_corked_refill_never_holds_back_later_queries)
{
  g_autoptr(PgeEngine) engine = pipelined_engine (1, 16);
  gint64 start;

  for (guint burst = 0; burst < 3; burst++)
    {
      g_autoptr(PgeFuture) slow = pge_engine_query (engine, "SELECT pg_sleep(0.05)", NULL);
      PgeFuture *futures[100];

      for (guint i = 0; i < G_N_ELEMENTS (futures); i++)
        futures[i] = pge_engine_query (engine, "SELECT 1", NULL);
      for (guint i = 0; i < G_N_ELEMENTS (futures); i++)
        {
          g_autoptr(GError) error = NULL;
          g_autoptr(PgeResult) result = pge_future_wait (futures[i], &error);

          cr_assert_not_null (result, "%s", error ? error->message : "");
          pge_future_unref (futures[i]);
        }
    }
  start = g_get_monotonic_time ();
  for (guint i = 0; i < 20; i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(PgeResult) result = pge_engine_query_sync (engine, "SELECT 2", NULL, &error);

      cr_assert_not_null (result, "%s", error ? error->message : "");
    }
  cr_assert_lt (g_get_monotonic_time () - start, 2 * G_USEC_PER_SEC,
                "20 queries took %" G_GINT64_FORMAT " ms", (g_get_monotonic_time () - start) / 1000);
}
