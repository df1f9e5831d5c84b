/* pge-bench-batch.c — measures what PgeAtomic's pipelining and PgeBatch's
 * prefetch buy, against the same work done without them, in one run.
 *
 *   pge-bench-batch [CONNINFO]      (or PGE_BENCH_CONNINFO; libpq defaults)
 *
 * (a) 100 INSERTs (one bigint parameter each) into a fresh table:
 *     - atomic:   one PgeAtomic, run with pge_atomic_run_sync() — BEGIN,
 *                 100 INSERTs, COMMIT in one pipelined round trip;
 *     - one by one, autocommit: 100 pge_engine_query_sync() calls, each its
 *                 own round trip and its own commit (what code without an
 *                 atomic usually does);
 *     - one by one, one transaction: the same 100 calls between
 *                 pge_engine_transaction() and commit: 102 round trips but
 *                 one commit, which separates the round-trip saving from
 *                 the commit saving.
 *     Each variant is run PGE_BENCH_REPS times (default 21), interleaved,
 *     and the median wall time is reported. Building the atomic (copying
 *     SQL and parameters) is inside its timing.
 *
 * (b) A batch scan of PGE_BENCH_ROWS rows (default 200000) of
 *     `SELECT g, md5(g::text) FROM generate_series(1, n) g`, 1000 rows a
 *     chunk, where the caller parses every value of each chunk and then
 *     works until W µs have passed for that chunk: once spinning on the
 *     CPU, once sleeping (work that waits, e.g. writing the rows
 *     elsewhere). W is the fetching side's own time per chunk, measured
 *     first by scans without prefetch and without work, so that caller and
 *     fetcher take about as long: the case where overlapping them can gain
 *     most (2x at best). Each scan runs with prefetch on and off
 *     (PGE_BATCH_PREFETCH, read by the library when each batch is
 *     created), interleaved, PGE_BENCH_SCANS times each (default 5);
 *     medians reported. CPU-bound overlap needs a free core for each of
 *     the caller, the worker thread and the server process: on a busy or
 *     small machine the spin case gains less than the sleep case.
 *
 * Times are wall-clock (g_get_monotonic_time). Over a loopback connection
 * a round trip is tens of µs; over a real network every ratio involving
 * round trips grows.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <pgengine.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define N_INSERTS 100
#define CHUNK     1000

static PgeEngine *engine;
static char *table;

static void
die (const char *what, GError *error)
{
  fprintf (stderr, "pge-bench-batch: %s: %s\n", what, error ? error->message : "failed");
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

static int
compare_double (const void *a, const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;

  return x < y ? -1 : x > y;
}

static double
median (double *values, guint n)
{
  qsort (values, n, sizeof *values, compare_double);
  return n % 2 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

/* ------------------------------------------------------------ (a) inserts */

static char *insert_sql;
static gint64 next_value = 1;

static PgeParams *
insert_params (void)
{
  PgeParams *params = pge_params_new ();

  pge_params_add_int64 (params, next_value++);
  return params;
}

static double
run_atomic (void)
{
  gint64 start = g_get_monotonic_time ();
  g_autoptr(PgeAtomic) atomic = pge_engine_atomic (engine);
  GError *error = NULL;

  for (int i = 0; i < N_INSERTS; i++)
    {
      g_autoptr(PgeParams) params = insert_params ();

      pge_atomic_add (atomic, insert_sql, params);
    }
  if (!pge_atomic_run_sync (atomic, &error))
    die ("atomic", error);
  return (g_get_monotonic_time () - start) / 1000.0;
}

static void
insert_one_by_one (void)
{
  for (int i = 0; i < N_INSERTS; i++)
    {
      g_autoptr(PgeParams) params = insert_params ();
      GError *error = NULL;
      PgeResult *result = pge_engine_query_sync (engine, insert_sql, params, &error);

      if (result == NULL)
        die ("insert", error);
      pge_result_unref (result);
    }
}

static double
run_autocommit (void)
{
  gint64 start = g_get_monotonic_time ();

  insert_one_by_one ();
  return (g_get_monotonic_time () - start) / 1000.0;
}

static double
run_in_transaction (void)
{
  gint64 start = g_get_monotonic_time ();
  GError *error = NULL;
  g_autoptr(PgeTransaction) tx = pge_engine_transaction (engine, PGE_TRANSACTION_DEFAULT, &error);

  if (tx == NULL)
    die ("transaction", error);
  insert_one_by_one ();   /* routed into tx: this thread's current transaction */
  if (!pge_transaction_commit (tx, &error))
    die ("commit", error);
  return (g_get_monotonic_time () - start) / 1000.0;
}

