/* pge-bench — pgengine's throughput and client CPU against raw libpq,
 * measured in the same run.
 *
 * Workload: the point query `SELECT $1::int` with one int parameter, the
 * smallest round trip there is, so that what the engine itself costs shows.
 * Every engine runs with the default PgeConfig (pge_config_new (conninfo)
 * and nothing else): what users get, 4 workers. Modes:
 *
 *   raw1     baseline: 1 thread, its own libpq connection, PQprepare once,
 *            then PQexecPrepared per query
 *   raw4     baseline: the same with 4 threads, 4 connections, taking the
 *            next query from one shared atomic counter (no queue at all)
 *   sync1    1 thread calling pge_engine_query_sync()          vs raw1
 *   sync4    4 threads calling pge_engine_query_sync() on one
 *            engine                                            vs raw4
 *   futures  4 threads each keeping 16 futures in flight
 *            (pge_engine_query(), then pge_future_wait() on the
 *            oldest)                                           vs raw4
 *   sync16   16 threads calling pge_engine_query_sync() on the
 *            default 4-worker engine                           vs raw4
 *   pgbench  if pgbench is on PATH: pgbench -n -M prepared -c 4 -j 4 -T S
 *            running the same SELECT, one per transaction, and again with
 *            pipelines of 16 (\startpipeline ... \endpipeline): how fast
 *            PostgreSQL's own client goes on this machine       vs raw4
 *
 * Every mode runs once per round, in turn, for ROUNDS rounds (interleaved,
 * so that load drift hits all modes alike); each figure is the median over
 * the rounds. Connections and engines are set up and torn down outside the
 * timed part. Client CPU is user+sys of the whole process (all threads:
 * the callers and the engine's workers), getrusage (RUSAGE_SELF) deltas
 * around the timed part, per query; for pgbench it is the child's
 * (RUSAGE_CHILDREN), connection set-up included.
 *
 * Then an RSS check: one default engine, 4 sync threads, VmRSS read after
 * 100k queries (or half the total, if less) and again after
 * PGE_BENCH_RSS_QUERIES in total (default 1000000, 200000 with
 * PGE_BENCH_QUICK=1); the two should be within +-10%.
 *
 * The figures are ratios against baselines of the same run on the same
 * machine; on a small machine client and server share the cores, so read
 * ratios, not absolutes.
 *
 *   pge-bench [CONNINFO] [QUERIES_PER_MODE] [ROUNDS]
 *   pge-bench --shape sync1|sync4|futures|sync16 --queries N [CONNINFO]
 *
 * The second form runs only that engine shape, N queries, no baseline, no
 * pgbench, no RSS check (tools/pge-costs runs it under callgrind); raw1
 * and raw4 are accepted there too, to measure the baselines alike.
 * CONNINFO defaults to $PGE_BENCH_CONNINFO, then $PGE_CLUSTER_CONNINFO,
 * then libpq's defaults; PGE_BENCH_PGBENCH_SECS (default 2) is pgbench's -T.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <pgengine.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#define QUERY         "SELECT $1::int"
#define STATEMENT     "pge_bench_point"
#define VALUE_RANGE   1000
#define WINDOW        16      /* futures in flight per thread */
#define PIPELINE      16      /* statements per pgbench pipeline */
#define MAX_ROUNDS    51
#define MAX_THREADS   16

/* Settings: set once in main() before any thread starts, read-only after. */
static const char *conninfo = "";
static guint pgbench_secs = 2;

/* ---------------------------------------------------------------- helpers */

static G_NORETURN void
die (const char *what, const char *message)
{
  fprintf (stderr, "pge-bench: %s: %s\n", what, message ? message : "failed");
  exit (1);
}

static G_NORETURN void
die_error (const char *what, const GError *error)
{
  die (what, error != NULL ? error->message : "failed without an error");
}

static guint
env_uint (const char *name, guint fallback)
{
  const char *value = g_getenv (name);
  guint64 parsed;

  if (value == NULL || *value == '\0')
    return fallback;
  if (!g_ascii_string_to_unsigned (value, 10, 1, G_MAXINT / 2, &parsed, NULL))
    die (name, "not a positive number");
  return (guint) parsed;
}

static guint
parse_uint (const char *what, const char *text, guint max)
{
  guint64 parsed;
  g_autoptr(GError) error = NULL;

  if (!g_ascii_string_to_unsigned (text, 10, 1, max, &parsed, &error))
    die (what, error->message);
  return (guint) parsed;
}

