/* test-statements.c — pge_config_set_statement_cache: each connection
 * prepares a plain query once, then only binds and executes it.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <string.h>

#include "fixture.h"

TestSuite (statements, .init = pge_test_engine_up, .fini = pge_test_engine_down);

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

static PGresult *
count_prepared (PGconn *conn, gpointer data, GError **error)
{
  g_auto(GStrv) parts = g_strsplit (data, "'", -1);
  g_autofree char *quoted = g_strjoinv ("''", parts);
  g_autofree char *sql = g_strdup_printf ("SELECT count(*) FROM pg_prepared_statements "
                                          "WHERE strpos(statement, '%s') > 0", quoted);

  /* The simple protocol: this counting never enters the cache itself. */
  return PQexec (conn, sql);
}

/* How many statements this connection has prepared whose text contains
 * @fragment (the single worker means one connection). */
static gint64
prepared_count (PgeEngine *engine, const char *fragment)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PgeFuture) future = pge_engine_run_in_worker (engine, count_prepared, (gpointer) fragment, NULL);
  g_autoptr(PgeResult) result = pge_future_wait (future, &error);

  cr_assert_not_null (result, "%s", error ? error->message : "");
  return pge_result_get_int64 (result, 0, 0);
}

Test (statements, on_by_default_and_validated)
{
  g_autoptr(PgeConfig) config = pge_test_config (1);
  g_autoptr(GError) error = NULL;
  g_autoptr(PgeEngine) engine = NULL;

  cr_assert_eq (pge_config_get_statement_cache (config), 256);
  pge_config_set_statement_cache (config, 10001);
  engine = pge_engine_new (config, &error);
  cr_assert_null (engine);
  pge_assert_error (error, PGE_ERROR, PGE_ERROR_INVALID_ARGUMENT);
  pge_config_set_statement_cache (config, 10000);
  cr_assert_eq (pge_config_get_statement_cache (config), 10000);
  pge_config_set_statement_cache (config, 0);
  cr_assert_eq (pge_config_get_statement_cache (config), 0);
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

/* The statement run last is found again without hashing its text: it
 * must still be told from the same text with other types, and from one
 * evicted since (a cache of one evicts at every other statement; under
 * AddressSanitizer a stale entry would be a use after free). */
Test (statements, the_statement_run_last_is_told_from_others)
{
  const char *sql = "SELECT length(pg_typeof($1)::text) AS last_a";   /* integer 7, bigint 6 */
  g_autoptr(PgeEngine) engine = cached_engine (1);
  g_autoptr(PgeParams) as_int = pge_params_new ();
  g_autoptr(PgeParams) as_big = pge_params_new ();

  pge_params_add_int32 (as_int, 5);
  pge_params_add_int64 (as_big, 6);
  for (int round = 0; round < 3; round++)
    {
      cr_assert_eq (scalar (engine, sql, as_int), 7);
      cr_assert_eq (scalar (engine, sql, as_int), 7);
      cr_assert_eq (scalar (engine, sql, as_big), 6);
      cr_assert_eq (scalar (engine, "SELECT 2 AS last_b", NULL), 2);
      cr_assert_eq (scalar (engine, sql, as_big), 6);
      cr_assert_eq (scalar (engine, sql, as_int), 7);
    }
  cr_assert_eq (prepared_count (engine, "AS last_"), 1);
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

/* Statements of a transaction use the cache too; DDL is never cached. */
Test (statements, transactions_use_the_cache_and_ddl_bypasses_it)
{
  g_autoptr(PgeEngine) engine = cached_engine (16);
  g_autoptr(GError) error = NULL;
  g_autoptr(PgeTransaction) tx = pge_engine_transaction (engine, PGE_TRANSACTION_DEFAULT, &error);

  cr_assert_not_null (tx, "%s", error ? error->message : "");
  for (int i = 0; i < 3; i++)
    {
      g_autoptr(PgeResult) inside = pge_transaction_query_sync (tx, "SELECT 'in a transaction'", NULL, &error);

      cr_assert_not_null (inside, "%s", error ? error->message : "");
    }
  /* Routed into the transaction: the same connection. */
  cr_assert_eq (prepared_count (engine, "in a transaction"), 1);
  cr_assert (pge_transaction_commit (tx, &error));
  cr_assert (pge_engine_exec_sync (engine, "CREATE TABLE ddl_test (a int)", &error));
  pge_future_unref (pge_engine_query (engine, "DROP TABLE ddl_test", NULL));
  cr_assert_eq (prepared_count (engine, "in a transaction"), 1);
  cr_assert_eq (prepared_count (engine, "ddl_test"), 0);
}

Test (statements, off_prepares_nothing)
{
  g_autoptr(PgeEngine) engine = cached_engine (0);

  cr_assert_eq (scalar (engine, "SELECT 6 * 7", NULL), 42);
  cr_assert_eq (scalar (engine, "SELECT 6 * 7", NULL), 42);
  cr_assert_eq (prepared_count (engine, "6 * 7"), 0);
}

static char *
statement_name (PgeEngine *engine, const char *fragment)
{
  g_autoptr(PgeParams) params = pge_params_new ();
  g_autoptr(GError) error = NULL;
  g_autoptr(PgeResult) result = NULL;

  pge_params_add_text (params, fragment);
  result = pge_engine_query_sync (engine, "SELECT name FROM pg_prepared_statements "
                                          "WHERE strpos(statement, $1) > 0", params, &error);
  cr_assert_not_null (result, "%s", error ? error->message : "");
  cr_assert_eq (pge_result_get_n_rows (result), 1, "%s prepared %d times", fragment,
                pge_result_get_n_rows (result));
  return g_strdup (pge_result_get_value (result, 0, 0));
}

/* The name says what the statement is, on any connection: behind a
 * pooler, whatever server connection has the name has that statement. */
Test (statements, names_are_a_hash_of_the_text_and_types)
{
  g_autoptr(PgeEngine) one = cached_engine (16);
  g_autoptr(PgeEngine) other = cached_engine (16);
  g_autoptr(GRegex) shape = g_regex_new ("^pge_[0-9a-f]{32}$", 0, 0, NULL);
  g_autofree char *a = NULL;
  g_autofree char *b = NULL;
  g_autofree char *c = NULL;

  cr_assert_eq (scalar (one, "SELECT 11 AS hash_a", NULL), 11);
  cr_assert_eq (scalar (other, "SELECT 11 AS hash_a", NULL), 11);
  cr_assert_eq (scalar (other, "SELECT 12 AS hash_b", NULL), 12);
  a = statement_name (one, "hash_a");
  b = statement_name (other, "hash_a");
  c = statement_name (other, "hash_b");
  cr_assert (g_regex_match (shape, a, 0, NULL), "%s", a);
  cr_assert_str_eq (a, b);
  cr_assert_str_neq (a, c);
}

/* A full cache lets go of its least recently used statement alone, so a
 * statement the program prepared itself on a session survives. */
Test (statements, eviction_drops_one_statement_and_spares_the_users)
{
  g_autoptr(PgeEngine) engine = cached_engine (2);
  g_autoptr(GError) error = NULL;
  g_autoptr(PgeResult) executed = NULL;

  cr_assert (pge_engine_exec_sync (engine, "PREPARE mine AS SELECT 99", &error));
  cr_assert_eq (scalar (engine, "SELECT 1 AS evict_a", NULL), 1);
  cr_assert_eq (scalar (engine, "SELECT 2 AS evict_b", NULL), 2);
  cr_assert_eq (scalar (engine, "SELECT 1 AS evict_a", NULL), 1);   /* a is now the most recent */
  cr_assert_eq (scalar (engine, "SELECT 3 AS evict_c", NULL), 3);   /* evicts b */
  cr_assert_eq (prepared_count (engine, "evict_a"), 1);
  cr_assert_eq (prepared_count (engine, "evict_b"), 0);
  executed = pge_engine_query_sync (engine, "EXECUTE mine", NULL, &error);
  cr_assert_not_null (executed, "%s", error ? error->message : "");
  cr_assert_eq (pge_result_get_int64 (executed, 0, 0), 99);
}

/* Inside a transaction a statement the server lost aborts the
 * transaction (nothing can recover that); it is forgotten, so the retry
 * of the transaction works. Outside, the same loss is invisible. */
Test (statements, a_statement_lost_inside_a_transaction_is_forgotten)
{
  g_autoptr(PgeEngine) engine = cached_engine (16);
  g_autoptr(GError) error = NULL;

  cr_assert_eq (scalar (engine, "SELECT 5 AS lost_one", NULL), 5);
  cr_assert (pge_engine_exec_sync (engine, "DEALLOCATE ALL", &error));
  for (int attempt = 0; attempt < 2; attempt++)
    {
      g_autoptr(GError) local = NULL;
      g_autoptr(PgeTransaction) tx = NULL;
      g_autoptr(PgeResult) result = NULL;

      tx = pge_engine_transaction (engine, PGE_TRANSACTION_DEFAULT, &local);
      cr_assert_not_null (tx, "%s", local ? local->message : "");
      result = pge_transaction_query_sync (tx, "SELECT 5 AS lost_one", NULL, &local);
      if (attempt == 0)
        {
          cr_assert_null (result);
          cr_assert_str_eq (pge_error_get_sqlstate (local), "26000");
          cr_assert (pge_transaction_rollback (tx, NULL));
          continue;
        }
      cr_assert_not_null (result, "the retry failed: %s", local ? local->message : "");
      cr_assert_eq (pge_result_get_int64 (result, 0, 0), 5);
      cr_assert (pge_transaction_commit (tx, &local));
    }
}
