/* test-pgbouncer.c — behind PgBouncer in transaction pooling mode every
 * query gets its own answer: consecutive transactions of one client
 * connection land on different server connections (pool size 2 for all
 * the clients of the run), so a prepared statement's name must mean the
 * same SQL on every server connection, with or without the statement
 * cache.
 *
 * The PgBouncer is tools/pge-pgbouncer's (pge_test_pgbouncer_conninfo);
 * without PgBouncer installed these tests are skipped. PgBouncer drops the
 * fixture's options='-c search_path=...', so nothing here uses a table.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <string.h>

#include "fixture.h"

TestSuite (pgbouncer, .init = pge_test_guard_long);

#define N_THREADS 4

/* Texts that differ in their values and in their shape (columns, their
 * names, rows), so a statement run in place of another never passes for
 * it. Each takes one parameter, a number; #2 gets it as text. */
static const char *const texts[] = {
  "SELECT $1::int + 0 AS a",
  "SELECT $1::int * 2 AS b",
  "SELECT $1::text || 'x' AS c",
  "SELECT $1::int - 1 AS d, 'b' AS e",
  "SELECT $1::int8 % 7 AS m, $1::int8 / 7 AS q, 'c' AS k",
  "SELECT g FROM generate_series(1, $1::int % 3 + 1) AS g",
};
#define N_TEXTS G_N_ELEMENTS (texts)

static PgeParams *
params_for (guint text, gint64 value)
{
  PgeParams *params = pge_params_new ();

  if (text == 2)
    {
      g_autofree char *s = g_strdup_printf ("%" G_GINT64_FORMAT, value);

      pge_params_add_text (params, s);
    }
  else
    pge_params_add_int64 (params, value);
  return params;
}

/* The answer of texts[@text] for @value, as describe() writes a result. */
static char *
expected (guint text, gint64 value)
{
  switch (text)
    {
    case 0: return g_strdup_printf ("a\n%" G_GINT64_FORMAT "\n", value);
    case 1: return g_strdup_printf ("b\n%" G_GINT64_FORMAT "\n", value * 2);
    case 2: return g_strdup_printf ("c\n%" G_GINT64_FORMAT "x\n", value);
    case 3: return g_strdup_printf ("d|e\n%" G_GINT64_FORMAT "|b\n", value - 1);
    case 4:
      return g_strdup_printf ("m|q|k\n%" G_GINT64_FORMAT "|%" G_GINT64_FORMAT "|c\n",
                              value % 7, value / 7);
    case 5:
      {
        GString *s = g_string_new ("g\n");

        for (gint64 g = 1; g <= value % 3 + 1; g++)
          g_string_append_printf (s, "%" G_GINT64_FORMAT "\n", g);
        return g_string_free (s, FALSE);
      }
    default:
      g_assert_not_reached ();
    }
}

/* Column names, then one line per row, cells separated by '|'. */
static char *
describe (PgeResult *result)
{
  GString *s = g_string_new (NULL);
  guint n_columns = pge_result_get_n_columns (result);

  for (guint c = 0; c < n_columns; c++)
    g_string_append_printf (s, "%s%s", c ? "|" : "", pge_result_get_column_name (result, c));
  g_string_append_c (s, '\n');
  for (guint r = 0; r < pge_result_get_n_rows (result); r++)
    {
      for (guint c = 0; c < n_columns; c++)
        g_string_append_printf (s, "%s%s", c ? "|" : "",
                                pge_result_is_null (result, r, c) ? "<null>"
                                                                  : pge_result_get_value (result, r, c));
      g_string_append_c (s, '\n');
    }
  return g_string_free (s, FALSE);
}

/* What the threads of one test found; the first failure and the first
 * wrong answer are kept for the assertion's message. */
typedef struct {
  PgeEngine *engine;
  guint      n_texts;     /* the first n of texts[] */
  guint      per_thread;
  GMutex     lock;
  guint      done;
  guint      failed;
  guint      wrong;
  char      *first_failure;
  char      *first_wrong;
} Run;

typedef struct {
  Run  *run;
  guint index;
} Worker;