/* User+sys CPU seconds of the whole process (who = RUSAGE_SELF) or of its
 * waited-for children (RUSAGE_CHILDREN). */
static double
cpu_seconds (int who)
{
  struct rusage usage;

  if (getrusage (who, &usage) != 0)
    die ("getrusage", g_strerror (errno));
  return usage.ru_utime.tv_sec + usage.ru_stime.tv_sec
         + (usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
}

/* VmRSS of this process in kB. */
static guint64
rss_kb (void)
{
  g_autofree char *status = NULL;
  g_autoptr(GError) error = NULL;
  const char *line;

  if (!g_file_get_contents ("/proc/self/status", &status, NULL, &error))
    die ("/proc/self/status", error->message);
  line = strstr (status, "VmRSS:");
  if (line == NULL)
    die ("/proc/self/status", "no VmRSS line");
  return g_ascii_strtoull (line + strlen ("VmRSS:"), NULL, 10);
}

static int
compare_doubles (const void *a, const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;

  return (x > y) - (x < y);
}

static double
median (const double *values, guint n)
{
  double sorted[MAX_ROUNDS];

  memcpy (sorted, values, n * sizeof (double));
  qsort (sorted, n, sizeof (double), compare_doubles);
  return n % 2 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
}

/* The value query number i selects: 1 .. VALUE_RANGE. */
static gint32
value_of (guint i)
{
  return (gint32) (1 + i % VALUE_RANGE);
}

/* ------------------------------------------------------- timed thread runs */

/* One measured run: n queries took wall seconds and cpu seconds. */
typedef struct {
  guint  n_queries;
  double wall;
  double cpu;
} Sample;

/* What each thread of a run gets. The counter is shared by all threads of
 * the run; each claims the next query number until n_queries are taken. */
typedef struct {
  gint      *next;
  guint      n_queries;
  PgeEngine *engine;   /* engine shapes */
  PGconn    *conn;     /* raw shapes: this thread's own connection */
} Worker;

/* The next query number for this thread, or FALSE once all are taken. */
static gboolean
claim (Worker *worker, guint *i)
{
  *i = (guint) g_atomic_int_add (worker->next, 1);
  return *i < worker->n_queries;
}

/* Starts n threads running func on workers[0..n-1], waits for them all and
 * measures wall and CPU time around exactly that. */
static Sample
run_threads (GThreadFunc func, Worker *workers, guint n_threads, guint n_queries)
{
  GThread *threads[MAX_THREADS];
  double cpu = cpu_seconds (RUSAGE_SELF);
  gint64 start = g_get_monotonic_time ();
  Sample sample = { n_queries, 0, 0 };

  g_assert (n_threads <= MAX_THREADS);
  for (guint t = 0; t < n_threads; t++)
    threads[t] = g_thread_new ("pge-bench", func, &workers[t]);
  for (guint t = 0; t < n_threads; t++)
    g_thread_join (threads[t]);
  sample.wall = (g_get_monotonic_time () - start) / 1e6;
  sample.cpu = cpu_seconds (RUSAGE_SELF) - cpu;
  return sample;
}

/* ---------------------------------------------------------- raw libpq */

static PGconn *
raw_connect (void)
{
  PGconn *conn = PQconnectdb (conninfo);
  PGresult *res;

  if (PQstatus (conn) != CONNECTION_OK)
    die ("connect", PQerrorMessage (conn));
  res = PQprepare (conn, STATEMENT, QUERY, 1, NULL);
  if (PQresultStatus (res) != PGRES_COMMAND_OK)
    die ("PQprepare", PQresultErrorMessage (res));
  PQclear (res);
  return conn;
}

static void
raw_query (PGconn *conn, gint32 value)
{
  char text[16];
  const char *values[1] = { text };
  PGresult *res;

  g_snprintf (text, sizeof text, "%d", value);
  res = PQexecPrepared (conn, STATEMENT, 1, values, NULL, NULL, 0);
  if (PQresultStatus (res) != PGRES_TUPLES_OK)
    die ("PQexecPrepared", PQresultErrorMessage (res));
  if (PQntuples (res) != 1 || atoi (PQgetvalue (res, 0, 0)) != value)
    die ("PQexecPrepared", "wrong result");
  PQclear (res);
}

static gpointer
raw_thread (gpointer data)
{
  Worker *worker = data;
  guint i;

  while (claim (worker, &i))
    raw_query (worker->conn, value_of (i));
  return NULL;
}

static Sample
run_raw (guint n_threads, guint n_queries)
{
  Worker workers[MAX_THREADS];
  gint next = 0;
  Sample sample;

  for (guint t = 0; t < n_threads; t++)
    workers[t] = (Worker) { &next, n_queries, NULL, raw_connect () };
  sample = run_threads (raw_thread, workers, n_threads, n_queries);
  for (guint t = 0; t < n_threads; t++)
    PQfinish (workers[t].conn);
  return sample;
}

static Sample run_raw1 (guint n_queries) { return run_raw (1, n_queries); }
static Sample run_raw4 (guint n_queries) { return run_raw (4, n_queries); }

/* -------------------------------------------------------------- engine */

static PgeEngine *
default_engine_new (void)
{
  g_autoptr(PgeConfig) config = pge_config_new (conninfo);
  g_autoptr(GError) error = NULL;
  PgeEngine *engine = pge_engine_new (config, &error);

  if (engine == NULL)
    die_error ("pge_engine_new", error);
  return engine;
}

static PgeParams *
params_for (gint32 value)
{
  PgeParams *params = pge_params_new ();

  pge_params_add_int32 (params, value);
  return params;
}

static void
check_result (const char *what, PgeResult *result, const GError *error, gint32 value)
{
  if (result == NULL)
    die_error (what, error);
  if (pge_result_get_n_rows (result) != 1 || pge_result_get_int64 (result, 0, 0) != value)
    die (what, "wrong result");
}

static gpointer
sync_thread (gpointer data)
{
  Worker *worker = data;
  guint i;

  while (claim (worker, &i))
    {
      g_autoptr(PgeParams) params = params_for (value_of (i));
      g_autoptr(GError) error = NULL;
      g_autoptr(PgeResult) result = pge_engine_query_sync (worker->engine, QUERY, params, &error);

      check_result ("pge_engine_query_sync", result, error, value_of (i));
    }
  return NULL;
}

static void
wait_future (PgeFuture **future, gint32 value)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PgeResult) result = pge_future_wait (*future, &error);

  check_result ("pge_future_wait", result, error, value);
  g_clear_pointer (future, pge_future_unref);
}

