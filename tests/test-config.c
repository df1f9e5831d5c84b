/* test-config.c — PgeConfig: defaults, setters, snapshot, validation,
 * extensions and extra nodes.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <string.h>
#include <unistd.h>

#include "fixture.h"

TestSuite (config, .init = pge_test_engine_up, .fini = pge_test_engine_down);

/* Asserts that pge_engine_new (@config) fails with @code. */
static void
assert_engine_new_fails (PgeConfig *config, gint code)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PgeEngine) engine = pge_engine_new (config, &error);

  cr_assert_null (engine);
  pge_assert_error (error, PGE_ERROR, code);
}

Test (config, defaults_are_documented_values)
{
  g_autoptr(PgeConfig) config = pge_config_new (NULL);

  cr_assert_eq (pge_config_get_workers (config), 4);
  cr_assert_eq (pge_config_get_acquire_timeout (config), 30000);
  cr_assert_eq (pge_config_get_statement_timeout (config), 0);
  cr_assert_eq (pge_config_get_max_queue (config), 0);
}

Test (config, setters_are_read_back_by_getters)
{
  g_autoptr(PgeConfig) config = pge_config_new ("");

  pge_config_set_workers (config, 7);
  pge_config_set_acquire_timeout (config, 0);
  pge_config_set_statement_timeout (config, 1234);
  pge_config_set_max_queue (config, 99);
  cr_assert_eq (pge_config_get_workers (config), 7);
  cr_assert_eq (pge_config_get_acquire_timeout (config), 0);
  cr_assert_eq (pge_config_get_statement_timeout (config), 1234);
  cr_assert_eq (pge_config_get_max_queue (config), 99);
}

Test (config, ref_and_unref_keep_it_alive)
{
  PgeConfig *config = pge_config_new (NULL);
  PgeConfig *ref = pge_config_ref (config);

  cr_assert_eq (ref, config);
  pge_config_unref (config);
  pge_config_set_workers (ref, 3);
  cr_assert_eq (pge_config_get_workers (ref), 3);
  pge_config_unref (ref);
  cr_assert (G_TYPE_IS_BOXED (pge_config_get_type ()));
}

Test (config, engine_keeps_a_snapshot_of_the_config)
{
  g_autoptr(PgeConfig) config = pge_test_config (2);
  g_autoptr(GError) error = NULL;
  g_autoptr(PgeEngine) engine = pge_engine_new (config, &error);
  g_autoptr(PgeResult) result = NULL;
  PgeStats stats;

  cr_assert_null (error);
  pge_config_set_workers (config, 9);
  pge_config_set_statement_timeout (config, 1);
  pge_config_add_node (config, "late", "bogus", 1);
  cr_assert_eq (pge_engine_get_n_workers (engine), 2);
  pge_engine_get_stats (engine, &stats);
  cr_assert_eq (stats.n_workers, 2);
  /* A 1 ms statement timeout would kill this if the engine saw it. */
  result = pge_engine_query_sync (engine, "SELECT pg_sleep(0.05)", NULL, &error);
  cr_assert_null (error, "%s", error ? error->message : "");
  /* The config can start another engine with the new values... except the
   * bogus node, which it rejects: the config was changed, not the engine. */
  assert_engine_new_fails (config, PGE_ERROR_INVALID_ARGUMENT);
}

Test (config, null_config_is_invalid_argument)
{
  g_autoptr(GError) error = NULL;
  PgeEngine *engine = pge_engine_new (NULL, &error);

  cr_assert_null (engine);
  pge_assert_error (error, PGE_ERROR, PGE_ERROR_INVALID_ARGUMENT);
}

Test (config, null_config_with_null_error_returns_null)
{
  cr_assert_null (pge_engine_new (NULL, NULL));
}

Test (config, zero_workers_is_invalid_argument)
{
  g_autoptr(PgeConfig) config = pge_test_config (0);

  assert_engine_new_fails (config, PGE_ERROR_INVALID_ARGUMENT);
}

Test (config, too_many_workers_is_invalid_argument)
{
  g_autoptr(PgeConfig) config = pge_test_config (100000);

  assert_engine_new_fails (config, PGE_ERROR_INVALID_ARGUMENT);
}

Test (config, duplicate_node_names_are_invalid_argument)
{
  g_autoptr(PgeConfig) config = pge_test_config (1);

  pge_config_add_node (config, "replica", pge_test_schema_conninfo (), 1);
  pge_config_add_node (config, "replica", pge_test_schema_conninfo (), 1);
  assert_engine_new_fails (config, PGE_ERROR_INVALID_ARGUMENT);
}

