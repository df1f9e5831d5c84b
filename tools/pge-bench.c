/* pge-bench — pgengine against baselines measured in the same run.
 *
 * Workload: point SELECTs by primary key with one int8 parameter, the
 * bread and butter of an application server. Modes, each over the same
 * number of queries:
 *
 *   libpq-1      one raw libpq connection, PQexecParams in a loop
 *   libpq-pool   W threads, each with its own raw connection, taking the
 *                next query number from one atomic counter: a hand-written
 *                thread pool with no queue overhead at all (a ceiling)
 *   engine-sync  W threads calling pge_engine_query_sync() on a W-worker
 *                engine: the same shape as libpq-pool, through pgengine
 *   engine-async one thread submitting futures (up to 256 in flight) to a
 *                W-worker engine, then waiting: what futures buy
 *   engine-cache the same with pge_config_set_statement_cache (100): each
 *                connection prepares the query once
 *   engine-pipe  the same with pge_config_set_pipeline_depth (16): busy
 *                workers send queued queries 16 to a round trip
 *   pgbench      pgbench -S -M extended -c W -j W, if pgbench is installed
 *
 * Every figure is printed with the ratio to libpq-pool. The machine is
 * shared by client and server, so read ratios, not absolutes.
 *
 *   pge-bench [CONNINFO] [N_QUERIES] [N_WORKERS]
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <pgengine.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TABLE_ROWS 10000
#define WINDOW 256
#define QUERY "SELECT v FROM pge_bench WHERE id = $1"

static const char *conninfo;
static guint n_queries = 40000;
static guint n_workers = 4;

static void
die (const char *what, const char *message)
{
  fprintf (stderr, "pge-bench: %s: %s\n", what, message);
  exit (1);
}

static PGconn *
raw_connect (void)
{
  PGconn *conn = PQconnectdb (conninfo ? conninfo : "");

  if (PQstatus (conn) != CONNECTION_OK)
    die ("connect", PQerrorMessage (conn));
  return conn;
}

static void
raw_point_select (PGconn *conn, guint i)
{
  char id[32];
  const char *values[1] = { id };
  Oid types[1] = { 20 };
  PGresult *res;

  g_snprintf (id, sizeof id, "%u", 1 + i % TABLE_ROWS);
  res = PQexecParams (conn, QUERY, 1, types, values, NULL, NULL, 0);
  if (PQresultStatus (res) != PGRES_TUPLES_OK || PQntuples (res) != 1)
    die ("libpq query", PQresultErrorMessage (res));
  PQclear (res);
}

/* ------------------------------------------------------------ baselines */

static double
run_libpq_single (void)
{
  PGconn *conn = raw_connect ();
  gint64 start = g_get_monotonic_time ();

  for (guint i = 0; i < n_queries; i++)
    raw_point_select (conn, i);
  start = g_get_monotonic_time () - start;
  PQfinish (conn);
  return start / 1e6;
}

static gint next_query;

static gpointer
libpq_pool_thread (gpointer data)
{
  PGconn *conn = data;
  guint i;

  while ((i = (guint) g_atomic_int_add (&next_query, 1)) < n_queries)
    raw_point_select (conn, i);
  return NULL;
}

static double
run_libpq_pool (void)
{
  g_autofree PGconn **conns = g_new0 (PGconn *, n_workers);
  g_autofree GThread **threads = g_new0 (GThread *, n_workers);
  gint64 start;

  for (guint w = 0; w < n_workers; w++)
    conns[w] = raw_connect ();
  g_atomic_int_set (&next_query, 0);
  start = g_get_monotonic_time ();
  for (guint w = 0; w < n_workers; w++)
    threads[w] = g_thread_new ("libpq-pool", libpq_pool_thread, conns[w]);
  for (guint w = 0; w < n_workers; w++)
    g_thread_join (threads[w]);
  start = g_get_monotonic_time () - start;
  for (guint w = 0; w < n_workers; w++)
    PQfinish (conns[w]);
  return start / 1e6;
}

/* --------------------------------------------------------------- engine */

static PgeEngine *
engine_new (guint pipeline_depth, guint statement_cache)
{
  g_autoptr(PgeConfig) config = pge_config_new (conninfo);
  g_autoptr(GError) error = NULL;
  PgeEngine *engine;

  pge_config_set_workers (config, n_workers);
  pge_config_set_pipeline_depth (config, pipeline_depth);
  pge_config_set_statement_cache (config, statement_cache);
  engine = pge_engine_new (config, &error);
  if (engine == NULL)
    die ("pge_engine_new", error->message);
  return engine;
}