/* Keeps WINDOW futures in flight: submits until the window is full, then
 * waits for the oldest before submitting the next. */
static gpointer
futures_thread (gpointer data)
{
  Worker *worker = data;
  PgeFuture *window[WINDOW] = { NULL };
  gint32 values[WINDOW];
  guint submitted = 0, waited = 0, i;

  while (claim (worker, &i))
    {
      g_autoptr(PgeParams) params = NULL;
      guint slot = submitted++ % WINDOW;

      if (window[slot] != NULL)
        wait_future (&window[slot], values[slot]), waited++;
      values[slot] = value_of (i);
      params = params_for (values[slot]);
      window[slot] = pge_engine_query (worker->engine, QUERY, params);
      if (window[slot] == NULL)
        die ("pge_engine_query", "returned NULL");
    }
  for (; waited < submitted; waited++)
    wait_future (&window[waited % WINDOW], values[waited % WINDOW]);
  return NULL;
}

/* n_threads threads run func on one default engine, n_queries in all. */
static Sample
run_engine (GThreadFunc func, guint n_threads, guint n_queries)
{
  g_autoptr(PgeEngine) engine = default_engine_new ();
  Worker workers[MAX_THREADS];
  gint next = 0;

  for (guint t = 0; t < n_threads; t++)
    workers[t] = (Worker) { &next, n_queries, engine, NULL };
  return run_threads (func, workers, n_threads, n_queries);
}

static Sample run_sync1 (guint n_queries) { return run_engine (sync_thread, 1, n_queries); }
static Sample run_sync4 (guint n_queries) { return run_engine (sync_thread, 4, n_queries); }
static Sample run_futures (guint n_queries) { return run_engine (futures_thread, 4, n_queries); }
static Sample run_sync16 (guint n_queries) { return run_engine (sync_thread, 16, n_queries); }

/* ------------------------------------------------------------- pgbench */

/* pgbench's command line without the script: the conninfo's host, port,
 * user and dbname as -h -p -U -d; everything else it names (password,
 * sslmode ...) goes into the environment as libpq's PG* variables. */
