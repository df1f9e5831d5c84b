/* pge-migrate — applies numbered .sql files in order, each in one
 * transaction, and records each in a table so that a re-run applies
 * nothing twice.
 *
 *   pge-migrate CONNINFO DIR
 *
 * Files are named NNN_description.sql (any number of digits); they run in
 * the order of their number. Each file runs in its own transaction
 * together with the row that records it in pge_migrations, so a file is
 * either applied and recorded or not applied at all. The first file that
 * fails is rolled back on its own (the ones before it stay applied) and
 * pge-migrate stops with that file's name and the server's message.
 * Concurrent runs are safe: each transaction takes an advisory lock and
 * checks the table again before applying.
 *
 * Exit status: 0 all applied (or nothing to do), 1 a file failed, 2 usage
 * or connection error.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <pgengine.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Any constant: serialises concurrent pge-migrate runs per database. */
#define MIGRATE_LOCK_KEY 7291001

typedef struct {
  guint64 number;
  char   *name;   /* basename */
  char   *path;
} Migration;

static void
migration_free (gpointer data)
{
  Migration *m = data;

  g_free (m->name);
  g_free (m->path);
  g_free (m);
}

static gint
migration_compare (gconstpointer a, gconstpointer b)
{
  const Migration *ma = *(const Migration * const *) a;
  const Migration *mb = *(const Migration * const *) b;

  if (ma->number != mb->number)
    return ma->number < mb->number ? -1 : 1;
  return strcmp (ma->name, mb->name);
}

/* The NNN_*.sql files of dir, in order; other files are ignored. */
static GPtrArray *
list_migrations (const char *dir, GError **error)
{
  g_autoptr(GDir) d = g_dir_open (dir, 0, error);
  g_autoptr(GPtrArray) list = g_ptr_array_new_with_free_func (migration_free);
  const char *name;

  if (d == NULL)
    return NULL;
  while ((name = g_dir_read_name (d)) != NULL)
    {
      char *end = NULL;
      guint64 number = g_ascii_strtoull (name, &end, 10);
      Migration *m;

      if (end == name || !g_str_has_suffix (name, ".sql"))
        continue;
      m = g_new0 (Migration, 1);
      m->number = number;
      m->name = g_strdup (name);
      m->path = g_build_filename (dir, name, NULL);
      g_ptr_array_add (list, m);
    }
  g_ptr_array_sort (list, migration_compare);
  return g_steal_pointer (&list);
}

typedef struct {
  const Migration *migration;
  const char      *script;
  gboolean         applied;   /* FALSE: another run had applied it */
} ApplyJob;

/* One file, one transaction: lock, check, run, record. */
static gboolean
apply_in_transaction (PgeTransaction *tx, gpointer user_data, GError **error)
{
  ApplyJob *job = user_data;
  g_autoptr(PgeParams) params = pge_params_new ();
  g_autoptr(PgeResult) result = NULL;
  g_autoptr(PgeResult) lock = NULL;

  lock = pge_transaction_query_sync (tx, "SELECT pg_advisory_xact_lock(" G_STRINGIFY (MIGRATE_LOCK_KEY) ")",
                                     NULL, error);
  if (lock == NULL)
    return FALSE;
  pge_params_add_text (params, job->migration->name);
  result = pge_transaction_query_sync (tx, "SELECT 1 FROM pge_migrations WHERE name = $1", params, error);
  if (result == NULL)
    return FALSE;
  job->applied = pge_result_get_n_rows (result) == 0;
  if (!job->applied)
    return TRUE;
  if (!pge_transaction_exec_sync (tx, job->script, error))
    return FALSE;
  g_clear_pointer (&result, pge_result_unref);
  result = pge_transaction_query_sync (tx, "INSERT INTO pge_migrations (name) VALUES ($1)", params, error);
  return result != NULL;
}

static gboolean
recorded (GHashTable *done, const Migration *m)
{
  return g_hash_table_contains (done, m->name);
}

/* Names already recorded, read once to say "already applied" quickly;
 * the transaction checks again under the lock. */
static GHashTable *
read_recorded (PgeEngine *engine, GError **error)
{
  g_autoptr(PgeResult) result = pge_engine_query_sync (engine, "SELECT name FROM pge_migrations", NULL, error);
  GHashTable *done;

  if (result == NULL)
    return NULL;
  done = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  for (guint row = 0; row < pge_result_get_n_rows (result); row++)
    g_hash_table_add (done, g_strdup (pge_result_get_value (result, row, 0)));
  return done;
}

int
main (int argc, char **argv)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PgeConfig) config = NULL;
  g_autoptr(PgeEngine) engine = NULL;
  g_autoptr(GPtrArray) migrations = NULL;
  g_autoptr(GHashTable) done = NULL;
  guint n_applied = 0, n_skipped = 0;

  if (argc != 3)
    {
      fprintf (stderr, "usage: pge-migrate CONNINFO DIR\n");
      return 2;
    }
  migrations = list_migrations (argv[2], &error);
  if (migrations == NULL)
    {
      fprintf (stderr, "pge-migrate: %s\n", error->message);
      return 2;
    }
  config = pge_config_new (argv[1]);
  pge_config_set_workers (config, 1);
  engine = pge_engine_new (config, &error);
  if (engine == NULL
      || !pge_engine_exec_sync (engine, "CREATE TABLE IF NOT EXISTS pge_migrations ("
                                        " name text PRIMARY KEY,"
                                        " applied_at timestamptz NOT NULL DEFAULT now())", &error)
      || (done = read_recorded (engine, &error)) == NULL)
    {
      fprintf (stderr, "pge-migrate: %s\n", error->message);
      return 2;
    }

  for (guint i = 0; i < migrations->len; i++)
    {
      const Migration *m = g_ptr_array_index (migrations, i);
      g_autofree char *script = NULL;
      ApplyJob job = { m, NULL, FALSE };
      gint64 start = g_get_monotonic_time ();

      if (recorded (done, m))
        {
          n_skipped++;
          continue;
        }
      if (!g_file_get_contents (m->path, &script, NULL, &error))
        {
          fprintf (stderr, "pge-migrate: %s: %s\n", m->name, error->message);
          return 1;
        }
      job.script = script;
      /* No retries: a migration is not idempotent in general, and the
       * advisory lock already orders concurrent runs. */
      if (!pge_engine_run_transaction (engine, PGE_TRANSACTION_DEFAULT, 0, apply_in_transaction, &job, &error))
        {
          /* The message is the server's, with its SQLSTATE. */
          fprintf (stderr, "pge-migrate: %s failed, rolled back: %s\n", m->name, error->message);
          printf ("%u applied, %u already applied, stopped at %s\n", n_applied, n_skipped, m->name);
          return 1;
        }
      if (job.applied)
        {
          n_applied++;
          printf ("applied %s (%.0f ms)\n", m->name, (g_get_monotonic_time () - start) / 1000.0);
        }
      else
        n_skipped++;
    }
  printf ("%u applied, %u already applied\n", n_applied, n_skipped);
  return 0;
}