static void
check_result (PgeResult *result, GError *error)
{
  if (result == NULL || pge_result_get_n_rows (result) != 1)
    die ("engine query", error ? error->message : "wrong row count");
}

static gpointer
engine_sync_thread (gpointer data)
{
  PgeEngine *engine = data;
  guint i;

  while ((i = (guint) g_atomic_int_add (&next_query, 1)) < n_queries)
    {
      g_autoptr(PgeParams) params = pge_params_new ();
      g_autoptr(GError) error = NULL;
      g_autoptr(PgeResult) result = NULL;

      pge_params_add_int64 (params, 1 + i % TABLE_ROWS);
      result = pge_engine_query_sync (engine, QUERY, params, &error);
      check_result (result, error);
    }
  return NULL;
}

static double
run_engine_sync (void)
{
  g_autoptr(PgeEngine) engine = engine_new (1, 0);
  g_autofree GThread **threads = g_new0 (GThread *, n_workers);
  gint64 start;

  g_atomic_int_set (&next_query, 0);
  start = g_get_monotonic_time ();
  for (guint w = 0; w < n_workers; w++)
    threads[w] = g_thread_new ("engine-sync", engine_sync_thread, engine);
  for (guint w = 0; w < n_workers; w++)
    g_thread_join (threads[w]);
  return (g_get_monotonic_time () - start) / 1e6;
}

static double
run_engine_async (guint pipeline_depth, guint statement_cache)
{
  g_autoptr(PgeEngine) engine = engine_new (pipeline_depth, statement_cache);
  PgeFuture *window[WINDOW] = { NULL };
  gint64 start = g_get_monotonic_time ();

  for (guint i = 0; i < n_queries + WINDOW; i++)
    {
      guint slot = i % WINDOW;

      if (window[slot] != NULL)
        {
          g_autoptr(GError) error = NULL;
          g_autoptr(PgeResult) result = pge_future_wait (window[slot], &error);

          check_result (result, error);
          g_clear_pointer (&window[slot], pge_future_unref);
        }
      if (i < n_queries)
        {
          g_autoptr(PgeParams) params = pge_params_new ();

          pge_params_add_int64 (params, 1 + i % TABLE_ROWS);
          window[slot] = pge_engine_query (engine, QUERY, params);
        }
    }
  return (g_get_monotonic_time () - start) / 1e6;
}

/* -------------------------------------------------------------- pgbench */

static char *
find_pgbench (void)
{
  g_autoptr(GDir) dir = g_dir_open ("/usr/lib/postgresql", 0, NULL);
  const char *name;
  char *best = NULL;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      char *path = g_build_filename ("/usr/lib/postgresql", name, "bin", "pgbench", NULL);

      if (g_file_test (path, G_FILE_TEST_IS_EXECUTABLE) && (best == NULL || g_strcmp0 (path, best) > 0))
        g_free (g_steal_pointer (&best)), best = path;
      else
        g_free (path);
    }
  return best ? best : g_find_program_in_path ("pgbench");
}

/* Returns pgbench's tps (without connection time), or -1. */
static double
run_pgbench (const char *pgbench)
{
  g_autofree char *clients = g_strdup_printf ("%u", n_workers);
  g_autofree char *out = NULL;
  const char *init[] = { pgbench, "-i", "-q", "-s", "1", conninfo ? conninfo : "", NULL };
  const char *run[] = { pgbench, "-S", "-M", "extended", "-n", "-T", "5", "-c", clients, "-j", clients,
                        conninfo ? conninfo : "", NULL };
  const char *line;
  int status = 0;

  if (!g_spawn_sync (NULL, (char **) init, NULL, G_SPAWN_STDOUT_TO_DEV_NULL | G_SPAWN_STDERR_TO_DEV_NULL,
                     NULL, NULL, NULL, NULL, &status, NULL) || !g_spawn_check_wait_status (status, NULL))
    return -1;
  if (!g_spawn_sync (NULL, (char **) run, NULL, G_SPAWN_STDERR_TO_DEV_NULL, NULL, NULL, &out, NULL,
                     &status, NULL) || !g_spawn_check_wait_status (status, NULL))
    return -1;
  line = strstr (out, "tps = ");
  return line ? g_ascii_strtod (line + 6, NULL) : -1;
}

/* ----------------------------------------------------------------- main */

