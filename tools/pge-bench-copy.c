/* pge-bench-copy.c — loading rows: COPY FROM STDIN against a pipelined
 * atomic of INSERTs and against INSERTs one by one, in one run.
 *
 *   pge-bench-copy [CONNINFO]      (or PGE_BENCH_CONNINFO; libpq defaults)
 *
 * Each method loads rows (id bigint, x text: "x<id>") into a fresh table,
 * committed, and the count is verified:
 *   - COPY:       pge_engine_copy_from_callback_sync(), text format, the
 *                 rows generated chunk by chunk (64 KiB) by the callback;
 *                 PGE_BENCH_COPY_ROWS rows (default 1000000);
 *   - atomic:     pge_atomic_run_sync() of PGE_BENCH_ATOMIC_SIZE INSERTs
 *                 each (default 10000: BEGIN, the INSERTs with their two
 *                 parameters, COMMIT, in one pipelined round trip), one
 *                 after the other, PGE_BENCH_ATOMIC_ROWS rows in all
 *                 (default 1000000);
 *   - one by one: pge_engine_query_sync() per row, autocommit, on
 *                 PGE_BENCH_ONE_ROWS rows only (default 20000), since it
 *                 is slow: its rate is what 1M rows would take, extrapolated
 *                 (the output says so, for any method run on fewer than 1M).
 * For each: wall time (g_get_monotonic_time), rows/s, and the client's CPU
 * per row (getrusage of this process: every thread, the engine's workers
 * included; the server's CPU is not counted). The ratios are rates
 * against each other, measured in the same run on the same server.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <pgengine.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

static PgeEngine *engine;
static char *table;

typedef struct {
  const char *name;
  guint       rows;
  double      seconds;
  double      cpu_seconds;
} Measure;

static void
die (const char *what, GError *error)
{
  fprintf (stderr, "pge-bench-copy: %s: %s\n", what, error ? error->message : "failed");
  exit (1);
}

static guint
env_uint (const char *name, guint fallback)
{
  const char *value = g_getenv (name);

  return value != NULL && atoi (value) > 0 ? (guint) atoi (value) : fallback;
}

static void
exec_or_die (const char *sql)
{
  GError *error = NULL;

  if (!pge_engine_exec_sync (engine, sql, &error))
    die (sql, error);
}

static double
cpu_now (void)
{
  struct rusage usage;

  getrusage (RUSAGE_SELF, &usage);
  return usage.ru_utime.tv_sec + usage.ru_stime.tv_sec +
         (usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
}

static void
fresh_table (void)
{
  g_autofree char *sql = g_strdup_printf ("DROP TABLE IF EXISTS %s; CREATE TABLE %s (id bigint, x text)",
                                          table, table);

  exec_or_die (sql);
}

static void
verify (guint rows)
{
  g_autofree char *sql = g_strdup_printf ("SELECT count(*) FROM %s", table);
  g_autoptr(PgeResult) count = NULL;
  GError *error = NULL;

  count = pge_engine_query_sync (engine, sql, NULL, &error);
  if (count == NULL)
    die ("count", error);
  if (pge_result_get_int64 (count, 0, 0) != (gint64) rows)
    die ("count: the rows are not all there", NULL);
}

/* ------------------------------------------------------------------ COPY */

typedef struct {
  guint next;
  guint last;
} Generator;

static gssize
generate (char *buffer, gsize size, gpointer data, GError **error)
{
  Generator *gen = data;
  gsize used = 0;

  while (gen->next <= gen->last && size - used >= 48)
    {
      used += (gsize) g_snprintf (buffer + used, size - used, "%u\tx%u\n", gen->next, gen->next);
      gen->next++;
    }
  return (gssize) used;
}

static void
load_copy (guint rows)
{
  g_autofree char *sql = g_strdup_printf ("COPY %s (id, x) FROM STDIN", table);
  Generator gen = { 1, rows };
  g_autoptr(PgeResult) result = NULL;
  GError *error = NULL;

  result = pge_engine_copy_from_callback_sync (engine, sql, generate, &gen, &error);
  if (result == NULL)
    die ("COPY", error);
  if (pge_result_get_rows_affected (result) != rows)
    die ("COPY: wrong row count", NULL);
}

/* ---------------------------------------------------------------- INSERTs */

static PgeParams *
row_params (guint id)
{
  PgeParams *params = pge_params_new ();
  char x[24];

  g_snprintf (x, sizeof x, "x%u", id);
  pge_params_add_int64 (params, id);
  pge_params_add_text (params, x);
  return params;
}

