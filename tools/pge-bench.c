/* pge-bench — pgengine's throughput and client CPU against raw libpq,
 * measured in the same run, each shape against its true limit.
 *
 * Workload: the point query `SELECT $1::int` with one int parameter, the
 * smallest round trip there is, so that what the engine itself costs shows.
 * Every engine runs with the default PgeConfig (pge_config_new (conninfo)
 * and nothing else): what users get, 4 workers. Modes:
 *
 *   raw1     limit: 1 thread, its own libpq connection, PQprepare once,
 *            then PQexecPrepared per query
 *   raw4     limit: the same with 4 threads, 4 connections, taking the
 *            next query from one shared atomic counter (no queue at all)
 *   rawp16   limit: 4 threads, 4 connections in pipeline mode, each a
 *            sliding window of 16 queries in flight (PQsendQueryPrepared +
 *            PQsendFlushRequest per new query, PQgetResult per answer)
 *   rawp4    limit: the same with 4 in flight per connection
 *   rawp16-sync, rawp4-sync   reference: rawp16 and rawp4 with a Sync
 *            (PQpipelineSync) after each query instead of a flush
 *            request, so that each query is its own implicit transaction,
 *            as each of the engine's is; what is left between these and
 *            the limits is the price of that guarantee, paid by the server
 *   raw4-warm   reference: raw4 on 4 connections that live through every
 *            round (opened once, like the warm engine's), so what a warm
 *            raw client loses shows beside what the warm engine loses
 *   rawpool16   reference: a hand-written pool: 16 threads take turns on
 *            those same 4 long-lived connections (a mutex each,
 *            PQexecPrepared); also the burst raw4-warm runs after
 *   rawhandf    reference: the smallest hand-written pipelining pool: 4
 *            threads each keep 16 requests in flight on one shared queue
 *            (a mutex and a condition); 4 connection threads, each a
 *            sliding window of 16 in pipeline mode, read the answers and
 *            hand each back (the caller's mutex and condition)
 *   rawhand16   reference: the same pool, 16 blocking threads, a window
 *            of 4 per connection. These two are the floor for a design
 *            where the thread that waits is not the one that reads
 *   sync1    1 thread calling pge_engine_query_sync()         vs raw1
 *   sync4    4 threads calling pge_engine_query_sync()        vs raw4
 *   futures  4 threads each keeping 16 futures in flight
 *            (pge_engine_query(), then pge_future_wait() on the
 *            oldest)                                          vs rawp16
 *   sync16   16 threads calling pge_engine_query_sync() on the
 *            default 4-worker engine                          vs rawp4
 *   pgbench  reference, not a limit (its own client costs 30-90 us of CPU
 *            per query): pgbench -n -M prepared -c 4 -j 4 -T S running the
 *            same SELECT, and again with pipelines of 16
 *
 * The engine modes run on ONE engine that lives through every mode and
 * round (warm, as in a long-running server: each shape runs after bursts
 * of the others); each also runs on a fresh engine made for it alone
 * (`-fresh` modes, set up outside the timed part), printed beside the warm
 * figure: a warm engine should be as fast as a fresh one.
 *
 * Every mode runs once per round, in turn, baseline next to its engine
 * shape (interleaved, so that load drift hits all modes alike); each
 * figure is the median over the rounds, with the range of the rounds' own
 * ratios. By default each mode runs for a fixed time (--seconds, default
 * 1.5); with QUERIES_PER_MODE it runs a fixed count instead. Client CPU
 * and voluntary context switches are those of the whole process (all threads: the
 * callers and the engine's workers), getrusage (RUSAGE_SELF) deltas around
 * the timed part, per query; for pgbench they are the child's
 * (RUSAGE_CHILDREN), connection set-up included. When the server runs on
 * this machine, the server's CPU per query is printed too: user+sys time
 * from /proc of every client backend alive across the timed run
 * (PGE_BENCH_SERVER_SYS=1: sys only), so a shape that costs the server
 * more per query, or a warm engine's long-lived backends, show.
 *
 * Then an RSS check on the warm engine: the shapes in turn, 25k queries
 * each, VmRSS read after 100k queries and again after
 * PGE_BENCH_RSS_QUERIES in total (default 1000000, 200000 with
 * PGE_BENCH_QUICK=1); the two should be within +-10%.
 *
 * The load average is printed at the start and the end: client and
 * server share the cores of a small machine, so read ratios, not
 * absolutes, and run it on a quiet machine. Each mode's steal (the share
 * of the machine's CPU time that its hypervisor gave to someone else
 * during the mode, from /proc/stat) is printed too: on a virtual machine
 * it is what most often makes one round or mode slower than another.
 *
 *   pge-bench [--seconds S] [--rounds R] [CONNINFO] [QUERIES_PER_MODE] [ROUNDS]
 *   pge-bench --shape NAME[,NAME...] (--queries N | --seconds S) [CONNINFO]
 *
 * The second form runs only the named shapes, one after the other on one
 * engine (so `--shape futures,sync16,sync4` shows sync4 on an engine that
 * has just served the others), each printed with q/s, CPU and context
 * switches per query; no baseline, no pgbench, no RSS check
 * (tools/pge-costs runs it under callgrind and strace). Names: sync1,
 * sync4, futures, sync16, raw1, raw4, rawp16, rawp4, rawp16-sync, rawp4-sync,
 * raw4-warm, rawpool16, rawhandf, rawhand16, two placement experiments (the server on this machine, root or
 * CAP_SYS_NICE): raw4-paired pins each raw4 thread and its backend to the
 * same CPU, raw4-split to different CPUs (thread i on CPU i mod n, its
 * backend on the same or the next one), which shows what the kernel's
 * placement of a client thread and its backend is worth; and two design
 * experiments: rawlf and rawlf-affine, the futures shape on a
 * hand-written pool in which the waiting thread reads its connection's
 * answers itself (leader/follower), with requests spread over the
 * connections in turn, or each thread's on a connection of its own.
 * CONNINFO defaults to $PGE_BENCH_CONNINFO, then $PGE_CLUSTER_CONNINFO,
 * then libpq's defaults; PGE_BENCH_PGBENCH_SECS (default 2) is pgbench's -T.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#define _GNU_SOURCE  /* sched_setaffinity() */
#include <pgengine.h>
#include <errno.h>
#include <poll.h>
#include <sched.h>
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
#define MAX_DEPTH     16      /* raw pipelined window */
#define MAX_ROUNDS    51
#define MAX_THREADS   16

/* Settings: set once in main() before any thread starts, read-only after. */
static const char *conninfo = "";
static guint pgbench_secs = 2;
static guint run_queries;       /* count-based runs: queries per mode */
static double run_seconds;      /* time-based runs (when run_queries == 0) */
static PgeEngine *warm_engine;  /* the engine every warm mode shares */
static PGconn *monitor;         /* main thread only: finds the server's backends */
#define N_LONG_LIVED  4
/* raw4-warm and rawpool16: opened at the first use, kept to the end. */
static PGconn *long_lived[N_LONG_LIVED];
static GMutex long_lived_locks[N_LONG_LIVED];

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

/* What getrusage() says of the whole process (who = RUSAGE_SELF) or of
 * its waited-for children (RUSAGE_CHILDREN): user+sys CPU seconds and
 * voluntary context switches (a thread blocked: in poll() for the server,
 * or on a futex for another thread). Involuntary ones (preempted) are
 * left out: they count the machine's load, not the client's design. */
typedef struct {
  double cpu;
  double csw;
} Usage;