static void
prepare_table (void)
{
  PGconn *conn = raw_connect ();
  g_autofree char *sql = g_strdup_printf (
      "DROP TABLE IF EXISTS pge_bench;"
      "CREATE TABLE pge_bench (id int8 PRIMARY KEY, v text NOT NULL);"
      "INSERT INTO pge_bench SELECT g, md5(g::text) FROM generate_series(1, %d) g;"
      "ANALYZE pge_bench", TABLE_ROWS);
  PGresult *res = PQexec (conn, sql);

  if (PQresultStatus (res) != PGRES_COMMAND_OK)
    die ("prepare", PQresultErrorMessage (res));
  PQclear (res);
  PQfinish (conn);
}

#define ROUNDS 3

typedef struct {
  const char *mode;
  const char *what;
  double    (*run) (void);
  double      qps[ROUNDS];
} Mode;

static double run_engine_async_plain (void) { return run_engine_async (1, 0); }
static double run_engine_async_cached (void) { return run_engine_async (1, 100); }
static double run_engine_async_pipelined (void) { return run_engine_async (16, 0); }

static int
compare_doubles (const void *a, const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;

  return (x > y) - (x < y);
}

static double
median (const double *values)
{
  double sorted[ROUNDS];

  memcpy (sorted, values, sizeof sorted);
  qsort (sorted, ROUNDS, sizeof (double), compare_doubles);
  return sorted[ROUNDS / 2];
}

int
main (int argc, char **argv)
{
  g_autofree char *pgbench = NULL;
  g_autofree char *threads_what = NULL;
  Mode modes[] = {
    { "libpq-pool", NULL, run_libpq_pool, { 0 } },
    { "libpq-1", "1 connection, sequential", run_libpq_single, { 0 } },
    { "engine-sync", "same threads, pge_engine_query_sync", run_engine_sync, { 0 } },
    { "engine-async", "1 thread, futures, 256 in flight", run_engine_async_plain, { 0 } },
    { "engine-cache", "the same, statement cache 100", run_engine_async_cached, { 0 } },
    { "engine-pipe", "the same, pipeline depth 16", run_engine_async_pipelined, { 0 } },
  };
  double baseline, tps;

  conninfo = argc > 1 ? argv[1] : g_getenv ("PGE_BENCH_CONNINFO");
  if (argc > 2)
    n_queries = (guint) g_ascii_strtoull (argv[2], NULL, 10);
  if (argc > 3)
    n_workers = (guint) g_ascii_strtoull (argv[3], NULL, 10);
  if (n_queries == 0 || n_workers == 0 || n_workers > 256)
    die ("usage", "pge-bench [CONNINFO] [N_QUERIES > 0] [N_WORKERS 1..256]");

  prepare_table ();
  printf ("pge-bench: %u point SELECTs per mode and round, %d rounds interleaved, median shown;\n"
          "%u workers/threads/clients, %u CPUs shared with the server\n",
          n_queries, ROUNDS, n_workers, g_get_num_processors ());
  threads_what = g_strdup_printf ("%u threads, own connections (baseline)", n_workers);
  modes[0].what = threads_what;
  /* Warm the server's caches so the first mode is not penalised. */
  run_libpq_pool ();
  for (guint round = 0; round < ROUNDS; round++)
    for (guint m = 0; m < G_N_ELEMENTS (modes); m++)
      modes[m].qps[round] = n_queries / modes[m].run ();

  baseline = median (modes[0].qps);
  for (guint m = 0; m < G_N_ELEMENTS (modes); m++)
    {
      double qps = median (modes[m].qps);

      printf ("  %-13s %-44s %9.0f q/s  %7.1f us/q  x%.2f   (rounds: %.0f %.0f %.0f)\n",
              modes[m].mode, modes[m].what, qps, 1e6 / qps, qps / baseline,
              modes[m].qps[0], modes[m].qps[1], modes[m].qps[2]);
    }

  pgbench = find_pgbench ();
  tps = pgbench ? run_pgbench (pgbench) : -1;
  if (tps > 0)
    printf ("  %-13s %-44s %9.0f q/s  %7.1f us/q  x%.2f   (one 5 s run)\n", "pgbench",
            "-S -M extended", tps, 1e6 / tps, tps / baseline);
  else
    printf ("  %-13s not run (pgbench not found or failed)\n", "pgbench");
  printf ("  (xN = median queries per second relative to libpq-pool's median, this run)\n");
  return 0;
}