static void
record (Run *run, gboolean failed, char *message)
{
  g_mutex_lock (&run->lock);
  if (failed)
    {
      run->failed++;
      if (run->first_failure == NULL)
        run->first_failure = g_steal_pointer (&message);
    }
  else
    {
      run->wrong++;
      if (run->first_wrong == NULL)
        run->first_wrong = g_steal_pointer (&message);
    }
  g_mutex_unlock (&run->lock);
  g_free (message);
}

static void
count_done (Run *run)
{
  g_mutex_lock (&run->lock);
  run->done++;
  g_mutex_unlock (&run->lock);
}

static gpointer
query_thread (gpointer data)
{
  Worker *worker = data;
  Run *run = worker->run;

  for (guint i = 0; i < run->per_thread; i++)
    {
      /* The threads walk the texts out of step with each other. */
      guint text = (i + worker->index * 2) % run->n_texts;
      gint64 value = (gint64) worker->index * 1000000 + i;
      g_autoptr(PgeParams) params = params_for (text, value);
      g_autoptr(GError) error = NULL;
      g_autoptr(PgeResult) result = pge_engine_query_sync (run->engine, texts[text], params, &error);
      g_autofree char *want = expected (text, value);
      g_autofree char *got = NULL;

      if (result == NULL)
        record (run, TRUE, g_strdup_printf ("%s [%" G_GINT64_FORMAT "]: %s", texts[text], value,
                                            error ? error->message : "no error"));
      else if (strcmp (got = describe (result), want) != 0)
        record (run, FALSE, g_strdup_printf ("%s [%" G_GINT64_FORMAT "]: want\n%sgot\n%s",
                                             texts[text], value, want, got));
      count_done (run);
    }
  return NULL;
}

/* A 4-worker engine behind PgBouncer; @cache > 0 sets the statement cache,
 * 0 keeps the default. Skips the test without PgBouncer. */
static PgeEngine *
pgbouncer_engine (guint cache)
{
  const char *conninfo = pge_test_pgbouncer_conninfo ();
  g_autoptr(PgeConfig) config = NULL;
  g_autoptr(GError) error = NULL;
  PgeEngine *engine;

  /* CI installs it (tools/install-deps.sh): there, a missing PgBouncer
   * is a failure, never a silent skip. */
  if (conninfo == NULL && g_strcmp0 (g_getenv ("CI"), "true") == 0)
    cr_assert_fail ("PgBouncer is not installed, and CI=true");
  if (conninfo == NULL)
    cr_skip_test ("PgBouncer is not installed (tools/install-deps.sh installs it)");
  config = pge_config_new (conninfo);
  pge_config_set_workers (config, N_THREADS);
  pge_config_set_acquire_timeout (config, 10000);
  if (cache > 0)
    pge_config_set_statement_cache (config, cache);
  engine = pge_engine_new (config, &error);
  cr_assert_not_null (engine, "pge_engine_new through PgBouncer: %s", error ? error->message : "");
  return engine;
}

static void
run_threads (Run *run, GThreadFunc func)
{
  GThread *threads[N_THREADS];
  Worker workers[N_THREADS];

  for (guint t = 0; t < N_THREADS; t++)
    {
      workers[t] = (Worker) { run, t };
      threads[t] = g_thread_new ("pgbouncer-test", func, &workers[t]);
    }
  for (guint t = 0; t < N_THREADS; t++)
    g_thread_join (threads[t]);
}

static void
check_run (Run *run, guint total)
{
  cr_assert_eq (run->done, total, "%u of %u done", run->done, total);
  cr_assert (run->failed == 0 && run->wrong == 0,
             "of %u queries, %u failed and %u were answered wrong\n"
             "first failure: %s\nfirst wrong answer: %s",
             total, run->failed, run->wrong,
             run->first_failure ? run->first_failure : "-",
             run->first_wrong ? run->first_wrong : "-");
}

static void
clear_run (Run *run)
{
  g_clear_pointer (&run->engine, pge_engine_unref);
  g_clear_pointer (&run->first_failure, g_free);
  g_clear_pointer (&run->first_wrong, g_free);
  g_mutex_clear (&run->lock);
}