static Usage
usage_now (int who)
{
  struct rusage usage;

  if (getrusage (who, &usage) != 0)
    die ("getrusage", g_strerror (errno));
  return (Usage) {
    usage.ru_utime.tv_sec + usage.ru_stime.tv_sec + (usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6,
    (double) usage.ru_nvcsw,
  };
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

/* The first three fields of /proc/loadavg, or "?" where there is none. */
static char *
load_average (void)
{
  g_autofree char *text = NULL;
  g_auto(GStrv) fields = NULL;

  if (!g_file_get_contents ("/proc/loadavg", &text, NULL, NULL))
    return g_strdup ("?");
  fields = g_strsplit (g_strstrip (text), " ", 4);
  if (g_strv_length (fields) < 3)
    return g_strdup ("?");
  return g_strdup_printf ("%s %s %s", fields[0], fields[1], fields[2]);
}

/* Ticks of all CPUs from /proc/stat: stolen (steal) and in all. */
typedef struct {
  guint64 steal, total;
} Ticks;

static Ticks
ticks_now (void)
{
  g_autofree char *text = NULL;
  g_auto(GStrv) fields = NULL;
  Ticks ticks = { 0, 0 };

  if (!g_file_get_contents ("/proc/stat", &text, NULL, NULL) || !g_str_has_prefix (text, "cpu "))
    return ticks;
  fields = g_strsplit_set (text + 4, " \n", 12);
  for (guint i = 0, n = 0; fields[i] != NULL && n < 8; i++)
    {
      guint64 value;

      if (fields[i][0] == '\0')
        continue;
      value = g_ascii_strtoull (fields[i], NULL, 10);
      ticks.total += value;
      if (++n == 8)  /* user nice system idle iowait irq softirq steal */
        ticks.steal = value;
    }
  return ticks;
}

/* The share of CPU time stolen between two readings, in percent; < 0
 * where /proc/stat says nothing. */
static double
steal_percent (Ticks before, Ticks after)
{
  if (after.total <= before.total)
    return -1;
  return 100.0 * (after.steal - before.steal) / (after.total - before.total);
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

/* User+sys CPU seconds of process @pid from /proc, or -1; with
 * PGE_BENCH_SERVER_SYS=1, sys only (kernel time: sockets, scheduling). */
static double
process_cpu_seconds (const char *pid)
{
  static gint sys_only = -1;

  g_autofree char *path = g_strdup_printf ("/proc/%s/stat", pid);
  g_autofree char *text = NULL;
  g_auto(GStrv) fields = NULL;
  const char *after_name;

  if (!g_file_get_contents (path, &text, NULL, NULL) || (after_name = strrchr (text, ')')) == NULL)
    return -1;
  /* After "pid (comm)": state is field 3, utime 14, stime 15. */
  fields = g_strsplit (after_name + 2, " ", 14);
  if (g_strv_length (fields) < 14)
    return -1;
  if (sys_only < 0)
    sys_only = g_strcmp0 (g_getenv ("PGE_BENCH_SERVER_SYS"), "1") == 0;
  return ((sys_only ? 0 : g_ascii_strtod (fields[11], NULL)) + g_ascii_strtod (fields[12], NULL)) /
         sysconf (_SC_CLK_TCK);
}

/* CPU seconds used so far by each client backend of the server but the
 * monitor's own (a server on this machine: /proc shows its processes),
 * by pid; NULL if that cannot be known. */
static GHashTable *
server_cpu_snapshot (void)
{
  GHashTable *cpu_by_pid;
  PGresult *res;

  if (monitor == NULL)
    return NULL;
  res = PQexec (monitor, "SELECT pid FROM pg_stat_activity "
                         "WHERE backend_type = 'client backend' AND pid <> pg_backend_pid ()");
  if (PQresultStatus (res) != PGRES_TUPLES_OK)
    die ("pg_stat_activity", PQresultErrorMessage (res));
  cpu_by_pid = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  for (int r = 0; r < PQntuples (res); r++)
    {
      double cpu = process_cpu_seconds (PQgetvalue (res, r, 0));

      if (cpu >= 0)
        g_hash_table_insert (cpu_by_pid, g_strdup (PQgetvalue (res, r, 0)), g_memdup2 (&cpu, sizeof cpu));
      else if (r == 0)
        g_clear_pointer (&cpu_by_pid, g_hash_table_unref);  /* not a local server */
      if (cpu_by_pid == NULL)
        break;
    }
  PQclear (res);
  return cpu_by_pid;
}

/* The server's CPU seconds between two snapshots: per backend alive at
 * both (one whose connection was just closed may still be listed in the
 * first), plus all of one that started in between; -1 if unknown. */
static double
server_cpu_between (GHashTable *before, GHashTable *after)
{
  GHashTableIter iter;
  gpointer pid, cpu;
  double total = 0;

  if (before == NULL || after == NULL)
    return -1;
  g_hash_table_iter_init (&iter, after);
  while (g_hash_table_iter_next (&iter, &pid, &cpu))
    {
      double *then = g_hash_table_lookup (before, pid);

      total += *(double *) cpu - (then != NULL ? *then : 0);
    }
  return total;
}

/* ------------------------------------------------------- timed thread runs */

/* One measured run: n queries took wall seconds, cpu seconds and csw
 * context switches. */
typedef struct {
  guint  n_queries;
  double wall;
  double cpu;
  double csw;
  double server_cpu;  /* < 0: not measurable (the server is not local) */
} Sample;

/* What each thread of a run gets. `next` is shared by all threads of the
 * run; each claims the next query number until `limit` are taken or
 * `stop` is set, and counts in `done` the queries it saw answered. */
typedef struct {
  gint      *next;
  guint      limit;
  gint      *stop;
  guint      done;
  PgeEngine *engine;   /* engine shapes */
  PGconn    *conn;     /* raw shapes: this thread's own connection */
  guint      depth;    /* raw pipelined shapes: queries in flight */
  gboolean   sync_each;  /* rawp16-sync, rawp4-sync: a Sync per query */
  GMutex    *lock;     /* rawpool16: the turn on conn */
  struct HandPool *hand;  /* rawhand16, rawhandf: the shared queue */
  gpointer   lf;          /* rawlf: its pool */
  GMutex     reply_lock;  /* rawhand callers: their answers come under it */
  GCond      reply_cond;
  int        cpu;      /* placement experiments: this thread's CPU, else -1 */
  int        backend_cpu;  /* and its backend's */
} Worker;

/* The next query number for this thread, or FALSE once all are taken or
 * the time is up. */
static gboolean
claim (Worker *worker, guint *i)
{
  if (g_atomic_int_get (worker->stop))
    return FALSE;
  *i = (guint) g_atomic_int_add (worker->next, 1);
  return *i < worker->limit;
}

/* Starts n threads running func on workers[0..n-1] (whose engine, conn
 * and depth the caller set), lets them run for run_queries queries in all
 * or run_seconds, waits for them and measures wall time, CPU time and
 * context switches around exactly that. */
static Sample
run_threads (GThreadFunc func, Worker *workers, guint n_threads)
{
  GThread *threads[MAX_THREADS];
  gint next = 0, stop = 0;
  Usage before = usage_now (RUSAGE_SELF), after;
  gint64 start = g_get_monotonic_time ();
  Sample sample = { 0, 0, 0, 0, 0 };
  g_autoptr(GHashTable) server_before = server_cpu_snapshot ();
  g_autoptr(GHashTable) server_after = NULL;

  g_assert (n_threads <= MAX_THREADS);
  for (guint t = 0; t < n_threads; t++)
    {
      workers[t].next = &next;
      workers[t].stop = &stop;
      workers[t].limit = run_queries > 0 ? run_queries : G_MAXINT;
      workers[t].done = 0;
    }
  for (guint t = 0; t < n_threads; t++)
    threads[t] = g_thread_new ("pge-bench", func, &workers[t]);
  if (run_queries == 0)
    {
      g_usleep ((gulong) (run_seconds * G_USEC_PER_SEC));
      g_atomic_int_set (&stop, 1);
    }
  for (guint t = 0; t < n_threads; t++)
    g_thread_join (threads[t]);
  sample.wall = (g_get_monotonic_time () - start) / 1e6;
  after = usage_now (RUSAGE_SELF);
  sample.cpu = after.cpu - before.cpu;
  sample.csw = after.csw - before.csw;
  server_after = server_cpu_snapshot ();
  sample.server_cpu = server_cpu_between (server_before, server_after);
  for (guint t = 0; t < n_threads; t++)
    sample.n_queries += workers[t].done;
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
check_raw (const char *what, PGresult *res, gint32 value)
{
  if (PQresultStatus (res) != PGRES_TUPLES_OK)
    die (what, PQresultErrorMessage (res));
  if (PQntuples (res) != 1 || atoi (PQgetvalue (res, 0, 0)) != value)
    die (what, "wrong result");
  PQclear (res);
}

static void
pin_to (pid_t pid, int cpu, const char *what)
{
  cpu_set_t set;

  CPU_ZERO (&set);
  CPU_SET (cpu, &set);
  if (sched_setaffinity (pid, sizeof set, &set) != 0)
    die (what, g_strdup_printf ("sched_setaffinity: %s (the placement experiments need the "
                                "server on this machine, and root or CAP_SYS_NICE)",
                                g_strerror (errno)));
}

static gpointer
raw_thread (gpointer data)
{
  Worker *worker = data;
  guint i;

  if (worker->cpu >= 0)
    {
      pin_to (0, worker->cpu, "raw4 placement");
      pin_to (PQbackendPID (worker->conn), worker->backend_cpu, "raw4 placement");
    }
  while (claim (worker, &i))
    {
      char text[16];
      const char *values[1] = { text };

      g_snprintf (text, sizeof text, "%d", value_of (i));
      if (worker->lock != NULL)
        g_mutex_lock (worker->lock);
      check_raw ("PQexecPrepared", PQexecPrepared (worker->conn, STATEMENT, 1, values, NULL, NULL, 0),
                 value_of (i));
      if (worker->lock != NULL)
        g_mutex_unlock (worker->lock);
      worker->done++;
    }
  return NULL;
}

/* Sends the query for @value into the pipeline, asking the server to
 * flush its answer at once (no Sync: the window never drains), or with
 * @sync_each a Sync after it, which ends its own implicit transaction
 * (libpq 15 sends at every Sync, as the flush before each read does). */
static void
raw_pipeline_send_sync (PGconn *conn, gint32 value, gboolean sync_each)
{
  char text[16];
  const char *values[1] = { text };

  g_snprintf (text, sizeof text, "%d", value);
  if (!PQsendQueryPrepared (conn, STATEMENT, 1, values, NULL, NULL, 0) ||
      !(sync_each ? PQpipelineSync (conn) : PQsendFlushRequest (conn)))
    die ("PQsendQueryPrepared", PQerrorMessage (conn));
}

static void
raw_pipeline_send (PGconn *conn, gint32 value)
{
  raw_pipeline_send_sync (conn, value, FALSE);
}

/* The PGRES_PIPELINE_SYNC that answers a Sync whose earlier queries'
 * answers were all read. */
static void
raw_pipeline_read_sync (PGconn *conn)
{
  PGresult *res = PQgetResult (conn);

  if (res == NULL)
    die ("PQgetResult (pipeline)", PQerrorMessage (conn));
  if (PQresultStatus (res) != PGRES_PIPELINE_SYNC)
    die ("PQgetResult (pipeline)", "no PGRES_PIPELINE_SYNC");
  PQclear (res);
}

/* The answer to the oldest query in flight, then the NULL that ends it. */
static void
raw_pipeline_read (PGconn *conn, gint32 value)
{
  PGresult *res;

  if (PQflush (conn) != 0)
    die ("PQflush", PQerrorMessage (conn));
  res = PQgetResult (conn);
  if (res == NULL)
    die ("PQgetResult", PQerrorMessage (conn));
  check_raw ("PQgetResult (pipeline)", res, value);
  res = PQgetResult (conn);
  if (res != NULL)
    die ("PQgetResult (pipeline)", "more than one result for a query");
}

/* A sliding window of worker->depth queries in flight on one connection
 * in pipeline mode: what a hand-written pipelined client gets. */
static gpointer
raw_pipeline_thread (gpointer data)
{
  Worker *worker = data;
  PGconn *conn = worker->conn;
  gint32 values[MAX_DEPTH];
  guint head = 0, n_in_flight = 0, i;
  gboolean more = TRUE;

  if (!PQenterPipelineMode (conn))
    die ("PQenterPipelineMode", PQerrorMessage (conn));
  for (;;)
    {
      while (more && n_in_flight < worker->depth && (more = claim (worker, &i)))
        {
          raw_pipeline_send_sync (conn, value_of (i), worker->sync_each);
          values[(head + n_in_flight++) % worker->depth] = value_of (i);
        }
      if (n_in_flight == 0)
        break;
      raw_pipeline_read (conn, values[head]);
      if (worker->sync_each)
        raw_pipeline_read_sync (conn);
      head = (head + 1) % worker->depth;
      n_in_flight--;
      worker->done++;
    }
  if (!PQpipelineSync (conn))
    die ("PQpipelineSync", PQerrorMessage (conn));
  raw_pipeline_read_sync (conn);
  if (!PQexitPipelineMode (conn))
    die ("PQexitPipelineMode", PQerrorMessage (conn));
  return NULL;
}

/* n_threads threads on connections of their own, depth 0: one query at a
 * time, else a pipeline window of depth, with a Sync per query if
 * @sync_each. */
static Sample
run_raw_sync (guint n_threads, guint depth, gboolean sync_each)
{
  Worker workers[MAX_THREADS] = { { 0 } };
  Sample sample;

  g_assert (depth <= MAX_DEPTH);
  for (guint t = 0; t < n_threads; t++)
    {
      workers[t].conn = raw_connect ();
      workers[t].depth = depth;
      workers[t].sync_each = sync_each;
      workers[t].cpu = -1;
    }
  sample = run_threads (depth > 0 ? raw_pipeline_thread : raw_thread, workers, n_threads);
  for (guint t = 0; t < n_threads; t++)
    PQfinish (workers[t].conn);
  return sample;
}

static Sample
run_raw (guint n_threads, guint depth)
{
  return run_raw_sync (n_threads, depth, FALSE);
}

/* n_threads threads on the long-lived connections, thread t on
 * connection t mod 4; more threads than connections take turns. */
static Sample
run_long_lived (guint n_threads)
{
  Worker workers[MAX_THREADS] = { { 0 } };

  for (guint c = 0; c < N_LONG_LIVED; c++)
    if (long_lived[c] == NULL)
      long_lived[c] = raw_connect ();
  for (guint t = 0; t < n_threads; t++)
    {
      workers[t].conn = long_lived[t % N_LONG_LIVED];
      workers[t].lock = n_threads > N_LONG_LIVED ? &long_lived_locks[t % N_LONG_LIVED] : NULL;
      workers[t].cpu = -1;
    }
  return run_threads (raw_thread, workers, n_threads);
}

static void
close_long_lived (void)
{
  for (guint c = 0; c < N_LONG_LIVED; c++)
    g_clear_pointer (&long_lived[c], PQfinish);
}

/* raw4 with thread t pinned to CPU t mod n and its backend to the same
 * CPU (offset 0) or another one (offset 1). */
static Sample
run_raw4_placed (guint offset)
{
  Worker workers[MAX_THREADS] = { { 0 } };
  int n_cpus = (int) sysconf (_SC_NPROCESSORS_ONLN);
  Sample sample;

  if (n_cpus < 2)
    die ("raw4 placement", "needs at least 2 CPUs");
  for (guint t = 0; t < 4; t++)
    {
      workers[t].conn = raw_connect ();
      workers[t].cpu = (int) t % n_cpus;
      workers[t].backend_cpu = (int) (t + offset) % n_cpus;
    }
  sample = run_threads (raw_thread, workers, 4);
  for (guint t = 0; t < 4; t++)
    PQfinish (workers[t].conn);
  return sample;
}

/* ------------------------------------------------ raw hand-off references */

/* rawhand16 and rawhandf: the smallest hand-written pool that pipelines.
 * Callers put requests on one FIFO (a mutex and a condition); HAND_CONNS
 * connection threads each keep up to `depth` of them in flight on a
 * connection of their own in pipeline mode, read the oldest answer,
 * check it, and hand it back under the caller's own mutex and condition.
 * No futures, no cancel, no timeouts, no statement cache: what is left is
 * the hand-off itself, the floor for any design in which the thread that
 * waits for an answer is not the thread that reads it. The engine's
 * sync16 and futures shapes are such designs; the raw pipelined limits
 * (rawp4, rawp16) are not, since each of their threads reads its own. */
#define HAND_CONNS 4

typedef struct HandPool {
  GMutex  lock;
  GCond   cond;       /* connection threads sleep here for want of requests */
  GQueue  queue;      /* HandRequest *, oldest first */
  guint   n_sleeping; /* connection threads asleep on cond */
  gboolean closing;
  guint   depth;
} HandPool;

typedef struct {
  gint32   value;
  gboolean done;      /* under caller->reply_lock */
  Worker  *caller;
} HandRequest;

static void
hand_submit (HandPool *hand, HandRequest *request)
{
  request->done = FALSE;
  g_mutex_lock (&hand->lock);
  g_queue_push_tail (&hand->queue, request);
  if (hand->n_sleeping > 0)
    g_cond_signal (&hand->cond);
  g_mutex_unlock (&hand->lock);
}

static void
hand_wait (HandRequest *request)
{
  Worker *caller = request->caller;

  g_mutex_lock (&caller->reply_lock);
  while (!request->done)
    g_cond_wait (&caller->reply_cond, &caller->reply_lock);
  g_mutex_unlock (&caller->reply_lock);
}

/* Moves requests from the queue into the window, up to its depth; sleeps
 * while there is nothing in flight and nothing queued. FALSE: closing and
 * nothing left. */
static gboolean
hand_refill (HandPool *hand, HandRequest **window, guint head, guint *n)
{
  g_mutex_lock (&hand->lock);
  while (*n == 0 && hand->queue.length == 0 && !hand->closing)
    {
      hand->n_sleeping++;
      g_cond_wait (&hand->cond, &hand->lock);
      hand->n_sleeping--;
    }
  while (*n < hand->depth && hand->queue.length > 0)
    window[(head + (*n)++) % hand->depth] = g_queue_pop_head (&hand->queue);
  g_mutex_unlock (&hand->lock);
  return *n > 0;
}

static gpointer
hand_conn_thread (gpointer data)
{
  Worker *worker = data;
  HandPool *hand = worker->hand;
  HandRequest *window[MAX_DEPTH];
  guint head = 0, n = 0, sent = 0;

  if (!PQenterPipelineMode (worker->conn))
    die ("PQenterPipelineMode", PQerrorMessage (worker->conn));
  while (hand_refill (hand, window, head, &n))
    {
      HandRequest *oldest = window[head];

      for (; sent < n; sent++)
        raw_pipeline_send (worker->conn, window[(head + sent) % hand->depth]->value);
      raw_pipeline_read (worker->conn, oldest->value);
      head = (head + 1) % hand->depth;
      n--, sent--;
      g_mutex_lock (&oldest->caller->reply_lock);
      oldest->done = TRUE;
      g_cond_broadcast (&oldest->caller->reply_cond);
      g_mutex_unlock (&oldest->caller->reply_lock);
    }
  return NULL;
}

/* A blocking caller: one request at a time. */
static gpointer
hand_sync_thread (gpointer data)
{
  Worker *worker = data;
  guint i;

  while (claim (worker, &i))
    {
      HandRequest request = { value_of (i), FALSE, worker };

      hand_submit (worker->hand, &request);
      hand_wait (&request);
      worker->done++;
    }
  return NULL;
}

/* Keeps WINDOW requests in flight, waiting for the oldest, as
 * futures_thread() does with futures. */
static gpointer
hand_window_thread (gpointer data)
{
  Worker *worker = data;
  HandRequest window[WINDOW];
  guint submitted = 0, waited = 0, i;

  while (claim (worker, &i))
    {
      HandRequest *request = &window[submitted++ % WINDOW];

      if (submitted > WINDOW)
        hand_wait (request), waited++, worker->done++;
      *request = (HandRequest) { value_of (i), FALSE, worker };
      hand_submit (worker->hand, request);
    }
  for (; waited < submitted; waited++, worker->done++)
    hand_wait (&window[waited % WINDOW]);
  return NULL;
}

/* n_callers threads running func hand their queries to HAND_CONNS
 * connection threads pipelining up to depth each, through one shared
 * queue, or (affine) through one queue per connection thread, caller t
 * using queue t mod HAND_CONNS; the connections are opened and the
 * connection threads started before the timed part, and shut after it. */
static Sample
run_hand (GThreadFunc func, guint n_callers, guint depth, gboolean affine)
{
  HandPool hands[HAND_CONNS];
  Worker conns[HAND_CONNS] = { { 0 } }, callers[MAX_THREADS] = { { 0 } };
  GThread *threads[HAND_CONNS];
  Sample sample;

  g_assert (depth <= MAX_DEPTH && n_callers <= MAX_THREADS);
  for (guint c = 0; c < HAND_CONNS; c++)
    {
      hands[c] = (HandPool) { .depth = depth };
      g_mutex_init (&hands[c].lock);
      g_cond_init (&hands[c].cond);
      g_queue_init (&hands[c].queue);
    }
  for (guint c = 0; c < HAND_CONNS; c++)
    {
      conns[c] = (Worker) { .conn = raw_connect (), .hand = &hands[affine ? c : 0], .cpu = -1 };
      threads[c] = g_thread_new ("pge-bench-conn", hand_conn_thread, &conns[c]);
    }
  for (guint t = 0; t < n_callers; t++)
    {
      callers[t].hand = &hands[affine ? t % HAND_CONNS : 0];
      callers[t].cpu = -1;
      g_mutex_init (&callers[t].reply_lock);
      g_cond_init (&callers[t].reply_cond);
    }
  sample = run_threads (func, callers, n_callers);
  for (guint c = 0; c < HAND_CONNS; c++)
    {
      g_mutex_lock (&hands[c].lock);
      hands[c].closing = TRUE;
      g_cond_broadcast (&hands[c].cond);
      g_mutex_unlock (&hands[c].lock);
    }
  for (guint c = 0; c < HAND_CONNS; c++)
    {
      g_thread_join (threads[c]);
      PQfinish (conns[c].conn);
    }
  for (guint t = 0; t < n_callers; t++)
    {
      g_mutex_clear (&callers[t].reply_lock);
      g_cond_clear (&callers[t].reply_cond);
    }
  for (guint c = 0; c < HAND_CONNS; c++)
    {
      g_cond_clear (&hands[c].cond);
      g_mutex_clear (&hands[c].lock);
    }
  return sample;
}

static Sample run_rawhand16 (void) { return run_hand (hand_sync_thread, 16, 4, FALSE); }
static Sample run_rawhandf (void) { return run_hand (hand_window_thread, 4, 16, FALSE); }
static Sample run_rawhandf_affine (void) { return run_hand (hand_window_thread, 4, 16, TRUE); }

/* ------------------------------------ raw waiter-reads experiment (--shape) */

/* rawlf and rawlf-affine: the futures shape on a hand-written pool in
 * which the thread that waits reads (leader/follower), no connection
 * threads at all. A caller sends its query itself on a shared connection
 * (under that connection's mutex) and returns; to wait, it takes the
 * connection's reader role if nobody holds it and reads answers, its own
 * and others', until its own is in, then gives the role up; else it
 * sleeps until the reader resolves its request or gives the role up.
 * rawlf spreads requests over the 4 connections in turn; rawlf-affine
 * sends each thread's requests to a connection of its own, which is
 * rawp16 plus the locking. What a pool could reach if waiting threads
 * read their connections' answers themselves. */
#define LF_RING (WINDOW * 4)

typedef struct {
  gint32   value;
  gboolean done;            /* under its connection's lock */
  struct LfConn *conn;
} LfRequest;

typedef struct LfConn {
  GMutex     lock;          /* the PGconn and everything below */
  GCond      cond;          /* answers resolved, or the reader role given up */
  PGconn    *conn;
  LfRequest *ring[LF_RING]; /* sent, not answered, oldest first */
  guint      head, n;
  gboolean   reader;        /* a thread is reading (maybe in poll(), unlocked) */
} LfConn;

typedef struct {
  LfConn   conns[HAND_CONNS];
  gint     next;
  gboolean affine;
} LfPool;

static void
lf_submit (LfPool *pool, guint caller, LfRequest *request)
{
  guint c = pool->affine ? caller % HAND_CONNS : (guint) g_atomic_int_add (&pool->next, 1) % HAND_CONNS;
  LfConn *conn = &pool->conns[c];

  request->done = FALSE;
  request->conn = conn;
  g_mutex_lock (&conn->lock);
  g_assert (conn->n < LF_RING);
  raw_pipeline_send (conn->conn, request->value);
  if (PQflush (conn->conn) != 0)
    die ("PQflush", PQerrorMessage (conn->conn));
  conn->ring[(conn->head + conn->n++) % LF_RING] = request;
  g_mutex_unlock (&conn->lock);
}

/* For the reader, locked: resolves every request whose answer is in. */
static void
lf_drain (LfConn *conn)
{
  gboolean resolved = FALSE;

  if (!PQconsumeInput (conn->conn))
    die ("PQconsumeInput", PQerrorMessage (conn->conn));
  while (conn->n > 0 && !PQisBusy (conn->conn))
    {
      LfRequest *oldest = conn->ring[conn->head];

      check_raw ("PQgetResult (rawlf)", PQgetResult (conn->conn), oldest->value);
      if (PQgetResult (conn->conn) != NULL)
        die ("PQgetResult (rawlf)", "more than one result for a query");
      oldest->done = TRUE;
      conn->head = (conn->head + 1) % LF_RING;
      conn->n--;
      resolved = TRUE;
    }
  if (resolved)
    g_cond_broadcast (&conn->cond);
}

static void
lf_wait (LfRequest *request)
{
  LfConn *conn = request->conn;

  g_mutex_lock (&conn->lock);
  while (!request->done && conn->reader)
    g_cond_wait (&conn->cond, &conn->lock);
  if (!request->done)
    {
      conn->reader = TRUE;
      for (lf_drain (conn); !request->done; lf_drain (conn))
        {
          struct pollfd fd = { PQsocket (conn->conn), POLLIN, 0 };

          g_mutex_unlock (&conn->lock);
          if (poll (&fd, 1, -1) < 0 && errno != EINTR)
            die ("poll", g_strerror (errno));
          g_mutex_lock (&conn->lock);
        }
      conn->reader = FALSE;
      g_cond_broadcast (&conn->cond);
    }
  g_mutex_unlock (&conn->lock);
}

static gpointer
lf_thread (gpointer data)
{
  Worker *worker = data;
  LfPool *pool = worker->lf;
  LfRequest window[WINDOW];
  guint submitted = 0, waited = 0, i;

  while (claim (worker, &i))
    {
      LfRequest *request = &window[submitted++ % WINDOW];

      if (submitted > WINDOW)
        lf_wait (request), waited++, worker->done++;
      request->value = value_of (i);
      lf_submit (pool, (guint) worker->cpu, request);
    }
  for (; waited < submitted; waited++, worker->done++)
    lf_wait (&window[waited % WINDOW]);
  return NULL;
}

static Sample
run_lf (gboolean affine)
{
  LfPool pool = { .affine = affine };
  Worker callers[4] = { { 0 } };
  Sample sample;

  for (guint c = 0; c < HAND_CONNS; c++)
    {
      g_mutex_init (&pool.conns[c].lock);
      g_cond_init (&pool.conns[c].cond);
      pool.conns[c].conn = raw_connect ();
      if (!PQenterPipelineMode (pool.conns[c].conn))
        die ("PQenterPipelineMode", PQerrorMessage (pool.conns[c].conn));
    }
  for (guint t = 0; t < 4; t++)
    callers[t] = (Worker) { .lf = &pool, .cpu = (int) t };  /* cpu: the caller's index here */
  sample = run_threads (lf_thread, callers, 4);
  for (guint c = 0; c < HAND_CONNS; c++)
    {
      PQfinish (pool.conns[c].conn);
      g_cond_clear (&pool.conns[c].cond);
      g_mutex_clear (&pool.conns[c].lock);
    }
  return sample;
}

static Sample run_rawlf (void) { return run_lf (FALSE); }
static Sample run_rawlf_affine (void) { return run_lf (TRUE); }

static Sample run_raw1 (void) { return run_raw (1, 0); }
static Sample run_raw4 (void) { return run_raw (4, 0); }
static Sample run_rawp16 (void) { return run_raw (4, 16); }
static Sample run_rawp4 (void) { return run_raw (4, 4); }
static Sample run_rawp16_sync (void) { return run_raw_sync (4, 16, TRUE); }
static Sample run_rawp4_sync (void) { return run_raw_sync (4, 4, TRUE); }
static Sample run_raw4_warm (void) { return run_long_lived (4); }
static Sample run_rawpool16 (void) { return run_long_lived (16); }
static Sample run_raw4_paired (void) { return run_raw4_placed (0); }
static Sample run_raw4_split (void) { return run_raw4_placed (1); }

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
      worker->done++;
    }
  return NULL;
}

static void
wait_future (Worker *worker, PgeFuture **future, gint32 value)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PgeResult) result = pge_future_wait (*future, &error);

  check_result ("pge_future_wait", result, error, value);
  g_clear_pointer (future, pge_future_unref);
  worker->done++;
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
        wait_future (worker, &window[slot], values[slot]), waited++;
      values[slot] = value_of (i);
      params = params_for (values[slot]);
      window[slot] = pge_engine_query (worker->engine, QUERY, params);
      if (window[slot] == NULL)
        die ("pge_engine_query", "returned NULL");
    }
  for (; waited < submitted; waited++)
    wait_future (worker, &window[waited % WINDOW], values[waited % WINDOW]);
  return NULL;
}