static void
load_atomic (guint rows)
{
  g_autofree char *sql = g_strdup_printf ("INSERT INTO %s (id, x) VALUES ($1, $2)", table);
  guint size = env_uint ("PGE_BENCH_ATOMIC_SIZE", 10000);

  for (guint first = 1; first <= rows; first += size)
    {
      g_autoptr(PgeAtomic) atomic = pge_engine_atomic (engine);
      GError *error = NULL;

      for (guint id = first; id < first + size && id <= rows; id++)
        {
          g_autoptr(PgeParams) params = row_params (id);

          pge_atomic_add (atomic, sql, params);
        }
      if (!pge_atomic_run_sync (atomic, &error))
        die ("atomic", error);
    }
}

static void
load_one_by_one (guint rows)
{
  g_autofree char *sql = g_strdup_printf ("INSERT INTO %s (id, x) VALUES ($1, $2)", table);

  for (guint id = 1; id <= rows; id++)
    {
      g_autoptr(PgeParams) params = row_params (id);
      GError *error = NULL;
      PgeResult *result = pge_engine_query_sync (engine, sql, params, &error);

      if (result == NULL)
        die ("INSERT", error);
      pge_result_unref (result);
    }
}

/* ------------------------------------------------------------------ main */

static Measure
measure (const char *name, void (*load) (guint), guint rows)
{
  Measure m = { name, rows, 0, 0 };
  gint64 start;
  double cpu;

  fresh_table ();
  cpu = cpu_now ();
  start = g_get_monotonic_time ();
  load (rows);
  m.seconds = (g_get_monotonic_time () - start) / 1e6;
  m.cpu_seconds = cpu_now () - cpu;
  verify (rows);
  return m;
}

static double
rate (const Measure *m)
{
  return m->rows / m->seconds;
}

/* A method measured on fewer rows says what 1M would take at its rate. */
static void
print_measure (const Measure *m)
{
  g_autofree char *note = m->rows < 1000000
                          ? g_strdup_printf ("  (1M rows: %.0f s, extrapolated)", 1e6 / rate (m))
                          : g_strdup ("");

  printf ("  %-11s %8u rows %8.2f s %10.0f rows/s %7.2f µs client CPU/row%s\n", m->name, m->rows,
          m->seconds, rate (m), m->cpu_seconds * 1e6 / m->rows, note);
}

int
main (int argc, char **argv)
{
  const char *conninfo = argc > 1 ? argv[1] : g_getenv ("PGE_BENCH_CONNINFO");
  g_autoptr(PgeConfig) config = pge_config_new (conninfo);
  g_autofree char *drop = NULL;
  GError *error = NULL;
  Measure copy, atomic, one;

  pge_config_set_workers (config, 2);
  engine = pge_engine_new (config, &error);
  if (engine == NULL)
    die ("connect", error);
  table = g_strdup_printf ("pge_bench_copy_%d", (int) getpid ());
  drop = g_strdup_printf ("DROP TABLE IF EXISTS %s", table);

  printf ("pge-bench-copy: PostgreSQL %d, libpgengine %d.%d\n", pge_engine_get_server_version (engine),
          PGE_MAJOR_VERSION, PGE_MINOR_VERSION);
  printf ("loading (id bigint, x text) rows into a fresh table, committed, count verified\n");
  copy = measure ("COPY", load_copy, env_uint ("PGE_BENCH_COPY_ROWS", 1000000));
  atomic = measure ("atomic", load_atomic, env_uint ("PGE_BENCH_ATOMIC_ROWS", 1000000));
  one = measure ("one by one", load_one_by_one, env_uint ("PGE_BENCH_ONE_ROWS", 20000));
  print_measure (&copy);
  print_measure (&atomic);
  print_measure (&one);
  printf ("  atomic: pipelined atomics of %u INSERTs each; one by one: autocommit, one round trip "
          "and one commit per row\n", env_uint ("PGE_BENCH_ATOMIC_SIZE", 10000));
  printf ("ratios (rows/s): COPY / atomic = %.1fx, COPY / one by one = %.1fx, "
          "atomic / one by one = %.1fx\n", rate (&copy) / rate (&atomic), rate (&copy) / rate (&one),
          rate (&atomic) / rate (&one));

  exec_or_die (drop);
  pge_engine_unref (engine);
  g_free (table);
  return 0;
}
