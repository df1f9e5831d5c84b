/* test-statements.c — pge_config_set_statement_cache: each connection
 * prepares a plain query once, then only binds and executes it.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <string.h>

#include "fixture.h"

TestSuite (statements, .init = pge_test_engine_up, .fini = pge_test_engine_down, .timeout = 60);

static PgeEngine *
cached_engine (guint max_statements)
{
  g_autoptr(PgeConfig) config = pge_test_config (1);
  g_autoptr(GError) error = NULL;
  PgeEngine *engine;

  pge_config_set_statement_cache (config, max_statements);
  engine = pge_engine_new (config, &error);
  cr_assert_not_null (engine, "%s", error ? error->message : "");
  return engine;
}

static gint64
scalar (PgeEngine *engine, const char *sql, PgeParams *params)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PgeResult) result = pge_engine_query_sync (engine, sql, params, &error);

  cr_assert_not_null (result, "%s: %s", sql, error ? error->message : "");
  return pge_result_get_int64 (result, 0, 0);
}

/* How many statements this connection has prepared whose text contains
 * @fragment (the single worker means one connection). */
static gint64
prepared_count (PgeEngine *engine, const char *fragment)
{
  g_autoptr(PgeParams) params = pge_params_new ();

  pge_params_add_text (params, fragment);
  return scalar (engine, "SELECT count(*) FROM pg_prepared_statements "
                         "WHERE strpos(statement, $1) > 0", params);
}

Test (statements, off_by_default_and_validated)
{
  g_autoptr(PgeConfig) config = pge_test_config (1);
  g_autoptr(GError) error = NULL;
  g_autoptr(PgeEngine) engine = NULL;

  cr_assert_eq (pge_config_get_statement_cache (config), 0);
  pge_config_set_statement_cache (config, 10001);
  engine = pge_engine_new (config, &error);
  cr_assert_null (engine);
  pge_assert_error (error, PGE_ERROR, PGE_ERROR_INVALID_ARGUMENT);
  pge_config_set_statement_cache (config, 10000);
  cr_assert_eq (pge_config_get_statement_cache (config), 10000);
  /* Without the cache nothing is prepared. */
  cr_assert_eq (prepared_count (test_engine, "* 7"), 0);
}

Test (statements, a_repeated_query_is_prepared_once)
{
  g_autoptr(PgeEngine) engine = cached_engine (16);

  for (gint64 i = 0; i < 50; i++)
    {
      g_autoptr(PgeParams) params = pge_params_new ();

      pge_params_add_int64 (params, i);
      cr_assert_eq (scalar (engine, "SELECT $1::int8 * 7", params), 7 * i);
    }
  cr_assert_eq (prepared_count (engine, "* 7"), 1);
}

/* The same text with other parameter types is another statement. */
Test (statements, parameter_types_are_part_of_the_key)
{
  g_autoptr(PgeEngine) engine = cached_engine (16);
  g_autoptr(PgeParams) as_int = pge_params_new ();
  g_autoptr(PgeParams) as_text = pge_params_new ();
  g_autoptr(GError) error = NULL;
  g_autoptr(PgeResult) number = NULL;
  g_autoptr(PgeResult) text = NULL;

  pge_params_add_int32 (as_int, 5);
  pge_params_add_text (as_text, "five");
  number = pge_engine_query_sync (engine, "SELECT $1::text = '5' AS x", as_int, &error);
  cr_assert_not_null (number, "%s", error ? error->message : "");
  cr_assert (pge_result_get_boolean (number, 0, 0));
  text = pge_engine_query_sync (engine, "SELECT $1::text = '5' AS x", as_text, &error);
  cr_assert_not_null (text, "%s", error ? error->message : "");
  cr_assert_not (pge_result_get_boolean (text, 0, 0));
  cr_assert_eq (prepared_count (engine, "= '5' AS x"), 2);
}

/* DDL changes a cached plan's result type (0A000) and a user's
 * DEALLOCATE ALL removes the statements (26000): both are retried
 * unprepared, so the caller never sees them. */