/* n_threads threads run func on @engine. */
static Sample
run_engine (PgeEngine *engine, GThreadFunc func, guint n_threads)
{
  Worker workers[MAX_THREADS] = { { 0 } };

  for (guint t = 0; t < n_threads; t++)
    workers[t].engine = engine;
  return run_threads (func, workers, n_threads);
}

/* The same on an engine made for this run alone (outside the timing). */
static Sample
run_fresh (GThreadFunc func, guint n_threads)
{
  g_autoptr(PgeEngine) engine = default_engine_new ();

  return run_engine (engine, func, n_threads);
}

static Sample run_sync1 (void) { return run_engine (warm_engine, sync_thread, 1); }
static Sample run_sync4 (void) { return run_engine (warm_engine, sync_thread, 4); }
static Sample run_futures (void) { return run_engine (warm_engine, futures_thread, 4); }
static Sample run_sync16 (void) { return run_engine (warm_engine, sync_thread, 16); }
static Sample run_sync1_fresh (void) { return run_fresh (sync_thread, 1); }
static Sample run_sync4_fresh (void) { return run_fresh (sync_thread, 4); }
static Sample run_futures_fresh (void) { return run_fresh (futures_thread, 4); }
static Sample run_sync16_fresh (void) { return run_fresh (sync_thread, 16); }

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
  Sample sample = { 0, 0, 0, 0, -1 };
  Usage before, after;
  double tps;
  int status;

  if (pgbench == NULL)
    die ("pgbench", "not on PATH");
  for (guint a = 0; a < G_N_ELEMENTS (fixed); a++)
    g_ptr_array_add (argv, g_strdup (fixed[a]));
  pgbench_connection (argv, &envp);
  g_ptr_array_add (argv, NULL);

  before = usage_now (RUSAGE_CHILDREN);
  if (!g_spawn_sync (NULL, (char **) argv->pdata, envp, G_SPAWN_DEFAULT, NULL, NULL,
                     &out, &err, &status, &error))
    die_error ("pgbench", error);
  after = usage_now (RUSAGE_CHILDREN);
  sample.cpu = after.cpu - before.cpu;
  sample.csw = after.csw - before.csw;
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

