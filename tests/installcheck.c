/* installcheck.c — a consumer of the INSTALLED library, compiled with
 * nothing but `pkg-config --cflags --libs pgengine-1` (make installcheck,
 * and the Debian autopkgtest against libpgengine-1-dev).
 *
 *   installcheck-consumer CONNINFO
 *
 * Checks that the installed headers and library agree on the version,
 * that bad input is a GError, then runs a parameterised query, a
 * transaction with a savepoint and a batch on the server CONNINFO names.
 * Prints "installcheck: ok" and exits 0, or says what failed and exits 1.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <pgengine.h>
#include <stdio.h>
#include <string.h>

static int
fail (const char *what, const GError *error)
{
  fprintf (stderr, "installcheck: %s: %s\n", what, error ? error->message : "unexpected value");
  return 1;
}

int
main (int argc, char **argv)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PgeConfig) config = NULL;
  g_autoptr(PgeEngine) engine = NULL;
  g_autoptr(PgeParams) params = pge_params_new ();
  g_autoptr(PgeResult) result = NULL;
  g_autoptr(PgeTransaction) tx = NULL;
  g_autoptr(PgeSavepoint) savepoint = NULL;
  g_autoptr(PgeBatch) batch = NULL;
  guint n_rows = 0;

  if (argc != 2)
    {
      fprintf (stderr, "usage: installcheck-consumer CONNINFO\n");
      return 2;
    }
  if (PGE_MAJOR_VERSION != 1)
    return fail ("PGE_MAJOR_VERSION is not 1", NULL);

  config = pge_config_new (argv[1]);
  pge_config_set_workers (config, 2);
  engine = pge_engine_new (config, &error);
  if (engine == NULL)
    return fail ("pge_engine_new", error);

  /* Bad input is an error, not a crash. */
  result = pge_engine_query_sync (engine, NULL, NULL, &error);
  if (result != NULL || !g_error_matches (error, PGE_ERROR, PGE_ERROR_INVALID_ARGUMENT))
    return fail ("NULL SQL was not PGE_ERROR_INVALID_ARGUMENT", error);
  g_clear_error (&error);

  pge_params_add_int32 (params, 41);
  result = pge_engine_query_sync (engine, "SELECT $1::int + 1", params, &error);
  if (result == NULL)
    return fail ("query", error);
  if (pge_result_get_int64 (result, 0, 0) != 42)
    return fail ("SELECT $1 + 1 did not give 42", NULL);
  g_clear_pointer (&result, pge_result_unref);

  if (!pge_engine_exec_sync (engine, "DROP TABLE IF EXISTS pge_installcheck; "
                                     "CREATE TABLE pge_installcheck (n int)", &error))
    return fail ("exec", error);
  tx = pge_engine_transaction (engine, PGE_TRANSACTION_DEFAULT, &error);
  if (tx == NULL)
    return fail ("transaction", error);
  if (!pge_transaction_exec_sync (tx, "INSERT INTO pge_installcheck SELECT generate_series(1, 250)", &error))
    return fail ("insert", error);
  savepoint = pge_transaction_savepoint (tx, "before_more", &error);
  if (savepoint == NULL)
    return fail ("savepoint", error);
  if (!pge_transaction_exec_sync (tx, "INSERT INTO pge_installcheck VALUES (-1)", &error)
      || !pge_savepoint_rollback_to (savepoint, &error)
      || !pge_transaction_commit (tx, &error))
    return fail ("savepoint rollback and commit", error);

  batch = pge_engine_batch (engine, "SELECT n FROM pge_installcheck ORDER BY n", NULL, 100, &error);
  if (batch == NULL)
    return fail ("batch", error);
  for (;;)
    {
      g_autoptr(PgeResult) page = pge_batch_next (batch, &error);

      if (page == NULL)
        break;
      n_rows += pge_result_get_n_rows (page);
    }
  if (error != NULL)
    return fail ("batch next", error);
  if (!pge_batch_close (batch, &error))
    return fail ("batch close", error);
  if (n_rows != 250)
    return fail ("the batch did not read the 250 committed rows", NULL);
  pge_engine_exec_sync (engine, "DROP TABLE pge_installcheck", NULL);
  pge_engine_close (engine);
  printf ("installcheck: ok (pgengine %d.%d, %u rows through a batch)\n",
          PGE_MAJOR_VERSION, PGE_MINOR_VERSION, n_rows);
  return 0;
}