Test (config, node_named_primary_is_invalid_argument)
{
  g_autoptr(PgeConfig) config = pge_test_config (1);

  pge_config_add_node (config, "primary", pge_test_schema_conninfo (), 1);
  assert_engine_new_fails (config, PGE_ERROR_INVALID_ARGUMENT);
}

Test (config, empty_node_name_is_invalid_argument)
{
  g_autoptr(PgeConfig) config = pge_test_config (1);

  pge_config_add_node (config, "", pge_test_schema_conninfo (), 1);
  assert_engine_new_fails (config, PGE_ERROR_INVALID_ARGUMENT);
}

Test (config, node_with_zero_workers_is_invalid_argument)
{
  g_autoptr(PgeConfig) config = pge_test_config (1);

  pge_config_add_node (config, "replica", pge_test_schema_conninfo (), 0);
  assert_engine_new_fails (config, PGE_ERROR_INVALID_ARGUMENT);
}

Test (config, malformed_node_conninfo_is_invalid_argument)
{
  g_autoptr(PgeConfig) config = pge_test_config (1);

  pge_config_add_node (config, "replica", "host=127.0.0.1 'unterminated", 1);
  assert_engine_new_fails (config, PGE_ERROR_INVALID_ARGUMENT);
}

Test (config, empty_extension_name_is_invalid_argument)
{
  g_autoptr(PgeConfig) config = pge_test_config (1);

  pge_config_add_extension (config, "");
  assert_engine_new_fails (config, PGE_ERROR_INVALID_ARGUMENT);
}

/* A NULL name is data a binding may pass (None), not a programmer error:
 * pge_engine_new() reports it as a GError, as it does an empty one. */
Test (config, null_node_extension_and_replica_names_are_invalid_argument)
{
  g_autoptr(PgeConfig) node = pge_test_config (1);
  g_autoptr(PgeConfig) replica = pge_test_config (1);
  g_autoptr(PgeConfig) extension = pge_test_config (1);

  pge_config_add_node (node, NULL, pge_test_schema_conninfo (), 1);
  assert_engine_new_fails (node, PGE_ERROR_INVALID_ARGUMENT);
  pge_config_add_replica (replica, NULL, pge_test_schema_conninfo (), 1);
  assert_engine_new_fails (replica, PGE_ERROR_INVALID_ARGUMENT);
  pge_config_add_extension (extension, NULL);
  assert_engine_new_fails (extension, PGE_ERROR_INVALID_ARGUMENT);
}

Test (config, malformed_conninfo_is_invalid_argument)
{
  const char *bad[] = { "host=127.0.0.1 nosuchkeyword=1", "host='unterminated", "just words",
                        "postgresql://[::1" };

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr(PgeConfig) config = pge_config_new (bad[i]);
      g_autoptr(GError) error = NULL;
      g_autoptr(PgeEngine) engine = pge_engine_new (config, &error);

      cr_assert_null (engine, "%s", bad[i]);
      pge_assert_error (error, PGE_ERROR, PGE_ERROR_INVALID_ARGUMENT);
    }
}

Test (config, validation_starts_nothing_and_the_config_stays_usable)
{
  g_autoptr(PgeConfig) config = pge_test_config (0);
  g_autoptr(PgeEngine) engine = NULL;
  g_autoptr(GError) error = NULL;

  assert_engine_new_fails (config, PGE_ERROR_INVALID_ARGUMENT);
  pge_config_set_workers (config, 1);
  engine = pge_engine_new (config, &error);
  cr_assert_null (error);
  cr_assert_eq (pge_engine_get_n_workers (engine), 1);
}

/* An extension exists once per database, and tests run in parallel: the
 * extension tests use a database of their own. */
static char *
create_database (char **conninfo)
{
  g_autofree char *name = g_strdup_printf ("pge_ext_%d_%u", (int) getpid (), g_random_int ());
  g_autofree char *sql = g_strdup_printf ("CREATE DATABASE %s", name);

  g_free (pge_test_admin_query (sql));
  *conninfo = g_strdup_printf ("%s dbname=%s", pge_test_conninfo (), name);
  return g_steal_pointer (&name);
}

static void
drop_database (const char *name)
{
  g_autofree char *sql = g_strdup_printf ("DROP DATABASE IF EXISTS %s WITH (FORCE)", name);

  g_free (pge_test_admin_query (sql));
}