static Sample run_pgbench1 (void) { return run_pgbench (1); }
static Sample run_pgbench16 (void) { return run_pgbench (PIPELINE); }

/* --------------------------------------------------------------- modes */

typedef struct {
  const char *name;
  const char *what;
  Sample    (*run) (void);
  double      qps[MAX_ROUNDS];     /* per round */
  double      cpu_us[MAX_ROUNDS];  /* client CPU µs per query, per round */
  double      csw[MAX_ROUNDS];     /* client context switches per query */
  double      server_us[MAX_ROUNDS];  /* server CPU µs per query, < 0: unknown */
  double      steal[MAX_ROUNDS];      /* % of the machine's CPU stolen, < 0: unknown */
} Mode;

/* In the order they run in a round: each limit next to its engine shape,
 * the warm engine's shapes right after one another's bursts. */
enum {
  RAW1, SYNC1, RAW4, SYNC4, RAW4_WARM, RAWP16, FUTURES, RAWHANDF, RAWP16_SYNC, RAWP4, SYNC16,
  RAWHAND16, RAWPOOL16, RAWP4_SYNC,
  SYNC1_FRESH, SYNC4_FRESH, FUTURES_FRESH, SYNC16_FRESH, PGBENCH1, PGBENCH16, N_MODES
};