static void
bench_inserts (guint reps)
{
  g_autofree double *atomic = g_new (double, reps);
  g_autofree double *autocommit = g_new (double, reps);
  g_autofree double *in_tx = g_new (double, reps);
  g_autofree char *count_sql = g_strdup_printf ("SELECT count(*) FROM %s", table);
  g_autoptr(PgeResult) count = NULL;
  GError *error = NULL;
  double m_atomic, m_autocommit, m_tx;

  /* Warm up: connections, plans, the table's first pages. */
  run_atomic ();
  run_autocommit ();
  run_in_transaction ();
  for (guint r = 0; r < reps; r++)
    {
      /* Interleaved, so drift (checkpoints, caches) hits all alike. */
      atomic[r] = run_atomic ();
      autocommit[r] = run_autocommit ();
      in_tx[r] = run_in_transaction ();
    }
  count = pge_engine_query_sync (engine, count_sql, NULL, &error);
  if (count == NULL)
    die ("count", error);
  if (pge_result_get_int64 (count, 0, 0) != (gint64) (reps + 1) * 3 * N_INSERTS)
    die ("count: some inserts are missing", NULL);

  printf ("(a) %d INSERTs, %u repetitions each, interleaved; every run's rows verified\n",
          N_INSERTS, reps);
  printf ("    raw ms, atomic:        ");
  for (guint r = 0; r < reps; r++)
    printf (" %.2f", atomic[r]);
  printf ("\n    raw ms, autocommit:    ");
  for (guint r = 0; r < reps; r++)
    printf (" %.2f", autocommit[r]);
  printf ("\n    raw ms, one tx:        ");
  for (guint r = 0; r < reps; r++)
    printf (" %.2f", in_tx[r]);
  m_atomic = median (atomic, reps);
  m_autocommit = median (autocommit, reps);
  m_tx = median (in_tx, reps);
  printf ("\n    median: pipelined atomic      %8.2f ms  (1 round trip, 1 commit)\n", m_atomic);
  printf ("    median: one by one, autocommit %7.2f ms  (100 round trips, 100 commits)\n", m_autocommit);
  printf ("    median: one by one, one tx   %9.2f ms  (102 round trips, 1 commit)\n", m_tx);
  printf ("    ratio:  autocommit / atomic = %.1fx;  one tx / atomic = %.1fx\n\n",
          m_autocommit / m_atomic, m_tx / m_atomic);
}

/* ---------------------------------------------------------- (b) batch scan */

typedef enum {
  WORK_NONE,    /* only look at the row count */
  WORK_CPU,     /* parse every value, then spin: CPU-bound work */
  WORK_WAIT     /* parse every value, then sleep: work that waits (I/O) */
} Work;

static volatile guint64 sink;

/* Stands for the caller's work on a chunk. */
static void
work_on (PgeResult *chunk, Work work, double work_us)
{
  gint64 until = g_get_monotonic_time () + (gint64) work_us;
  guint64 acc = 0;

  if (work == WORK_NONE)
    return;
  for (guint row = 0; row < pge_result_get_n_rows (chunk); row++)
    {
      acc += (guint64) pge_result_get_int64 (chunk, row, 0);
      acc += strlen (pge_result_get_value (chunk, row, 1));
    }
  sink += acc;
  if (work == WORK_CPU)
    while (g_get_monotonic_time () < until)
      sink++;
  else
    {
      gint64 left = until - g_get_monotonic_time ();   /* read once: a second read may be past until */

      if (left > 0)
        g_usleep (left);
    }
}

typedef struct {
  double total_ms;
  double wait_ms;      /* blocked in pge_batch_next() */
  double work_ms;      /* in work_on() */
  guint  n_chunks;
} Scan;

static Scan
scan (guint n_rows, gboolean prefetch, Work work, double work_us)
{
  g_autoptr(PgeParams) params = pge_params_new ();
  g_autoptr(PgeBatch) batch = NULL;
  GError *error = NULL;
  PgeResult *chunk;
  Scan out = { 0 };
  gint64 start, t;
  guint64 rows = 0;

  /* Read by the library at batch creation. The workers are idle here, and
   * libpq reads the environment only when connecting. */
  g_setenv ("PGE_BATCH_PREFETCH", prefetch ? "1" : "0", TRUE);
  pge_params_add_int64 (params, n_rows);
  start = g_get_monotonic_time ();
  batch = pge_engine_batch (engine, "SELECT g, md5(g::text) FROM generate_series(1, $1::bigint) g",
                            params, CHUNK, &error);
  if (batch == NULL)
    die ("batch", error);
  for (;;)
    {
      t = g_get_monotonic_time ();
      chunk = pge_batch_next (batch, &error);
      out.wait_ms += (g_get_monotonic_time () - t) / 1000.0;
      if (chunk == NULL)
        break;
      rows += pge_result_get_n_rows (chunk);
      t = g_get_monotonic_time ();
      work_on (chunk, work, work_us);
      out.work_ms += (g_get_monotonic_time () - t) / 1000.0;
      out.n_chunks++;
      pge_result_unref (chunk);
    }
  if (error != NULL)
    die ("next", error);
  if (!pge_batch_close (batch, &error))
    die ("close", error);
  out.total_ms = (g_get_monotonic_time () - start) / 1000.0;
  if (rows != n_rows)
    die ("scan: wrong row count", NULL);
  return out;
}