static void
pgbench_connection (GPtrArray *argv, char ***envp)
{
  static const struct { const char *keyword, *flag; } flags[] = {
    { "host", "-h" }, { "port", "-p" }, { "user", "-U" }, { "dbname", "-d" },
  };
  char *message = NULL;
  PQconninfoOption *options = PQconninfoParse (conninfo, &message);

  if (options == NULL)
    die ("PQconninfoParse", message ? message : "out of memory");
  for (PQconninfoOption *o = options; o->keyword != NULL; o++)
    {
      gboolean as_flag = FALSE;

      if (o->val == NULL || *o->val == '\0')
        continue;
      for (guint f = 0; f < G_N_ELEMENTS (flags); f++)
        if (strcmp (o->keyword, flags[f].keyword) == 0)
          {
            g_ptr_array_add (argv, g_strdup (flags[f].flag));
            g_ptr_array_add (argv, g_strdup (o->val));
            as_flag = TRUE;
          }
      if (!as_flag && o->envvar != NULL)
        *envp = g_environ_setenv (*envp, o->envvar, o->val, TRUE);
    }
  PQconninfoFree (options);
}

/* Writes the script into a new temporary file and returns its name. */
static char *
pgbench_script (guint pipeline)
{
  g_autoptr(GString) script = g_string_new ("\\set x random(1, 1000)\n");
  g_autoptr(GError) error = NULL;
  char *path = NULL;
  int fd = g_file_open_tmp ("pge-bench-XXXXXX.sql", &path, &error);

  if (fd < 0)
    die_error ("g_file_open_tmp", error);
  close (fd);
  if (pipeline > 1)
    g_string_append (script, "\\startpipeline\n");
  for (guint i = 0; i < pipeline; i++)
    g_string_append (script, "SELECT :x::int;\n");
  if (pipeline > 1)
    g_string_append (script, "\\endpipeline\n");
  if (!g_file_set_contents (path, script->str, -1, &error))
    die_error (path, error);
  return path;
}

/* Runs pgbench for pgbench_secs with `pipeline` SELECTs per transaction
 * (1: no pipeline). Sample: queries done, their time (pgbench's tps
 * excludes connection time) and pgbench's CPU time (connecting included). */
static Sample
run_pgbench (guint pipeline)
{
  g_autofree char *pgbench = g_find_program_in_path ("pgbench");
  g_autofree char *script = pgbench_script (pipeline);
  g_autofree char *secs = g_strdup_printf ("%u", pgbench_secs);
  g_autofree char *out = NULL, *err = NULL;
  g_autoptr(GPtrArray) argv = g_ptr_array_new_with_free_func (g_free);
  g_auto(GStrv) envp = g_get_environ ();
  g_autoptr(GError) error = NULL;
  const char *fixed[] = { pgbench, "-n", "-M", "prepared", "-c", "4", "-j", "4", "-T", secs,
                          "-f", script };
  const char *tps_line, *count_line;
  Sample sample = { 0, 0, 0 };
  double cpu, tps;
  int status;

  if (pgbench == NULL)
    die ("pgbench", "not on PATH");
  for (guint a = 0; a < G_N_ELEMENTS (fixed); a++)
    g_ptr_array_add (argv, g_strdup (fixed[a]));
  pgbench_connection (argv, &envp);
  g_ptr_array_add (argv, NULL);

  cpu = cpu_seconds (RUSAGE_CHILDREN);
  if (!g_spawn_sync (NULL, (char **) argv->pdata, envp, G_SPAWN_DEFAULT, NULL, NULL,
                     &out, &err, &status, &error))
    die_error ("pgbench", error);
  sample.cpu = cpu_seconds (RUSAGE_CHILDREN) - cpu;
  if (unlink (script) != 0)
    die (script, g_strerror (errno));
  if (!g_spawn_check_wait_status (status, &error))
    die ("pgbench", err != NULL && *err != '\0' ? err : error->message);

  tps_line = strstr (out, "tps = ");
  count_line = strstr (out, "number of transactions actually processed: ");
  if (tps_line == NULL || count_line == NULL)
    die ("pgbench output", out);
  tps = g_ascii_strtod (tps_line + strlen ("tps = "), NULL);
  sample.n_queries = pipeline * (guint) g_ascii_strtoull (
      count_line + strlen ("number of transactions actually processed: "), NULL, 10);
  if (tps <= 0 || sample.n_queries == 0)
    die ("pgbench output", out);
  sample.wall = sample.n_queries / (tps * pipeline);
  return sample;
}