/* A shape of the final table: an engine mode against its limit. */
typedef struct {
  const char *title;
  guint       mode, fresh, limit;
  double      min_ratio;      /* throughput target, 0 = none */
  double      max_cpu_ratio;  /* CPU per query target, 0 = none */
} Shape;

static const Shape shapes[] = {
  { "1 thread sync / raw1", SYNC1, SYNC1_FRESH, RAW1, 0.95, 1.2 },
  { "4 threads sync / raw4", SYNC4, SYNC4_FRESH, RAW4, 0.95, 0 },
  { "4x16 futures / rawp16", FUTURES, FUTURES_FRESH, RAWP16, 0.90, 0 },
  { "16 threads sync / rawp4", SYNC16, SYNC16_FRESH, RAWP4, 0.80, 0 },
  { "16 threads sync / raw4", SYNC16, SYNC16_FRESH, RAW4, 1.20, 0 },
  { "4x16 futures / rawhandf", FUTURES, FUTURES_FRESH, RAWHANDF, 0, 0 },
  { "16 threads sync / rawhand16", SYNC16, SYNC16_FRESH, RAWHAND16, 0, 0 },
  { "16 threads sync / rawpool16", SYNC16, SYNC16_FRESH, RAWPOOL16, 0, 0 },
  { "4x16 futures / rawp16-sync", FUTURES, FUTURES_FRESH, RAWP16_SYNC, 0, 0 },
  { "16 threads sync / rawp4-sync", SYNC16, SYNC16_FRESH, RAWP4_SYNC, 0, 0 },
  { "rawp16-sync / rawp16", RAWP16_SYNC, N_MODES, RAWP16, 0, 0 },
  { "rawp4-sync / rawp4", RAWP4_SYNC, N_MODES, RAWP4, 0, 0 },
  { "rawhandf / rawp16", RAWHANDF, N_MODES, RAWP16, 0, 0 },
  { "rawhand16 / rawp4", RAWHAND16, N_MODES, RAWP4, 0, 0 },
  { "raw4-warm / raw4", RAW4_WARM, N_MODES, RAW4, 0, 0 },
  { "pgbench -c4 -j4 / raw4", PGBENCH1, N_MODES, RAW4, 0, 0 },
  { "pgbench pipelines / raw4", PGBENCH16, N_MODES, RAW4, 0, 0 },
};