static void
bench_scan_with (const char *title, guint n_rows, guint reps, Work work, double work_us)
{
  g_autofree double *on = g_new (double, reps);
  g_autofree double *off = g_new (double, reps);
  g_autofree double *on_wait = g_new (double, reps);
  g_autofree double *off_wait = g_new (double, reps);
  g_autofree double *works = g_new (double, 2 * reps);
  double m_on, m_off;

  for (guint r = 0; r < reps; r++)
    {
      Scan s = scan (n_rows, TRUE, work, work_us);

      on[r] = s.total_ms;
      on_wait[r] = s.wait_ms;
      works[2 * r] = s.work_ms;
      s = scan (n_rows, FALSE, work, work_us);
      off[r] = s.total_ms;
      off_wait[r] = s.wait_ms;
      works[2 * r + 1] = s.work_ms;
    }
  m_on = median (on, reps);
  m_off = median (off, reps);
  printf ("    %s (caller's work per scan, median: %.1f ms)\n", title, median (works, 2 * reps));
  printf ("      raw ms, prefetch on: ");
  for (guint r = 0; r < reps; r++)
    printf (" %.1f", on[r]);
  printf ("\n      raw ms, prefetch off:");
  for (guint r = 0; r < reps; r++)
    printf (" %.1f", off[r]);
  printf ("\n      median: prefetch on  %8.1f ms (caller blocked in next(): %.1f ms)\n", m_on,
          median (on_wait, reps));
  printf ("      median: prefetch off %8.1f ms (caller blocked in next(): %.1f ms)\n", m_off,
          median (off_wait, reps));
  printf ("      ratio:  off / on = %.2fx\n", m_off / m_on);
}

static void
bench_scan (guint n_rows, guint reps)
{
  double base[5];
  double m_base, work_us;
  guint n_chunks = 0;

  /* The fetching side alone: server, transfer, libpq, with no work to
   * overlap it with (prefetch off, the caller only counts rows). */
  scan (n_rows, FALSE, WORK_NONE, 0);   /* warm-up */
  for (int i = 0; i < 5; i++)
    {
      Scan s = scan (n_rows, FALSE, WORK_NONE, 0);

      base[i] = s.total_ms;
      n_chunks = s.n_chunks;
    }
  m_base = median (base, 5);
  work_us = m_base * 1000.0 / n_chunks;

  printf ("(b) batch scan of %u rows (bigint + md5 text) in %u-row chunks = %u chunks.\n"
          "    Fetching alone (prefetch off, no work), median of 5: %.1f ms = %.0f µs a chunk.\n"
          "    The caller's work per chunk is set to about that (parse every value, then\n"
          "    spin or sleep up to %.0f µs), where overlap can gain most: 2x at best.\n"
          "    %u scans each, prefetch on and off interleaved; %ld CPUs online.\n",
          n_rows, CHUNK, n_chunks, m_base, work_us, work_us, reps, sysconf (_SC_NPROCESSORS_ONLN));
  bench_scan_with ("CPU-bound work (spin)", n_rows, reps, WORK_CPU, work_us);
  bench_scan_with ("waiting work (sleep, like I/O)", n_rows, reps, WORK_WAIT, work_us);
}

int
main (int argc, char **argv)
{
  const char *conninfo = argc > 1 ? argv[1] : g_getenv ("PGE_BENCH_CONNINFO");
  g_autoptr(PgeConfig) config = pge_config_new (conninfo);
  g_autofree char *create = NULL;
  g_autofree char *drop = NULL;
  GError *error = NULL;

  pge_config_set_workers (config, 2);
  engine = pge_engine_new (config, &error);
  if (engine == NULL)
    die ("connect", error);
  table = g_strdup_printf ("pge_bench_batch_%d", (int) getpid ());
  create = g_strdup_printf ("CREATE TABLE %s (id bigserial PRIMARY KEY, n bigint)", table);
  drop = g_strdup_printf ("DROP TABLE IF EXISTS %s", table);
  insert_sql = g_strdup_printf ("INSERT INTO %s (n) VALUES ($1)", table);
  exec_or_die (create);

  printf ("pge-bench-batch: PostgreSQL %d, libpgengine %d.%d\n\n",
          pge_engine_get_server_version (engine), PGE_MAJOR_VERSION, PGE_MINOR_VERSION);
  bench_inserts (env_uint ("PGE_BENCH_REPS", 21));
  bench_scan (env_uint ("PGE_BENCH_ROWS", 200000), env_uint ("PGE_BENCH_SCANS", 5));

  exec_or_die (drop);
  pge_engine_unref (engine);
  g_free (insert_sql);
  g_free (table);
  return 0;
}