static void
interleaved_queries (guint cache, guint n_texts, guint total)
{
  Run run = { 0 };

  g_mutex_init (&run.lock);
  run.engine = pgbouncer_engine (cache);
  run.n_texts = n_texts;
  run.per_thread = total / N_THREADS;
  run_threads (&run, query_thread);
  check_run (&run, run.per_thread * N_THREADS);
  clear_run (&run);
}

/* The defaults, whatever they are (the statement cache included). */
Test (pgbouncer, default_config_right_answers)
{
  interleaved_queries (0, N_TEXTS, 2000);
}

Test (pgbouncer, statement_cache_right_answers)
{
  interleaved_queries (256, N_TEXTS, 2000);
}

/* Two entries for six texts: statements are evicted and prepared again
 * all the time, on server connections that other clients prepared on. */
Test (pgbouncer, small_statement_cache_right_answers)
{
  interleaved_queries (2, N_TEXTS, 1200);
}

/* BEGIN ... COMMIT keeps one server connection: both queries of a
 * transaction see its transaction id, and give their own answers. */
static gpointer
transaction_thread (gpointer data)
{
  Worker *worker = data;
  Run *run = worker->run;

  for (guint i = 0; i < run->per_thread; i++)
    {
      gint64 value = (gint64) worker->index * 1000000 + i;
      g_autoptr(GError) error = NULL;
      g_autoptr(PgeTransaction) tx = pge_engine_transaction (run->engine, PGE_TRANSACTION_DEFAULT,
                                                             &error);
      g_autoptr(PgeParams) first = pge_params_new ();
      g_autoptr(PgeParams) second = pge_params_new ();
      g_autoptr(PgeResult) a = NULL;
      g_autoptr(PgeResult) b = NULL;
      g_autofree char *want_a = NULL;
      g_autofree char *want_b = NULL;
      g_autofree char *got_a = NULL;
      g_autofree char *got_b = NULL;

      if (tx == NULL)
        {
          record (run, TRUE, g_strdup_printf ("transaction %" G_GINT64_FORMAT ": %s", value,
                                              error ? error->message : "no error"));
          count_done (run);
          continue;
        }
      pge_params_add_int64 (first, value);
      a = pge_transaction_query_sync (tx, "SELECT $1::int8 * 3 AS a, txid_current()::text AS x",
                                      first, &error);
      if (a != NULL)
        {
          g_autofree char *s = g_strdup_printf ("%" G_GINT64_FORMAT, value);

          pge_params_add_text (second, s);
          pge_params_add_int64 (second, i % 5);
          b = pge_transaction_query_sync (tx, "SELECT $1::text || '/' || $2::int AS s, "
                                              "txid_current()::text AS x, 'tx' AS t",
                                          second, &error);
        }
      if (a == NULL || b == NULL || !pge_transaction_commit (tx, &error))
        {
          record (run, TRUE, g_strdup_printf ("transaction %" G_GINT64_FORMAT ": %s", value,
                                              error ? error->message : "no error"));
          if (!pge_transaction_is_committed (tx) && !pge_transaction_is_rolled_back (tx))
            pge_transaction_rollback (tx, NULL);
          count_done (run);
          continue;
        }
      got_a = describe (a);
      got_b = describe (b);
      /* The same transaction id in both, whatever it is. */
      want_a = g_strdup_printf ("a|x\n%" G_GINT64_FORMAT "|%s\n", value * 3,
                                pge_result_get_value (a, 0, 1));
      want_b = g_strdup_printf ("s|x|t\n%" G_GINT64_FORMAT "/%u|%s|tx\n", value, i % 5,
                                pge_result_get_value (a, 0, 1));
      if (strcmp (got_a, want_a) != 0 || strcmp (got_b, want_b) != 0)
        record (run, FALSE, g_strdup_printf ("transaction %" G_GINT64_FORMAT ": want\n%s%sgot\n%s%s",
                                             value, want_a, want_b, got_a, got_b));
      count_done (run);
    }
  return NULL;
}

Test (pgbouncer, transactions_right_answers)
{
  Run run = { 0 };

  g_mutex_init (&run.lock);
  run.engine = pgbouncer_engine (0);
  run.per_thread = 200 / N_THREADS;
  run_threads (&run, transaction_thread);
  check_run (&run, 200);
  clear_run (&run);
}