static void
record (Mode *mode, guint round, Sample sample)
{
  if (sample.n_queries == 0 || sample.wall <= 0)
    die (mode->name, "no query was answered");
  mode->qps[round] = sample.n_queries / sample.wall;
  mode->cpu_us[round] = sample.cpu * 1e6 / sample.n_queries;
  mode->csw[round] = sample.csw / sample.n_queries;
  mode->server_us[round] = sample.server_cpu < 0 ? -1 : sample.server_cpu * 1e6 / sample.n_queries;
}

/* The median server CPU per query as text, "-" when unknown. */
static char *
server_text (const Mode *mode, guint n_rounds)
{
  double value = median (mode->server_us, n_rounds);

  return value < 0 ? g_strdup ("-") : g_strdup_printf ("%.1f", value);
}

static void
run_rounds (Mode *modes, guint n_modes, guint n_rounds)
{
  for (guint round = 0; round < n_rounds; round++)
    {
      g_autofree char *load = load_average ();

      printf ("round %u/%u (load %s):", round + 1, n_rounds, load);
      for (guint m = 0; m < n_modes; m++)
        {
          Ticks before = ticks_now ();

          record (&modes[m], round, modes[m].run ());
          modes[m].steal[round] = steal_percent (before, ticks_now ());
          printf (" %s %.0f", modes[m].name, modes[m].qps[round]);
          fflush (stdout);
        }
      printf (" q/s\n");
    }
}

static void
range (const double *values, guint n, double *lo, double *hi)
{
  *lo = G_MAXDOUBLE, *hi = -G_MAXDOUBLE;
  for (guint r = 0; r < n; r++)
    *lo = MIN (*lo, values[r]), *hi = MAX (*hi, values[r]);
}

static void
print_modes (const Mode *modes, guint n_modes, guint n_rounds)
{
  printf ("\nmedians over %u rounds (client CPU and voluntary context switches (csw): all threads\n"
          "of the client process, callers and the engine's workers; pgbench: the pgbench process;\n"
          "server CPU: the backends serving the mode, from /proc when the server is local;\n"
          "steal: the share of this machine's CPU time its hypervisor gave to others):\n",
          n_rounds);
  for (guint m = 0; m < n_modes; m++)
    {
      double lo, hi;

      g_autofree char *server = server_text (&modes[m], n_rounds);

      range (modes[m].qps, n_rounds, &lo, &hi);
      printf ("  %-14s %-50s %8.0f q/s (rounds %.0f..%.0f)  CPU %6.1f us/q  csw %5.2f/q  server CPU %s us/q"
              "  steal %.0f%%\n",
              modes[m].name, modes[m].what, median (modes[m].qps, n_rounds), lo, hi,
              median (modes[m].cpu_us, n_rounds), median (modes[m].csw, n_rounds), server,
              MAX (median (modes[m].steal, n_rounds), 0));
    }
}

/* Per-round ratios of mode a to mode b: their median, lowest, highest. */
static double
round_ratios (const Mode *a, const Mode *b, guint n_rounds, double *lo, double *hi)
{
  double ratios[MAX_ROUNDS];

  for (guint r = 0; r < n_rounds; r++)
    ratios[r] = a->qps[r] / b->qps[r];
  range (ratios, n_rounds, lo, hi);
  return median (ratios, n_rounds);
}