Test (statements, stale_plans_are_replaced_transparently)
{
  g_autoptr(PgeEngine) engine = cached_engine (16);
  g_autoptr(GError) error = NULL;
  g_autoptr(PgeResult) wide = NULL;

  cr_assert (pge_engine_exec_sync (engine, "CREATE TABLE s (a int); INSERT INTO s VALUES (1)", &error));
  cr_assert_eq (scalar (engine, "SELECT * FROM s", NULL), 1);
  cr_assert_eq (scalar (engine, "SELECT * FROM s", NULL), 1);
  cr_assert (pge_engine_exec_sync (engine, "ALTER TABLE s ADD COLUMN b int DEFAULT 2", &error));
  wide = pge_engine_query_sync (engine, "SELECT * FROM s", NULL, &error);
  cr_assert_not_null (wide, "%s", error ? error->message : "");
  cr_assert_eq (pge_result_get_n_columns (wide), 2);
  cr_assert_eq (pge_result_get_int64 (wide, 0, 1), 2);

  cr_assert (pge_engine_exec_sync (engine, "DEALLOCATE ALL", &error));
  cr_assert_eq (scalar (engine, "SELECT count(*) FROM s", NULL), 1);
  cr_assert_eq (scalar (engine, "SELECT count(*) FROM s", NULL), 1);
}

Test (statements, errors_are_reported_as_without_the_cache)
{
  g_autoptr(PgeEngine) engine = cached_engine (16);

  for (int round = 0; round < 2; round++)
    {
      g_autoptr(GError) syntax = NULL;
      g_autoptr(GError) runtime = NULL;
      g_autoptr(GError) twice = NULL;
      g_autoptr(PgeResult) a = pge_engine_query_sync (engine, "SELECT FROM WHERE", NULL, &syntax);
      g_autoptr(PgeResult) b = pge_engine_query_sync (engine, "SELECT 1 / (random() * 0)::int", NULL, &runtime);
      g_autoptr(PgeResult) c = pge_engine_query_sync (engine, "SELECT 1; SELECT 2", NULL, &twice);

      cr_assert_null (a);
      cr_assert_str_eq (pge_error_get_sqlstate (syntax), "42601");
      cr_assert_null (b);
      cr_assert_str_eq (pge_error_get_sqlstate (runtime), "22012");
      cr_assert_null (c);
      pge_assert_error (twice, PGE_ERROR, PGE_ERROR_QUERY);
    }
  cr_assert_eq (scalar (engine, "SELECT 42", NULL), 42);
}

/* A full cache starts over instead of growing past its bound. */
Test (statements, the_cache_stays_within_its_bound)
{
  g_autoptr(PgeEngine) engine = cached_engine (3);

  for (int i = 0; i < 20; i++)
    {
      g_autofree char *sql = g_strdup_printf ("SELECT %d AS bound_test", i);

      cr_assert_eq (scalar (engine, sql, NULL), i);
      cr_assert_eq (scalar (engine, sql, NULL), i);
    }
  cr_assert_leq (scalar (engine, "SELECT count(*) FROM pg_prepared_statements", NULL), 3);
}

/* Statements of a transaction are never cached, and DDL is never cached. */
Test (statements, transactions_and_ddl_bypass_the_cache)
{
  g_autoptr(PgeEngine) engine = cached_engine (16);
  g_autoptr(GError) error = NULL;
  g_autoptr(PgeTransaction) tx = pge_engine_transaction (engine, PGE_TRANSACTION_DEFAULT, &error);
  g_autoptr(PgeResult) inside = NULL;

  cr_assert_not_null (tx, "%s", error ? error->message : "");
  inside = pge_transaction_query_sync (tx, "SELECT 'in a transaction'", NULL, &error);
  cr_assert_not_null (inside, "%s", error ? error->message : "");
  cr_assert (pge_transaction_commit (tx, &error));
  cr_assert (pge_engine_exec_sync (engine, "CREATE TABLE ddl_test (a int)", &error));
  pge_future_unref (pge_engine_query (engine, "DROP TABLE ddl_test", NULL));
  cr_assert_eq (prepared_count (engine, "in a transaction"), 0);
  cr_assert_eq (prepared_count (engine, "ddl_test"), 0);
}