Test (config, add_extension_creates_it_at_start)
{
  g_autofree char *conninfo = NULL;
  g_autofree char *db = create_database (&conninfo);
  g_autofree char *available = pge_test_admin_query (
    "SELECT name FROM pg_available_extensions WHERE name = 'pgcrypto'");
  g_autoptr(PgeConfig) config = pge_config_new (conninfo);
  g_autoptr(GError) error = NULL;
  PgeEngine *engine;
  PgeResult *result;

  if (available == NULL)
    {
      drop_database (db);
      cr_skip_test ("pgcrypto is not installed (postgresql-contrib)");
    }
  pge_config_set_workers (config, 2);
  pge_config_add_extension (config, "pgcrypto");
  pge_config_add_extension (config, "pgcrypto");  /* IF NOT EXISTS: twice is fine */
  engine = pge_engine_new (config, &error);
  cr_assert_null (error, "%s", error ? error->message : "");
  result = pge_engine_query_sync (engine, "SELECT encode(digest('a', 'sha1'), 'hex')", NULL, &error);
  cr_assert_null (error, "%s", error ? error->message : "");
  cr_assert_str_eq (pge_result_get_value (result, 0, 0), "86f7e437faa5a7fce15d1ddcb9eaeaea377667b8");
  pge_result_unref (result);
  pge_engine_unref (engine);
  drop_database (db);
}

Test (config, unknown_extension_fails_engine_new_with_query_error)
{
  g_autofree char *conninfo = NULL;
  g_autofree char *db = create_database (&conninfo);
  g_autoptr(PgeConfig) config = pge_config_new (conninfo);
  g_autoptr(GError) error = NULL;
  PgeEngine *engine;

  pge_config_set_workers (config, 1);
  pge_config_add_extension (config, "pge_no_such_extension");
  engine = pge_engine_new (config, &error);
  drop_database (db);
  cr_assert_null (engine);
  pge_assert_error (error, PGE_ERROR, PGE_ERROR_QUERY);
  cr_assert_not_null (strstr (error->message, "pge_no_such_extension"), "%s", error->message);
  cr_assert_not_null (pge_error_get_sqlstate (error));
}

Test (config, extra_node_takes_queries_by_name)
{
  g_autoptr(PgeConfig) config = pge_test_config (1);
  g_autoptr(GError) error = NULL;
  g_autoptr(PgeEngine) engine = NULL;
  g_autoptr(PgeFuture) on_node = NULL;
  g_autoptr(PgeFuture) on_primary = NULL;
  g_autoptr(PgeFuture) unknown = NULL;
  g_autoptr(PgeResult) result = NULL;
  g_autoptr(PgeResult) primary_result = NULL;
  g_autoptr(PgeResult) none = NULL;
  PgeStats stats;

  pge_config_add_node (config, "replica", pge_test_schema_conninfo (), 2);
  engine = pge_engine_new (config, &error);
  cr_assert_null (error, "%s", error ? error->message : "");
  cr_assert_eq (pge_engine_get_n_workers (engine), 3);
  pge_engine_get_stats (engine, &stats);
  cr_assert_eq (stats.n_workers, 3);

  on_node = pge_engine_query_on_node (engine, "replica", "SELECT current_schema()", NULL);
  result = pge_future_wait (on_node, &error);
  cr_assert_null (error, "%s", error ? error->message : "");
  cr_assert_str_eq (pge_result_get_value (result, 0, 0), pge_test_schema ());

  on_primary = pge_engine_query_on_node (engine, "primary", "SELECT 2", NULL);
  primary_result = pge_future_wait (on_primary, &error);
  cr_assert_null (error);
  cr_assert_eq (pge_result_get_int64 (primary_result, 0, 0), 2);

  unknown = pge_engine_query_on_node (engine, "nowhere", "SELECT 1", NULL);
  none = pge_future_wait (unknown, &error);
  cr_assert_null (none);
  pge_assert_error (error, PGE_ERROR, PGE_ERROR_INVALID_ARGUMENT);
}

Test (config, unreachable_extra_node_fails_engine_new)
{
  g_autoptr(PgeConfig) config = pge_test_config (1);

  pge_config_add_node (config, "replica", "host=127.0.0.1 port=1 connect_timeout=2", 1);
  assert_engine_new_fails (config, PGE_ERROR_CONNECTION);
}