static void
print_table (const Mode *modes, guint n_modes, guint n_rounds)
{
  printf ("\n%-28s | %8s | %8s | %6s | %-11s | %-17s | %4s | %8s | %6s | %-11s | %8s | %7s | %6s | %5s | %5s\n",
          "shape (warm engine)", "q/s", "limit", "ratio", "per round", "target", "met", "fresh",
          "warm/", "per round", "CPU us/q", "limit", "CPU", "csw/q", "limit");
  printf ("%-28s | %8s | %8s | %6s | %-11s | %-17s | %4s | %8s | %6s | %-11s | %8s | %7s | %6s | %5s | %5s\n",
          "", "", "q/s", "", "", "", "", "q/s", "fresh", "", "", "", "ratio", "", "");
  for (guint s = 0; s < G_N_ELEMENTS (shapes); s++)
    {
      const Shape *shape = &shapes[s];
      const Mode *mode = &modes[shape->mode], *limit = &modes[shape->limit];
      double qps, base_qps, cpu, base_cpu, ratio, cpu_ratio, lo, hi, warm = 0, wlo = 0, whi = 0;
      g_autofree char *target = NULL;
      g_autofree char *fresh = NULL;
      g_autofree char *warm_text = NULL;
      gboolean met;

      if (shape->mode >= n_modes)
        continue;
      qps = median (mode->qps, n_rounds);
      base_qps = median (limit->qps, n_rounds);
      cpu = median (mode->cpu_us, n_rounds);
      base_cpu = median (limit->cpu_us, n_rounds);
      ratio = qps / base_qps;
      cpu_ratio = cpu / base_cpu;
      round_ratios (mode, limit, n_rounds, &lo, &hi);
      if (shape->fresh < n_modes)
        {
          warm = round_ratios (mode, &modes[shape->fresh], n_rounds, &wlo, &whi);
          fresh = g_strdup_printf ("%8.0f", median (modes[shape->fresh].qps, n_rounds));
          warm_text = g_strdup_printf ("%5.2fx | %4.2f-%-4.2f%s", warm, wlo, whi,
                                       warm >= 0.95 ? "  " : " !");
        }
      else
        {
          fresh = g_strdup ("-");
          warm_text = g_strdup ("     - | -");
        }
      met = ratio >= shape->min_ratio && (shape->max_cpu_ratio == 0 || cpu_ratio <= shape->max_cpu_ratio);
      if (shape->min_ratio == 0)
        target = g_strdup ("(reference)");
      else if (shape->max_cpu_ratio > 0)
        target = g_strdup_printf (">=%.2fx,CPU<=%.1fx", shape->min_ratio, shape->max_cpu_ratio);
      else
        target = g_strdup_printf (">=%.2fx", shape->min_ratio);
      printf ("%-28s | %8.0f | %8.0f | %5.2fx | %5.2f-%-5.2f | %-17s | %4s | %8s | %-20s | %8.1f | %7.1f | %5.2fx | %5.2f | %5.2f\n",
              shape->title, qps, base_qps, ratio, lo, hi, target,
              shape->min_ratio == 0 ? "-" : met ? "yes" : "NO", fresh, warm_text, cpu, base_cpu, cpu_ratio,
              median (mode->csw, n_rounds), median (limit->csw, n_rounds));
    }
  printf ("(ratio = median engine q/s / median limit q/s; per round = lowest and highest of the\n"
          " rounds' own ratios; warm/fresh = median of the rounds' warm-engine / fresh-engine ratios,\n"
          " target >= 0.95, '!' where missed; CPU and csw (voluntary context switches) per query:\n"
          " the whole client process;\n"
          " pgbench is a reference, not a limit: its own client is slow)\n");
}

/* ------------------------------------------------------------ RSS check */

static Sample
run_count (PgeEngine *engine, GThreadFunc func, guint n_threads, guint n_queries)
{
  guint saved = run_queries;
  Sample sample;

  run_queries = n_queries;
  sample = run_engine (engine, func, n_threads);
  run_queries = saved;
  return sample;
}

/* The warm engine serves every shape in turn, 25k queries at a time:
 * its RSS after 100k queries and after @total. */
static void
rss_check (guint total)
{
  static const struct { GThreadFunc func; guint n_threads; } turns[] = {
    { sync_thread, 4 }, { futures_thread, 4 }, { sync_thread, 16 }, { sync_thread, 1 },
  };
  guint chunk = 25000, first = MIN (100000, total / 2), done = 0, turn = 0;
  guint64 before = 0, after;
  gint64 start = g_get_monotonic_time ();

  while (done < total)
    {
      guint n = MIN (chunk, total - done);

      run_count (warm_engine, turns[turn % G_N_ELEMENTS (turns)].func,
                 turns[turn % G_N_ELEMENTS (turns)].n_threads, n);
      turn++;
      done += n;
      if (before == 0 && done >= first)
        before = rss_kb ();
    }
  after = rss_kb ();
  printf ("\nRSS of the warm engine, sync4/futures/sync16/sync1 in turn: %" G_GUINT64_FORMAT
          " kB after %u more queries, %" G_GUINT64_FORMAT " kB after %u: %+.1f%% "
          "(target within +-10%%: %s; %.0f s)\n",
          before, first, after, total, 100.0 * ((double) after - before) / before,
          ABS ((double) after - before) <= 0.1 * before ? "yes" : "NO",
          (g_get_monotonic_time () - start) / 1e6);
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
  g_autofree char *load = load_average ();
  int version;

  if (PQstatus (conn) != CONNECTION_OK)
    die ("connect", PQerrorMessage (conn));
  version = PQserverVersion (conn);
  printf ("machine: %u CPUs (nproc), load average %s; PostgreSQL %d.%d at %s: %s\n"
          "workload: %s, one int parameter; engines: default PgeConfig "
          "(pge_config_new (conninfo) only: %u workers)\n",
          g_get_num_processors (), load, version / 10000, version % 10000, PQhost (conn),
          host_is_local (PQhost (conn)) ? "on this machine, client and server share these cores"
                                        : "maybe another machine",
          QUERY, pge_engine_get_n_workers (warm_engine));
  PQfinish (conn);
}

/* The connection that finds the server's backends, if the server runs
 * on this machine; else NULL (no server CPU figures). */
static PGconn *
monitor_connect (void)
{
  PGconn *conn = PQconnectdb (conninfo);

  if (PQstatus (conn) != CONNECTION_OK)
    die ("connect", PQerrorMessage (conn));
  if (!host_is_local (PQhost (conn)))
    g_clear_pointer (&conn, PQfinish);
  return conn;
}

/* Statements the engine's primary has run in pipeline windows so far
 * (PGE_COUNTER_PIPELINED: a window may hold a single statement at times,
 * and a statement put back and run again counts again): how much of a
 * shape the workers' windows and the threads' own windows carried, as
 * against statements run alone. */
static guint64
pipelined_count (PgeEngine *engine)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PgeMetrics) metrics = pge_engine_get_metrics (engine, "primary", &error);

  if (metrics == NULL)
    die ("pge_engine_get_metrics", error->message);
  return pge_metrics_get_counter (metrics, PGE_COUNTER_PIPELINED);
}

/* --shape: the named shapes one after another on one engine. */
static int
run_named_shapes (const char *names)
{
  static const struct { const char *name; GThreadFunc func; guint n_threads, depth; gboolean raw; } runs[] = {
    { "sync1", sync_thread, 1, 0, FALSE }, { "sync4", sync_thread, 4, 0, FALSE },
    { "futures", futures_thread, 4, 0, FALSE }, { "sync16", sync_thread, 16, 0, FALSE },
    { "raw1", NULL, 1, 0, TRUE }, { "raw4", NULL, 4, 0, TRUE },
    { "rawp16", NULL, 4, 16, TRUE }, { "rawp4", NULL, 4, 4, TRUE },
  };
  static const struct { const char *name; Sample (*run) (void); } references[] = {
    { "raw4-warm", run_raw4_warm }, { "rawpool16", run_rawpool16 },
    { "rawp16-sync", run_rawp16_sync }, { "rawp4-sync", run_rawp4_sync },
    { "rawhandf", run_rawhandf }, { "rawhand16", run_rawhand16 },
    { "rawlf", run_rawlf }, { "rawlf-affine", run_rawlf_affine },
    { "rawhandf-affine", run_rawhandf_affine },
    { "raw4-paired", run_raw4_paired }, { "raw4-split", run_raw4_split },
  };
  g_auto(GStrv) list = g_strsplit (names, ",", -1);

  for (guint n = 0; list[n] != NULL; n++)
    {
      Sample sample;
      Ticks before = ticks_now ();
      double steal;
      guint64 pipelined = 0;
      guint r, f;

      for (r = 0; r < G_N_ELEMENTS (runs) && strcmp (list[n], runs[r].name) != 0; r++)
        ;
      for (f = 0; f < G_N_ELEMENTS (references) && strcmp (list[n], references[f].name) != 0; f++)
        ;
      if (r == G_N_ELEMENTS (runs) && f == G_N_ELEMENTS (references))
        die ("--shape", "NAME must be sync1, sync4, futures, sync16, raw1, raw4, rawp16, rawp4, "
                        "rawp16-sync, rawp4-sync, raw4-warm, rawpool16, rawhandf, rawhand16, rawlf, rawlf-affine, "
                        "rawhandf-affine, raw4-paired or raw4-split");
      if (f < G_N_ELEMENTS (references))
        sample = references[f].run ();
      else if (runs[r].raw)
        sample = run_raw (runs[r].n_threads, runs[r].depth);
      else
        {
          if (warm_engine == NULL)
            warm_engine = default_engine_new ();
          pipelined = pipelined_count (warm_engine);
          sample = run_engine (warm_engine, runs[r].func, runs[r].n_threads);
          pipelined = pipelined_count (warm_engine) - pipelined;
        }
      printf ("%s: %u queries in %.3f s, %.0f q/s, client CPU %.1f us/query, "
              "%.2f voluntary context switches/query", list[n], sample.n_queries, sample.wall,
              sample.n_queries / sample.wall, sample.cpu * 1e6 / sample.n_queries,
              sample.csw / sample.n_queries);
      if (sample.server_cpu >= 0)
        printf (", server CPU %.1f us/query", sample.server_cpu * 1e6 / sample.n_queries);
      steal = steal_percent (before, ticks_now ());
      if (steal >= 0)
        printf (", steal %.0f%%", steal);
      if (warm_engine != NULL)
        {
          PgeStats stats;

          pge_engine_get_stats (warm_engine, &stats);
          printf (" (engine: %" G_GUINT64_FORMAT " reconnects so far", stats.n_reconnects);
          if (r < G_N_ELEMENTS (runs) && !runs[r].raw)
            printf ("; %.0f%% of this mode's queries ran in pipeline windows",
                    100.0 * (double) pipelined / MAX (sample.n_queries, 1));
          printf (")");
        }
      printf ("\n");
    }
  g_clear_pointer (&warm_engine, pge_engine_unref);
  close_long_lived ();
  return 0;
}

