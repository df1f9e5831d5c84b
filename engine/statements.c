/* statements.c — the per-connection prepared-statement cache.
 *
 * With pge_config_set_statement_cache(), a worker prepares each distinct
 * plain query (SQL plus parameter type OIDs) once on its connection and
 * then only sends Bind/Execute for it: the server skips parsing and
 * planning from the second run on. A miss prepares and executes in one
 * round trip (pipeline mode).
 *
 * Owned by the worker thread: the cache lives in the worker, next to the
 * connection whose statements it names, and is cleared whenever that
 * connection is replaced. Only pool queries use it (never a transaction's
 * statements), so a cached plan that went stale (SQLSTATE 0A000 after DDL,
 * or 26000 after a user's DEALLOCATE/DISCARD) can be dropped and the query
 * re-run unprepared: the failed attempt had no effect outside a
 * transaction. Only SELECT, INSERT, UPDATE, DELETE, MERGE, VALUES, TABLE
 * and WITH are cached; everything else (DDL, SET, COPY ...) runs as before.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <string.h>

#include "errors-private.h"
#include "params-private.h"
#include "statements-private.h"
#include "worker-private.h"

struct _PgeStatements {
  GHashTable *names;   /* key (SQL + types) -> statement name, both owned */
  guint       max;
  guint64     next_id;
};

PgeStatements *
pge_statements_new (guint max)
{
  PgeStatements *statements = g_new0 (PgeStatements, 1);

  statements->names = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  statements->max = max;
  return statements;
}

void
pge_statements_free (PgeStatements *statements)
{
  if (statements == NULL)
    return;
  g_hash_table_unref (statements->names);
  g_free (statements);
}

/* The connection was replaced: its statements are gone with it. */
void
pge_statements_forget_all (PgeStatements *statements)
{
  g_hash_table_remove_all (statements->names);
}

/* SQL alone is not enough: the same text with other parameter types is
 * another statement to the server. */
static char *
statement_key (const char *sql, const PgeParamsView *view)
{
  GString *key = g_string_new (NULL);

  /* Types first, as digits and commas up to a '|': the SQL after it can
   * hold any character, and the key stays unambiguous. */
  for (int i = 0; i < view->n; i++)
    g_string_append_printf (key, "%u,", view->types[i]);
  g_string_append_c (key, '|');
  g_string_append (key, sql);
  return g_string_free (key, FALSE);
}

static gboolean
is_stale_plan (const GError *error)
{
  const char *sqlstate = pge_error_get_sqlstate (error);

  return sqlstate != NULL && (strcmp (sqlstate, "0A000") == 0 || strcmp (sqlstate, "26000") == 0);
}

static void
simple_command (PGconn *conn, const char *sql)
{
  PGresult *res = PQexec (conn, sql);

  PQclear (res);
}

/* A miss: Parse under a new name and execute, in one round trip. */
static PgeResult *
prepare_and_run (PgeJob *job, PGconn *conn, const char *name, const PgeParamsView *view,
                 gboolean *prepared, GError **error)
{
  PgeResult *prepare = NULL;
  PgeResult *result = NULL;
  GError *prepare_error = NULL;
  GError *run_error = NULL;
  PGresult *sync;

  *prepared = FALSE;
  if (!PQenterPipelineMode (conn) ||
      !PQsendPrepare (conn, name, job->sql, view->n, view->types) ||
      !PQsendQueryPrepared (conn, name, view->n, view->values, view->lengths, view->formats, 0) ||
      !PQpipelineSync (conn))
    {
      g_propagate_error (error, pge_error_new_from_conn (conn, PGE_ERROR_CONNECTION,
                                                         "cannot send the query"));
      return NULL;
    }
  prepare = pge_worker_collect (job, conn, FALSE, &prepare_error);
  result = pge_worker_collect (job, conn, FALSE, &run_error);
  sync = PQgetResult (conn);
  g_clear_pointer (&sync, PQclear);
  PQexitPipelineMode (conn);
  g_clear_pointer (&prepare, pge_result_unref);
  if (prepare_error != NULL)
    {
      /* The execute step was skipped; its "result" is the abort notice. */
      g_clear_pointer (&result, pge_result_unref);
      g_clear_error (&run_error);
      g_propagate_error (error, prepare_error);
      return NULL;
    }
  *prepared = TRUE;
  if (run_error != NULL)
    g_propagate_error (error, run_error);
  return result;
}

/* Runs a pool query through the cache. Returns FALSE (running nothing)
 * when the query is not one to cache; the caller then runs it as usual. */
gboolean
pge_statements_run (PgeStatements *statements, PgeJob *job, PGconn *conn,
                    PgeResult **result, GError **error)
{
  g_autofree char *key = NULL;
  PgeParamsView view;
  const char *name;
  GError *local = NULL;
  gint64 start = g_get_monotonic_time ();

  if (!pge_job_is_plain_query (job))
    return FALSE;
  pge_params_view (job->params, &view);
  key = statement_key (job->sql, &view);
  name = g_hash_table_lookup (statements->names, key);
  if (name != NULL)
    {
      if (!PQsendQueryPrepared (conn, name, view.n, view.values, view.lengths, view.formats, 0))
        local = pge_error_new_from_conn (conn, PGE_ERROR_CONNECTION, "cannot send the query");
      else
        *result = pge_worker_collect (job, conn, FALSE, &local);
      if (local != NULL && is_stale_plan (local) && PQstatus (conn) == CONNECTION_OK)
        {
          g_autofree char *deallocate = g_strdup_printf ("DEALLOCATE %s", name);

          /* Nothing ran: drop the statement and go the unprepared way. */
          g_clear_error (&local);
          simple_command (conn, deallocate);
          g_hash_table_remove (statements->names, key);
          return FALSE;
        }
    }
  else
    {
      g_autofree char *new_name = NULL;
      gboolean prepared;

      if (g_hash_table_size (statements->names) >= statements->max)
        {
          /* Rare (max distinct statements per connection): start over. */
          simple_command (conn, "DEALLOCATE ALL");
          g_hash_table_remove_all (statements->names);
        }
      new_name = g_strdup_printf ("pge_s%" G_GUINT64_FORMAT, statements->next_id++);
      *result = prepare_and_run (job, conn, new_name, &view, &prepared, &local);
      if (prepared)
        g_hash_table_insert (statements->names, g_steal_pointer (&key), g_steal_pointer (&new_name));
    }
  pge_worker_log (job, job->sql, start, *result, local);
  if (local != NULL)
    g_propagate_error (error, local);
  return TRUE;
}