static Sample run_pgbench1 (guint n_queries) { return run_pgbench (1); }
static Sample run_pgbench16 (guint n_queries) { return run_pgbench (PIPELINE); }

/* --------------------------------------------------------------- modes */

typedef struct {
  const char *name;
  const char *what;
  Sample    (*run) (guint n_queries);
  double      qps[MAX_ROUNDS];     /* per round */
  double      cpu_us[MAX_ROUNDS];  /* client CPU µs per query, per round */
} Mode;

enum { RAW1, RAW4, SYNC1, SYNC4, FUTURES, SYNC16, PGBENCH1, PGBENCH16, N_MODES };

/* A shape of the final table: an engine mode against its baseline. */
typedef struct {
  const char *title;
  guint       mode, baseline;
  double      min_ratio;      /* throughput target, 0 = none */
  double      max_cpu_ratio;  /* CPU per query target, 0 = none */
} Shape;

static const Shape shapes[] = {
  { "1 thread sync", SYNC1, RAW1, 0.95, 1.2 },
  { "4 threads sync", SYNC4, RAW4, 0.95, 0 },
  { "4 threads x 16 futures", FUTURES, RAW4, 3.0, 0 },
  { "16 sync threads / 4 workers", SYNC16, RAW4, 1.5, 0 },
  { "pgbench -M prepared -c4 -j4", PGBENCH1, RAW4, 0, 0 },
  { "pgbench, pipelines of 16", PGBENCH16, RAW4, 0, 0 },
};

static void
record (Mode *mode, guint round, Sample sample)
{
  mode->qps[round] = sample.n_queries / sample.wall;
  mode->cpu_us[round] = sample.cpu * 1e6 / sample.n_queries;
}

static void
run_rounds (Mode *modes, guint n_modes, guint n_queries, guint n_rounds)
{
  for (guint round = 0; round < n_rounds; round++)
    {
      printf ("round %u/%u:", round + 1, n_rounds);
      for (guint m = 0; m < n_modes; m++)
        {
          record (&modes[m], round, modes[m].run (n_queries));
          printf (" %s %.0f", modes[m].name, modes[m].qps[round]);
          fflush (stdout);
        }
      printf (" q/s\n");
    }
}

static void
print_modes (const Mode *modes, guint n_modes, guint n_rounds)
{
  printf ("\nmedians over %u rounds (client CPU = user+sys of all client threads):\n", n_rounds);
  for (guint m = 0; m < n_modes; m++)
    {
      double lo = modes[m].qps[0], hi = modes[m].qps[0];

      for (guint r = 1; r < n_rounds; r++)
        lo = MIN (lo, modes[m].qps[r]), hi = MAX (hi, modes[m].qps[r]);
      printf ("  %-9s %-52s %8.0f q/s (rounds %.0f..%.0f)  CPU %6.1f us/query\n",
              modes[m].name, modes[m].what, median (modes[m].qps, n_rounds), lo, hi,
              median (modes[m].cpu_us, n_rounds));
    }
}