int
main (int argc, char **argv)
{
  g_autofree char *shape = NULL;
  int n_shape_queries = 0, n_rounds_option = 0;
  double seconds = 0;
  GOptionEntry entries[] = {
    { "shape", 0, 0, G_OPTION_ARG_STRING, &shape, "Run only these shapes (comma-separated) on one engine, no limit", "NAME" },
    { "queries", 0, 0, G_OPTION_ARG_INT, &n_shape_queries, "Queries per mode (instead of --seconds)", "N" },
    { "seconds", 0, 0, G_OPTION_ARG_DOUBLE, &seconds, "Seconds per mode (default 1.5)", "S" },
    { "rounds", 0, 0, G_OPTION_ARG_INT, &n_rounds_option, "Rounds (default 5)", "R" },
    G_OPTION_ENTRY_NULL
  };
  g_autoptr(GOptionContext) context =
      g_option_context_new ("[CONNINFO] [QUERIES_PER_MODE] [ROUNDS] — pgengine vs raw libpq");
  g_autoptr(GError) error = NULL;
  Mode modes[] = {
    [RAW1] = { "raw1", "limit: 1 thread, libpq prepared", run_raw1 },
    [SYNC1] = { "sync1", "1 thread, pge_engine_query_sync", run_sync1 },
    [RAW4] = { "raw4", "limit: 4 threads, 4 connections, libpq prepared", run_raw4 },
    [SYNC4] = { "sync4", "4 threads, pge_engine_query_sync", run_sync4 },
    [RAW4_WARM] = { "raw4-warm", "reference: raw4 on 4 long-lived connections", run_raw4_warm },
    [RAWP16] = { "rawp16", "limit: 4 connections pipelined, 16 in flight each", run_rawp16 },
    [FUTURES] = { "futures", "4 threads x 16 futures in flight", run_futures },
    [RAWP4] = { "rawp4", "limit: 4 connections pipelined, 4 in flight each", run_rawp4 },
    [SYNC16] = { "sync16", "16 threads, pge_engine_query_sync, 4 workers", run_sync16 },
    [RAWHANDF] = { "rawhandf", "reference: 4x16 in flight handed to 4 pipelines", run_rawhandf },
    [RAWHAND16] = { "rawhand16", "reference: 16 threads hand to 4 pipelines (4 each)", run_rawhand16 },
    [RAWPOOL16] = { "rawpool16", "reference: 16 threads take turns on those 4", run_rawpool16 },
    [RAWP16_SYNC] = { "rawp16-sync", "reference: rawp16 with a Sync per query", run_rawp16_sync },
    [RAWP4_SYNC] = { "rawp4-sync", "reference: rawp4 with a Sync per query", run_rawp4_sync },
    [SYNC1_FRESH] = { "sync1-fresh", "sync1 on a new engine", run_sync1_fresh },
    [SYNC4_FRESH] = { "sync4-fresh", "sync4 on a new engine", run_sync4_fresh },
    [FUTURES_FRESH] = { "futures-fresh", "futures on a new engine", run_futures_fresh },
    [SYNC16_FRESH] = { "sync16-fresh", "sync16 on a new engine", run_sync16_fresh },
    [PGBENCH1] = { "pgbench", "reference: pgbench -n -M prepared -c 4 -j 4", run_pgbench1 },
    [PGBENCH16] = { "pgbench16", "reference: the same, pipelines of 16 SELECTs", run_pgbench16 },
  };
  guint n_modes = N_MODES, n_rounds = 5, rss_queries;
  g_autofree char *pgbench = g_find_program_in_path ("pgbench");
  g_autofree char *load = NULL;
  gint64 start = g_get_monotonic_time ();

  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    die_error ("usage", error);
  if (argc > 4)
    die ("usage", "pge-bench [--seconds S] [--rounds R] [CONNINFO] [QUERIES_PER_MODE] [ROUNDS]");
  conninfo = argc > 1 ? argv[1] : g_getenv ("PGE_BENCH_CONNINFO");
  if (conninfo == NULL)
    conninfo = g_getenv ("PGE_CLUSTER_CONNINFO");
  if (conninfo == NULL)
    conninfo = "";
  if (seconds < 0 || n_shape_queries < 0 || n_rounds_option < 0 || n_rounds_option > MAX_ROUNDS)
    die ("usage", "--seconds, --queries and --rounds take positive numbers (rounds at most 51)");
  run_queries = (guint) n_shape_queries;
  run_seconds = seconds > 0 ? seconds : 1.5;
  monitor = monitor_connect ();

  if (shape != NULL)
    {
      if ((n_shape_queries == 0 && seconds == 0) || argc > 2)
        die ("usage", "pge-bench --shape NAME[,NAME...] (--queries N | --seconds S) [CONNINFO]");
      return run_named_shapes (shape);
    }
  if (argc > 2)
    run_queries = parse_uint ("QUERIES_PER_MODE", argv[2], G_MAXINT / 2);
  if (n_rounds_option > 0)
    n_rounds = (guint) n_rounds_option;
  if (argc > 3)
    n_rounds = parse_uint ("ROUNDS", argv[3], MAX_ROUNDS);
  pgbench_secs = env_uint ("PGE_BENCH_PGBENCH_SECS", 2);
  rss_queries = env_uint ("PGE_BENCH_RSS_QUERIES",
                          g_strcmp0 (g_getenv ("PGE_BENCH_QUICK"), "1") == 0 ? 200000 : 1000000);
  if (rss_queries < 2)
    die ("PGE_BENCH_RSS_QUERIES", "must be at least 2");
  if (pgbench == NULL)
    n_modes = PGBENCH1;

  warm_engine = default_engine_new ();
  print_machine ();
  if (run_queries > 0)
    printf ("%u queries per mode and round", run_queries);
  else
    printf ("%.1f s per mode and round", run_seconds);
  printf (", %u rounds interleaved; one warm engine for every round; ", n_rounds);
  if (pgbench != NULL)
    printf ("pgbench (%s) runs -T %u each round\n\n", pgbench, pgbench_secs);
  else
    printf ("pgbench is not on PATH: no pgbench lines\n\n");
  /* Warm up the server and the client libraries, untimed. */
  run_count (warm_engine, sync_thread, 4, 5000);
  run_rounds (modes, n_modes, n_rounds);
  print_modes (modes, n_modes, n_rounds);
  rss_check (rss_queries);
  print_table (modes, n_modes, n_rounds);
  g_clear_pointer (&warm_engine, pge_engine_unref);
  close_long_lived ();
  load = load_average ();
  printf ("total run time %.0f s; load average at the end %s\n", (g_get_monotonic_time () - start) / 1e6, load);
  return 0;
}