static void
print_table (const Mode *modes, guint n_modes, guint n_rounds)
{
  printf ("\n%-28s | %10s | %12s | %6s | %-11s | %-19s | %4s | %13s | %8s | %9s\n", "shape",
          "engine q/s", "baseline q/s", "ratio", "per round", "target", "met", "CPU us/q eng.",
          "baseline", "CPU ratio");
  for (guint s = 0; s < G_N_ELEMENTS (shapes); s++)
    {
      const Shape *shape = &shapes[s];
      double qps, base_qps, cpu, base_cpu, ratio, cpu_ratio, lo = G_MAXDOUBLE, hi = 0;
      g_autofree char *target = NULL;
      gboolean met;

      if (shape->mode >= n_modes)
        continue;
      qps = median (modes[shape->mode].qps, n_rounds);
      base_qps = median (modes[shape->baseline].qps, n_rounds);
      cpu = median (modes[shape->mode].cpu_us, n_rounds);
      base_cpu = median (modes[shape->baseline].cpu_us, n_rounds);
      ratio = qps / base_qps;
      cpu_ratio = cpu / base_cpu;
      for (guint r = 0; r < n_rounds; r++)
        {
          double round_ratio = modes[shape->mode].qps[r] / modes[shape->baseline].qps[r];

          lo = MIN (lo, round_ratio), hi = MAX (hi, round_ratio);
        }
      met = ratio >= shape->min_ratio && (shape->max_cpu_ratio == 0 || cpu_ratio <= shape->max_cpu_ratio);
      if (shape->min_ratio == 0)
        target = g_strdup ("(reference)");
      else if (shape->max_cpu_ratio > 0)
        target = g_strdup_printf (">=%.2fx, CPU <=%.1fx", shape->min_ratio, shape->max_cpu_ratio);
      else
        target = g_strdup_printf (">=%.2fx", shape->min_ratio);
      printf ("%-28s | %10.0f | %12.0f | %5.2fx | %5.2f-%-5.2f | %-19s | %4s | %13.1f | %8.1f | %8.2fx\n",
              shape->title, qps, base_qps, ratio, lo, hi, target,
              shape->min_ratio == 0 ? "-" : met ? "yes" : "NO", cpu, base_cpu, cpu_ratio);
    }
  printf ("(ratio = engine median q/s / baseline median q/s; per round = the lowest and highest\n"
          " of the rounds' own ratios; baselines: 1 thread sync vs raw1, the rest vs raw4; pgbench\n"
          " CPU is the pgbench process's, connection set-up included)\n");
}

/* ------------------------------------------------------------ RSS check */

static void
rss_check (guint total)
{
  g_autoptr(PgeEngine) engine = default_engine_new ();
  guint first = MIN (100000, total / 2);
  Worker workers[4];
  gint next = 0;
  guint64 before, after;
  Sample a, b;

  for (guint t = 0; t < 4; t++)
    workers[t] = (Worker) { &next, first, engine, NULL };
  a = run_threads (sync_thread, workers, 4, first);
  before = rss_kb ();
  for (guint t = 0; t < 4; t++)
    workers[t].n_queries = total;
  g_atomic_int_set (&next, (gint) first);
  b = run_threads (sync_thread, workers, 4, total - first);
  after = rss_kb ();
  printf ("\nRSS, one default engine, 4 sync threads: %" G_GUINT64_FORMAT " kB after %u queries, "
          "%" G_GUINT64_FORMAT " kB after %u: %+.1f%% (target within +-10%%: %s; %.0f and %.0f q/s)\n",
          before, first, after, total, 100.0 * ((double) after - before) / before,
          ABS ((double) after - before) <= 0.1 * before ? "yes" : "NO",
          a.n_queries / a.wall, b.n_queries / b.wall);
}

/* ------------------------------------------------------------------ main */

static gboolean
host_is_local (const char *host)
{
  return host == NULL || *host == '\0' || *host == '/' || strcmp (host, "localhost") == 0
         || g_str_has_prefix (host, "127.") || strcmp (host, "::1") == 0;
}

static void
print_machine (void)
{
  PGconn *conn = PQconnectdb (conninfo);
  g_autoptr(PgeEngine) engine = default_engine_new ();
  int version;

  if (PQstatus (conn) != CONNECTION_OK)
    die ("connect", PQerrorMessage (conn));
  version = PQserverVersion (conn);
  printf ("machine: %u CPUs (nproc); PostgreSQL %d.%d at %s: %s\n"
          "workload: %s, one int parameter; engines: default PgeConfig "
          "(pge_config_new (conninfo) only: %u workers)\n",
          g_get_num_processors (), version / 10000, version % 10000, PQhost (conn),
          host_is_local (PQhost (conn)) ? "on this machine, client and server share these cores"
                                        : "maybe another machine",
          QUERY, pge_engine_get_n_workers (engine));
  PQfinish (conn);
}

static int
run_one_shape (const char *name, guint n_queries)
{
  static const struct { const char *name; Sample (*run) (guint); } runs[] = {
    { "sync1", run_sync1 }, { "sync4", run_sync4 }, { "futures", run_futures }, { "sync16", run_sync16 },
    { "raw1", run_raw1 }, { "raw4", run_raw4 },
  };

  for (guint r = 0; r < G_N_ELEMENTS (runs); r++)
    if (strcmp (name, runs[r].name) == 0)
      {
        Sample sample = runs[r].run (n_queries);

        printf ("%s: %u queries in %.3f s, %.0f q/s, client CPU %.1f us/query\n", name,
                n_queries, sample.wall, n_queries / sample.wall, sample.cpu * 1e6 / n_queries);
        return 0;
      }
  die ("--shape", "NAME must be sync1, sync4, futures, sync16 (or raw1, raw4)");
}

int
main (int argc, char **argv)
{
  g_autofree char *shape = NULL;
  int n_shape_queries = 0;
  GOptionEntry entries[] = {
    { "shape", 0, 0, G_OPTION_ARG_STRING, &shape, "Run only this engine shape, no baseline", "NAME" },
    { "queries", 0, 0, G_OPTION_ARG_INT, &n_shape_queries, "Queries for --shape", "N" },
    G_OPTION_ENTRY_NULL
  };
  g_autoptr(GOptionContext) context =
      g_option_context_new ("[CONNINFO] [QUERIES_PER_MODE] [ROUNDS] — pgengine vs raw libpq");
  g_autoptr(GError) error = NULL;
  Mode modes[] = {
    [RAW1] = { "raw1", "baseline: 1 thread, libpq prepared", run_raw1 },
    [RAW4] = { "raw4", "baseline: 4 threads, 4 connections, libpq prepared", run_raw4 },
    [SYNC1] = { "sync1", "1 thread, pge_engine_query_sync", run_sync1 },
    [SYNC4] = { "sync4", "4 threads, pge_engine_query_sync", run_sync4 },
    [FUTURES] = { "futures", "4 threads x 16 futures in flight", run_futures },
    [SYNC16] = { "sync16", "16 threads, pge_engine_query_sync, 4 workers", run_sync16 },
    [PGBENCH1] = { "pgbench", "pgbench -n -M prepared -c 4 -j 4", run_pgbench1 },
    [PGBENCH16] = { "pgbench16", "the same, pipelines of 16 SELECTs", run_pgbench16 },
  };
  guint n_modes = N_MODES, n_queries = 15000, n_rounds = 5, rss_queries;
  g_autofree char *pgbench = g_find_program_in_path ("pgbench");
  gint64 start = g_get_monotonic_time ();

  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    die_error ("usage", error);
  if (argc > 4)
    die ("usage", "pge-bench [CONNINFO] [QUERIES_PER_MODE] [ROUNDS]");
  conninfo = argc > 1 ? argv[1] : g_getenv ("PGE_BENCH_CONNINFO");
  if (conninfo == NULL)
    conninfo = g_getenv ("PGE_CLUSTER_CONNINFO");
  if (conninfo == NULL)
    conninfo = "";

  if (shape != NULL)
    {
      if (n_shape_queries <= 0 || argc > 2)
        die ("usage", "pge-bench --shape NAME --queries N (N > 0) [CONNINFO]");
      return run_one_shape (shape, (guint) n_shape_queries);
    }
  if (argc > 2)
    n_queries = parse_uint ("QUERIES_PER_MODE", argv[2], G_MAXINT / 2);
  if (argc > 3)
    n_rounds = parse_uint ("ROUNDS", argv[3], MAX_ROUNDS);
  pgbench_secs = env_uint ("PGE_BENCH_PGBENCH_SECS", 2);
  rss_queries = env_uint ("PGE_BENCH_RSS_QUERIES",
                          g_strcmp0 (g_getenv ("PGE_BENCH_QUICK"), "1") == 0 ? 200000 : 1000000);
  if (rss_queries < 2)
    die ("PGE_BENCH_RSS_QUERIES", "must be at least 2");
  if (pgbench == NULL)
    n_modes = PGBENCH1;

  print_machine ();
  printf ("%u queries per mode and round, %u rounds interleaved; ", n_queries, n_rounds);
  if (pgbench != NULL)
    printf ("pgbench (%s) runs -T %u each round\n\n", pgbench, pgbench_secs);
  else
    printf ("pgbench is not on PATH: no pgbench lines\n\n");
  /* Warm up the server and the client libraries, untimed. */
  run_raw4 (MIN (n_queries, 5000));
  run_sync4 (MIN (n_queries, 5000));
  run_rounds (modes, n_modes, n_queries, n_rounds);
  print_modes (modes, n_modes, n_rounds);
  rss_check (rss_queries);
  print_table (modes, n_modes, n_rounds);
  printf ("total run time %.0f s\n", (g_get_monotonic_time () - start) / 1e6);
  return 0;
}
