/* chaos.c — everything at once against a misbehaving server, then an exact
 * account of every write.
 *
 *   pge-stress --chaos [SECONDS] [CONNINFO]   (default 60 s, $PGE_TEST_CONNINFO)
 *
 * For SECONDS, writer threads insert rows into `chaos` by every way the
 * engine offers: autocommit query_sync and futures, transactions with
 * inner (PGE_TRANSACTION_SAVEPOINT) transactions, named savepoints and
 * atomics inside them, atomics on their own (some doomed by a duplicate
 * key), pge_engine_run_transaction(). Reader threads scan the table with
 * batches and check every row is well-formed, and read their own
 * uncommitted rows through a batch inside a transaction. Meanwhile one
 * thread cancels random in-flight futures, one terminates random backends
 * of the engine (found by its application_name, through a raw libpq
 * connection), and one restarts the server once, half-way through
 * (`tools/pge-cluster restart $PGE_CLUSTER_DIR`; without PGE_CLUSTER_DIR,
 * as outside tools/with-cluster.sh, the restart is skipped and says so).
 *
 * Every row has an id no other write uses (thread * 1e9 + counter), and
 * each write is recorded with what the engine said about it:
 *
 *   acknowledged  the engine reported its commit done: must be present
 *   rolled back   rolled back on purpose (ROLLBACK, ROLLBACK TO, a
 *                 transaction dropped unfinished, a callback that failed,
 *                 an atomic doomed by a duplicate key) or never committed
 *                 (the commit failed with PGE_ERROR_TRANSACTION_STATE):
 *                 must be absent
 *   cancelled     reported PGE_ERROR_CANCELLED, which the API promises
 *                 never to say of a committed write: must be absent
 *   unknown       no outcome was reported (the connection went at COMMIT,
 *                 a timeout, a server error that may have come after the
 *                 commit): either is fine
 *
 * A present row that was rolled back or cancelled is a *phantom*. Every
 * call must return: after the stop signal each thread has GRACE_S seconds
 * to finish, else it is *hung*, named with what it was doing, and the
 * program _exit()s after the report (a hung thread cannot be joined). At
 * the end a fresh libpq connection reads every id and prints one line:
 *
 *   chaos: acknowledged N / present N / lost N / hung N | unknown N ...
 *
 * Exits non-zero on anything lost, hung, phantom, stray (a row nobody
 * wrote), malformed, or any wrong answer from a query.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <pgengine.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "chaos.h"

#ifndef PGE_TEST_SRCDIR
#define PGE_TEST_SRCDIR "."
#endif

#define ID_SPAN            G_GINT64_CONSTANT (1000000000)
#define N_WRITERS          6
#define N_READERS          2
#define N_WORKERS          4       /* engine connections */
#define ACQUIRE_TIMEOUT_MS 10000
#define GRACE_S            30      /* after the stop signal, per the whole run */
#define MAX_REPORTED       20      /* wrong answers and lost rows printed */

#define INSERT_SQL "INSERT INTO chaos (id, kind, writer, v, note) VALUES ($1, $2, $3, $4, $5)"
/* Some inserts sleep first, so that a cancel finds them running. */
#define SLOW_INSERT_SQL "INSERT INTO chaos (id, kind, writer, v, note) " \
                        "SELECT $1, $2, $3, $4, $5 FROM pg_sleep($6)"
#define ROW_COLUMNS "id, kind, writer, v, note"

/* ------------------------------------------------------------ records */

typedef enum {
  PATH_SYNC,          /* autocommit pge_engine_query_sync() */
  PATH_FUTURE,        /* autocommit pge_engine_query() futures */
  PATH_TX,            /* in an outermost transaction */
  PATH_TX_INNER,      /* in a PGE_TRANSACTION_SAVEPOINT inner transaction */
  PATH_TX_SAVEPOINT,  /* after pge_transaction_savepoint() */
  PATH_TX_ATOMIC,     /* an atomic inside a transaction */
  PATH_ATOMIC,        /* an atomic on its own */
  PATH_ATOMIC_FAIL,   /* an atomic doomed by a duplicate key */
  PATH_RUN_TX,        /* pge_engine_run_transaction() */
  PATH_TX_BATCH,      /* a transaction that reads its row through a batch */
  N_PATHS
} Path;

static const char *const path_names[N_PATHS] = {
  "sync", "future", "tx", "tx-inner", "tx-savepoint", "tx-atomic", "atomic", "atomic-fail",
  "run-tx", "tx-batch",
};

typedef enum {
  FATE_ACKED,        /* must be present */
  FATE_ROLLED_BACK,  /* must be absent */
  FATE_CANCELLED,    /* must be absent */
  FATE_UNKNOWN,      /* either */
  N_FATES
} Fate;

typedef struct {
  gint64 id;
  guint8 path;
  guint8 fate;
} Write;

/* A write inside a transaction, until the transaction ends. */
typedef enum {
  PENDING_OPEN,       /* reported done: commits with the transaction */
  PENDING_UNDONE,     /* its savepoint was rolled back: absent, whatever follows */
  PENDING_CANCELLED,  /* reported cancelled: absent */
  PENDING_DOUBT       /* failed, or its scope failed to end: unknown if committed */
} PendingState;

typedef struct {
  gint64 id;
  guint8 path;
  guint8 state;
} Pending;

/* How an outermost transaction ended. */
typedef enum {
  END_COMMITTED,      /* the engine reported the COMMIT done */
  END_NOT_COMMITTED,  /* rolled back, or a commit that cannot have happened */
  END_UNKNOWN         /* the COMMIT may or may not have happened */
} End;

/* ------------------------------------------------------------ the run */

typedef struct _Actor Actor;

typedef struct {
  const char *conninfo;
  char       *app_name;       /* of the engine's connections: what gets terminated */
  PgeEngine  *engine;
  guint       seconds;
  gint64      start_us;
  gint        stop;           /* atomic: the time is up */

  GMutex      inflight_lock;
  GPtrArray  *inflight;       /* PgeFuture refs the cancel thread may hit */

  /* atomic counters */
  gint        n_ops;
  gint        n_failed_ops;
  gint        n_cancels;      /* pge_future_cancel() calls */
  gint        n_cancelled;    /* results that came back PGE_ERROR_CANCELLED */
  gint        n_terminated;   /* backends pg_terminate_backend() hit */
  gint        n_restarts;
  gint        n_wrong;        /* wrong answers, malformed rows seen by readers */
  gint        restart_failed;
  const char *restart_note;   /* why there was no restart */
} Chaos;

struct _Actor {
  Chaos      *chaos;
  guint       index;          /* ids are (index + 1) * ID_SPAN + counter */
  char        name[24];
  GThreadFunc body;
  GThread    *thread;
  GRand      *rand;
  gint        done;           /* atomic: body returned */
  const char *op;             /* atomic: what it does now, for the hang report */
  gint        op_since_ms;    /* atomic: since when, from the start */

  GMutex      writes_lock;
  GArray     *writes;         /* Write */
  gint64      counter;
};

static gboolean
stopping (Chaos *chaos)
{
  return g_atomic_int_get (&chaos->stop) != 0;
}

static gint
elapsed_ms (Chaos *chaos)
{
  return (gint) ((g_get_monotonic_time () - chaos->start_us) / 1000);
}

static void
set_op (Actor *a, const char *op)
{
  g_atomic_int_set (&a->op_since_ms, elapsed_ms (a->chaos));
  g_atomic_pointer_set (&a->op, op);
}

static gint64
next_id (Actor *a)
{
  return (a->index + 1) * ID_SPAN + ++a->counter;
}

static void
record (Actor *a, gint64 id, Path path, Fate fate)
{
  Write w = { id, path, fate };

  g_mutex_lock (&a->writes_lock);
  g_array_append_val (a->writes, w);
  g_mutex_unlock (&a->writes_lock);
}

/* One top-level operation done; a failed one backs off a little, so that
 * threads do not spin while the server is down. */
static void
op_done (Actor *a, gboolean ok)
{
  g_atomic_int_inc (&a->chaos->n_ops);
  if (!ok)
    {
      g_atomic_int_inc (&a->chaos->n_failed_ops);
      g_usleep (g_rand_int_range (a->rand, 5, 50) * 1000);
    }
}

static void
wrong (Actor *a, int line, char *message)
{
  if (g_atomic_int_add (&a->chaos->n_wrong, 1) < MAX_REPORTED)
    fprintf (stderr, "chaos: WRONG (%s, line %d, at %.1f s): %s\n", a->name, line,
             elapsed_ms (a->chaos) / 1000.0, message);
  g_free (message);
}

#define WRONG_IF(a, cond, ...)                                   \
  G_STMT_START {                                                 \
    if (cond)                                                    \
      wrong ((a), __LINE__, g_strdup_printf (__VA_ARGS__));      \
  } G_STMT_END

static gboolean
is_cancelled (const GError *error)
{
  return g_error_matches (error, PGE_ERROR, PGE_ERROR_CANCELLED);
}

/* ------------------------------------------------------------ rows */

static PgeParams *
row_params (gint64 id, Path path)
{
  PgeParams *params = pge_params_new ();
  g_autofree char *note = g_strdup_printf ("n%" G_GINT64_FORMAT, id);

  pge_params_add_int64 (params, id);
  pge_params_add_text (params, path_names[path]);
  pge_params_add_int32 (params, (gint32) (id / ID_SPAN));
  pge_params_add_int64 (params, id * 7 + 3);
  pge_params_add_text (params, note);
  return params;
}

static int
path_of_kind (const char *kind)
{
  for (int i = 0; i < N_PATHS; i++)
    if (g_strcmp0 (kind, path_names[i]) == 0)
      return i;
  return -1;
}

/* Checks row @r of a `SELECT ROW_COLUMNS` result; returns its id. */
static gint64
check_row (Actor *a, PgeResult *result, guint r)
{
  gint64 id = pge_result_get_int64 (result, r, 0);
  g_autofree char *note = g_strdup_printf ("n%" G_GINT64_FORMAT, id);

  WRONG_IF (a, path_of_kind (pge_result_get_value (result, r, 1)) < 0 ||
                 pge_result_get_int64 (result, r, 2) != id / ID_SPAN ||
                 pge_result_get_int64 (result, r, 3) != id * 7 + 3 ||
                 g_strcmp0 (pge_result_get_value (result, r, 4), note) != 0,
            "malformed row id=%" G_GINT64_FORMAT ": kind=%s writer=%s v=%s note=%s", id,
            pge_result_get_value (result, r, 1), pge_result_get_value (result, r, 2),
            pge_result_get_value (result, r, 3), pge_result_get_value (result, r, 4));
  return id;
}

static void
check_inserted (Actor *a, PgeResult *result, gint64 id)
{
  WRONG_IF (a, pge_result_get_rows_affected (result) != 1,
            "INSERT of %" G_GINT64_FORMAT " succeeded with tag %s", id,
            pge_result_get_command_tag (result));
}

/* ------------------------------------------------------------ futures a cancel may hit */

static PgeFuture *
inflight_add (Chaos *chaos, PgeFuture *future)
{
  g_mutex_lock (&chaos->inflight_lock);
  g_ptr_array_add (chaos->inflight, pge_future_ref (future));
  g_mutex_unlock (&chaos->inflight_lock);
  return future;
}

/* Waits for @future (transfer full) and takes it off the in-flight list. */
static PgeResult *
await (Actor *a, PgeFuture *future, GError **error)
{
  PgeResult *result = pge_future_wait (future, error);

  g_mutex_lock (&a->chaos->inflight_lock);
  g_ptr_array_remove_fast (a->chaos->inflight, future);   /* drops the list's ref */
  g_mutex_unlock (&a->chaos->inflight_lock);
  pge_future_unref (future);
  if (is_cancelled (*error))
    g_atomic_int_inc (&a->chaos->n_cancelled);
  return result;
}

/* An INSERT of a fresh row as a future, in @tx or autocommit (@tx NULL). */
static PgeFuture *
submit_insert (Actor *a, PgeTransaction *tx, gint64 id, Path path)
{
  g_autoptr(PgeParams) params = row_params (id, path);
  const char *sql = INSERT_SQL;

  if (g_rand_int_range (a->rand, 0, 4) == 0)
    {
      pge_params_add_double (params, g_rand_int_range (a->rand, 0, 20) / 1000.0);
      sql = SLOW_INSERT_SQL;
    }
  return inflight_add (a->chaos, tx != NULL ? pge_transaction_query (tx, sql, params)
                                            : pge_engine_query (a->chaos->engine, sql, params));
}

/* ------------------------------------------------------------ autocommit writes */

static void
read_back (Actor *a, gint64 id)
{
  g_autoptr(PgeParams) params = pge_params_new ();
  g_autoptr(GError) error = NULL;
  g_autoptr(PgeResult) result = NULL;

  set_op (a, "SELECT an acknowledged row");
  pge_params_add_int64 (params, id);
  result = pge_engine_query_sync (a->chaos->engine, "SELECT v FROM chaos WHERE id = $1", params,
                                  &error);
  if (result != NULL)
    WRONG_IF (a, pge_result_get_n_rows (result) != 1 ||
                   pge_result_get_int64 (result, 0, 0) != id * 7 + 3,
              "acknowledged row %" G_GINT64_FORMAT " not read back (%u rows)", id,
              pge_result_get_n_rows (result));
}

static void
op_sync_insert (Actor *a)
{
  gint64 id = next_id (a);
  g_autoptr(PgeParams) params = row_params (id, PATH_SYNC);
  g_autoptr(GError) error = NULL;
  g_autoptr(PgeResult) result = NULL;

  set_op (a, "INSERT (pge_engine_query_sync)");
  result = pge_engine_query_sync (a->chaos->engine, INSERT_SQL, params, &error);
  if (result == NULL)
    {
      WRONG_IF (a, error == NULL, "query_sync: no result and no error");
      record (a, id, PATH_SYNC, FATE_UNKNOWN);
      op_done (a, FALSE);
      return;
    }
  check_inserted (a, result, id);
  record (a, id, PATH_SYNC, FATE_ACKED);
  if (g_rand_int_range (a->rand, 0, 4) == 0)
    read_back (a, id);
  op_done (a, TRUE);
}

static void
op_futures (Actor *a)
{
  guint n = g_rand_int_range (a->rand, 1, 9);
  gint64 ids[8];
  PgeFuture *futures[8];
  gboolean ok = TRUE;

  set_op (a, "INSERT futures");
  for (guint i = 0; i < n; i++)
    {
      ids[i] = next_id (a);
      futures[i] = submit_insert (a, NULL, ids[i], PATH_FUTURE);
    }
  for (guint i = 0; i < n; i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(PgeResult) result = await (a, futures[i], &error);

      if (result != NULL)
        {
          check_inserted (a, result, ids[i]);
          record (a, ids[i], PATH_FUTURE, FATE_ACKED);
          continue;
        }
      WRONG_IF (a, error == NULL, "insert future: no result and no error");
      record (a, ids[i], PATH_FUTURE, is_cancelled (error) ? FATE_CANCELLED : FATE_UNKNOWN);
      ok = FALSE;
    }
  op_done (a, ok);
}

/* An atomic of 1-5 inserts; a doomed one repeats its first id last, so
 * that it can never commit, whatever else happens. */
static PgeAtomic *
new_atomic (Actor *a, Path path, gboolean doomed, gint64 *ids, guint *n_ids)
{
  PgeAtomic *atomic = pge_engine_atomic (a->chaos->engine);

  *n_ids = g_rand_int_range (a->rand, 1, 6);
  for (guint i = 0; i < *n_ids; i++)
    {
      g_autoptr(PgeParams) params = NULL;

      ids[i] = next_id (a);
      params = row_params (ids[i], path);
      pge_atomic_add (atomic, INSERT_SQL, params);
    }
  if (doomed)
    {
      g_autoptr(PgeParams) params = row_params (ids[0], path);

      pge_atomic_add (atomic, INSERT_SQL, params);
    }
  return atomic;
}

/* Runs @atomic synchronously or as a future the cancel thread may hit.
 * Returns TRUE if it succeeded; @error tells why not. */
static gboolean
run_atomic (Actor *a, PgeAtomic *atomic, GError **error)
{
  g_autoptr(PgeResult) result = NULL;

  if (g_rand_int_range (a->rand, 0, 3) != 0)
    return pge_atomic_run_sync (atomic, error);
  result = await (a, inflight_add (a->chaos, pge_atomic_run (atomic)), error);
  WRONG_IF (a, result == NULL && *error == NULL, "atomic future: no result and no error");
  return result != NULL;
}

static void
op_atomic (Actor *a)
{
  gboolean doomed = g_rand_int_range (a->rand, 0, 5) == 0;
  Path path = doomed ? PATH_ATOMIC_FAIL : PATH_ATOMIC;
  gint64 ids[5];
  guint n;
  g_autoptr(PgeAtomic) atomic = new_atomic (a, path, doomed, ids, &n);
  g_autoptr(GError) error = NULL;
  gboolean ok;
  Fate fate;

  set_op (a, doomed ? "atomic (doomed)" : "atomic");
  ok = run_atomic (a, atomic, &error);
  WRONG_IF (a, ok && doomed, "an atomic with a duplicate key succeeded");
  if (ok)
    fate = FATE_ACKED;
  else if (doomed)
    fate = FATE_ROLLED_BACK;
  else if (is_cancelled (error))
    fate = FATE_CANCELLED;
  else
    fate = FATE_UNKNOWN;
  for (guint i = 0; i < n; i++)
    record (a, ids[i], path, fate);
  op_done (a, ok || doomed);
}

/* ------------------------------------------------------------ transactions */

/* Marks the writes from @mark on: @state for those still open; a rolled
 * back savepoint also settles the doubtful ones. Cancelled stay so. */
static void
mark_from (GArray *pending, guint mark, PendingState state)
{
  for (guint i = mark; i < pending->len; i++)
    {
      Pending *p = &g_array_index (pending, Pending, i);

      if (p->state == PENDING_OPEN || (state == PENDING_UNDONE && p->state == PENDING_DOUBT))
        p->state = state;
    }
}

static void
settle (Actor *a, GArray *pending, End end)
{
  for (guint i = 0; i < pending->len; i++)
    {
      Pending *p = &g_array_index (pending, Pending, i);
      Fate fate;

      if (p->state == PENDING_CANCELLED)
        fate = FATE_CANCELLED;
      else if (p->state == PENDING_UNDONE || end == END_NOT_COMMITTED)
        fate = FATE_ROLLED_BACK;
      else if (end == END_COMMITTED && p->state == PENDING_OPEN)
        fate = FATE_ACKED;
      else
        fate = FATE_UNKNOWN;
      record (a, p->id, p->path, fate);
    }
  g_array_set_size (pending, 0);
}

/* A COMMIT that failed with PGE_ERROR_TRANSACTION_STATE found the
 * transaction aborted (or already ended) and did not commit; any other
 * failure may have come after the server committed. */
static End
commit_end (gboolean committed, const GError *error)
{
  if (committed)
    return END_COMMITTED;
  return g_error_matches (error, PGE_ERROR, PGE_ERROR_TRANSACTION_STATE) ? END_NOT_COMMITTED
                                                                          : END_UNKNOWN;
}

/* One INSERT in @tx, the innermost open transaction of this thread, by
 * one of the three ways in. Goes on after failures on purpose: a
 * statement that "succeeds" after its transaction broke must not commit. */
static gboolean
tx_insert (Actor *a, PgeTransaction *tx, GArray *pending, Path path)
{
  PgeEngine *engine = a->chaos->engine;
  Pending p = { next_id (a), path, PENDING_OPEN };
  g_autoptr(PgeParams) params = row_params (p.id, path);
  g_autoptr(GError) error = NULL;
  g_autoptr(PgeResult) result = NULL;

  set_op (a, "INSERT in a transaction");
  switch (g_rand_int_range (a->rand, 0, 3))
    {
    case 0:
      /* Routed to the thread's current transaction, which must be @tx. */
      if (pge_engine_get_current_transaction (engine) != tx)
        {
          WRONG_IF (a, TRUE, "the open transaction is no longer current");
          return FALSE;
        }
      result = pge_engine_query_sync (engine, INSERT_SQL, params, &error);
      break;
    case 1:
      result = pge_transaction_query_sync (tx, INSERT_SQL, params, &error);
      break;
    default:
      result = await (a, submit_insert (a, tx, p.id, path), &error);
      break;
    }
  if (result != NULL)
    check_inserted (a, result, p.id);
  else
    {
      WRONG_IF (a, error == NULL, "insert in a transaction: no result and no error");
      p.state = is_cancelled (error) ? PENDING_CANCELLED : PENDING_DOUBT;
    }
  g_array_append_val (pending, p);
  return result != NULL;
}

static void
tx_inserts (Actor *a, PgeTransaction *tx, GArray *pending, Path path, guint min, guint max)
{
  for (guint i = g_rand_int_range (a->rand, min, max + 1); i > 0; i--)
    tx_insert (a, tx, pending, path);
}

/* A PGE_TRANSACTION_SAVEPOINT inner transaction: released or rolled back. */
static void
inner_transaction (Actor *a, GArray *pending)
{
  PgeEngine *engine = a->chaos->engine;
  g_autoptr(GError) error = NULL;
  guint mark = pending->len;
  PgeTransaction *inner;

  set_op (a, "SAVEPOINT (inner transaction)");
  inner = pge_engine_transaction (engine, PGE_TRANSACTION_SAVEPOINT, &error);
  if (inner == NULL)
    return;
  WRONG_IF (a, pge_engine_get_current_transaction (engine) != inner,
            "an inner transaction is not current");
  tx_inserts (a, inner, pending, PATH_TX_INNER, 1, 3);
  if (g_rand_int_range (a->rand, 0, 5) < 3)
    {
      set_op (a, "RELEASE (inner commit)");
      if (!pge_transaction_commit (inner, &error))
        /* Documented: an aborted inner transaction is rolled back to its savepoint. */
        mark_from (pending, mark,
                   g_error_matches (error, PGE_ERROR, PGE_ERROR_TRANSACTION_STATE) ? PENDING_UNDONE
                                                                                   : PENDING_DOUBT);
    }
  else
    {
      set_op (a, "ROLLBACK TO (inner rollback)");
      mark_from (pending, mark,
                 pge_transaction_rollback (inner, &error) ? PENDING_UNDONE : PENDING_DOUBT);
    }
  set_op (a, "unref inner transaction");
  pge_transaction_unref (inner);
}

/* pge_transaction_savepoint(): maybe rolled back to, then released. */
static void
named_savepoint (Actor *a, PgeTransaction *tx, GArray *pending)
{
  g_autoptr(GError) error = NULL;
  guint mark = pending->len;
  PgeSavepoint *savepoint;

  set_op (a, "SAVEPOINT");
  savepoint = pge_transaction_savepoint (tx, NULL, &error);
  if (savepoint == NULL)
    return;
  tx_inserts (a, tx, pending, PATH_TX_SAVEPOINT, 1, 3);
  if (g_rand_int_range (a->rand, 0, 5) < 2)
    {
      set_op (a, "ROLLBACK TO SAVEPOINT");
      mark_from (pending, mark,
                 pge_savepoint_rollback_to (savepoint, &error) ? PENDING_UNDONE : PENDING_DOUBT);
      g_clear_error (&error);
      tx_inserts (a, tx, pending, PATH_TX_SAVEPOINT, 0, 1);
    }
  set_op (a, "RELEASE SAVEPOINT");
  if (!pge_savepoint_release (savepoint, &error))
    mark_from (pending, mark, PENDING_DOUBT);
  pge_savepoint_unref (savepoint);
}

/* An atomic inside the transaction: a savepoint of its own. */
static void
atomic_in_transaction (Actor *a, GArray *pending)
{
  gboolean doomed = g_rand_int_range (a->rand, 0, 3) == 0;
  gint64 ids[5];
  guint n;
  g_autoptr(PgeAtomic) atomic = new_atomic (a, PATH_TX_ATOMIC, doomed, ids, &n);
  g_autoptr(GError) error = NULL;
  PendingState state;
  gboolean ok;

  set_op (a, doomed ? "atomic in a transaction (doomed)" : "atomic in a transaction");
  ok = run_atomic (a, atomic, &error);
  WRONG_IF (a, ok && doomed, "an atomic with a duplicate key succeeded in a transaction");
  if (ok)
    state = PENDING_OPEN;
  else if (doomed)
    state = PENDING_UNDONE;
  else if (is_cancelled (error))
    state = PENDING_CANCELLED;
  else
    state = PENDING_DOUBT;
  for (guint i = 0; i < n; i++)
    {
      Pending p = { ids[i], PATH_TX_ATOMIC, state };

      g_array_append_val (pending, p);
    }
}

static void
op_transaction (Actor *a)
{
  PgeEngine *engine = a->chaos->engine;
  g_autoptr(GError) error = NULL;
  g_autoptr(GArray) pending = g_array_new (FALSE, FALSE, sizeof (Pending));
  PgeTransaction *tx;
  PgeTransaction *joined;
  guint ending;
  gboolean ok = TRUE;

  set_op (a, "BEGIN");
  tx = pge_engine_transaction (engine, PGE_TRANSACTION_DEFAULT, &error);
  if (tx == NULL)
    {
      op_done (a, FALSE);
      return;
    }
  /* Default nesting joins: the same transaction, nothing sent. */
  joined = pge_engine_transaction (engine, PGE_TRANSACTION_DEFAULT, NULL);
  WRONG_IF (a, joined != tx, "default nesting did not join the open transaction");
  g_clear_pointer (&joined, pge_transaction_unref);

  tx_inserts (a, tx, pending, PATH_TX, 0, 3);
  switch (g_rand_int_range (a->rand, 0, 4))
    {
    case 0: inner_transaction (a, pending); break;
    case 1: named_savepoint (a, tx, pending); break;
    case 2: atomic_in_transaction (a, pending); break;
    default: break;
    }
  tx_inserts (a, tx, pending, PATH_TX, 0, 2);

  ending = g_rand_int_range (a->rand, 0, 20);
  if (ending < 15)
    {
      gboolean committed;

      set_op (a, "COMMIT");
      committed = pge_transaction_commit (tx, &error);
      settle (a, pending, commit_end (committed, error));
      ok = committed;
    }
  else if (ending < 18)
    {
      set_op (a, "ROLLBACK");
      pge_transaction_rollback (tx, NULL);
      settle (a, pending, END_NOT_COMMITTED);
    }
  else
    {
      /* Dropped unfinished: the last unref rolls it back. */
      settle (a, pending, END_NOT_COMMITTED);
    }
  set_op (a, "unref transaction");
  pge_transaction_unref (tx);
  op_done (a, ok);
}

typedef struct {
  Actor   *actor;
  GArray  *pending;
  gboolean failed;     /* the last call of the body returned FALSE */
  gboolean give_up;    /* fail on purpose */
} RunTx;

static gboolean
run_tx_body (PgeTransaction *tx, gpointer user_data, GError **error)
{
  RunTx *run = user_data;
  Actor *a = run->actor;

  /* A retry follows a rollback; the earlier attempt's rows count as unknown. */
  mark_from (run->pending, 0, PENDING_DOUBT);
  run->failed = TRUE;
  for (guint i = g_rand_int_range (a->rand, 1, 5); i > 0; i--)
    {
      Pending p = { next_id (a), PATH_RUN_TX, PENDING_OPEN };
      g_autoptr(PgeParams) params = row_params (p.id, PATH_RUN_TX);
      g_autoptr(PgeResult) result = NULL;

      set_op (a, "INSERT in pge_engine_run_transaction()");
      result = pge_transaction_query_sync (tx, INSERT_SQL, params, error);
      if (result == NULL)
        {
          p.state = PENDING_DOUBT;
          g_array_append_val (run->pending, p);
          return FALSE;
        }
      check_inserted (a, result, p.id);
      g_array_append_val (run->pending, p);
    }
  if (g_rand_int_range (a->rand, 0, 3) == 0)
    inner_transaction (a, run->pending);
  if (run->give_up)
    {
      g_set_error_literal (error, PGE_ERROR, PGE_ERROR_FAILED, "rolled back on purpose");
      return FALSE;
    }
  run->failed = FALSE;
  set_op (a, "COMMIT of pge_engine_run_transaction()");
  return TRUE;
}

static void
op_run_transaction (Actor *a)
{
  g_autoptr(GArray) pending = g_array_new (FALSE, FALSE, sizeof (Pending));
  g_autoptr(GError) error = NULL;
  RunTx run = { a, pending, FALSE, g_rand_int_range (a->rand, 0, 6) == 0 };
  gboolean ok;

  set_op (a, "pge_engine_run_transaction()");
  ok = pge_engine_run_transaction (a->chaos->engine, PGE_TRANSACTION_DEFAULT, 2, run_tx_body, &run,
                                   &error);
  /* A body that failed is rolled back, never committed. */
  settle (a, pending, ok ? END_COMMITTED : run.failed ? END_NOT_COMMITTED : commit_end (FALSE, error));
  op_done (a, ok || run.give_up);
}

/* ------------------------------------------------------------ reads */

static void
op_reads (Actor *a)
{
  PgeFuture *futures[6];
  gint64 values[6];
  guint n = g_rand_int_range (a->rand, 1, 7);
  gboolean ok = TRUE;

  set_op (a, "SELECT futures");
  for (guint i = 0; i < n; i++)
    {
      g_autoptr(PgeParams) params = pge_params_new ();

      values[i] = g_rand_int (a->rand);
      pge_params_add_int64 (params, values[i]);
      futures[i] = inflight_add (a->chaos, pge_engine_query (a->chaos->engine, "SELECT $1::int8 * 2",
                                                             params));
    }
  for (guint i = 0; i < n; i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(PgeResult) result = await (a, futures[i], &error);

      if (result != NULL)
        WRONG_IF (a, pge_result_get_n_rows (result) != 1 ||
                       pge_result_get_int64 (result, 0, 0) != 2 * values[i],
                  "SELECT %" G_GINT64_FORMAT " * 2 gave %s", values[i],
                  pge_result_get_n_rows (result) ? pge_result_get_value (result, 0, 0) : "no row");
      else
        ok = FALSE;
    }
  op_done (a, ok);
}

/* A scan of up to 2000 rows from a random writer's range, in chunks of
 * a random size, by next() or by fetch() futures; sometimes abandoned
 * half-way, closed or not. Every row must be well-formed and in order. */
static void
op_batch_scan (Actor *a)
{
  g_autoptr(PgeParams) params = pge_params_new ();
  g_autoptr(GError) error = NULL;
  guint size = g_rand_int_range (a->rand, 1, 150);
  gint64 last = G_MININT64;
  PgeBatch *batch;
  gboolean ok = TRUE;

  pge_params_add_int64 (params, g_rand_int_range (a->rand, 1, N_WRITERS + N_READERS + 1) * ID_SPAN);
  set_op (a, "batch: DECLARE");
  batch = pge_engine_batch (a->chaos->engine,
                            "SELECT " ROW_COLUMNS " FROM chaos WHERE id >= $1 ORDER BY id LIMIT 2000",
                            params, size, &error);
  if (batch == NULL)
    {
      op_done (a, FALSE);
      return;
    }
  for (;;)
    {
      g_autoptr(PgeResult) chunk = NULL;

      if (g_rand_int_range (a->rand, 0, 40) == 0)
        break;   /* abandoned */
      set_op (a, "batch: next chunk");
      if (g_rand_int_range (a->rand, 0, 2) == 0)
        chunk = pge_batch_next (batch, &error);
      else
        chunk = await (a, inflight_add (a->chaos, pge_batch_fetch (batch)), &error);
      if (chunk == NULL)
        {
          ok = error == NULL;
          break;
        }
      WRONG_IF (a, pge_result_get_n_rows (chunk) > size, "a chunk of %u rows, asked for %u",
                pge_result_get_n_rows (chunk), size);
      for (guint r = 0; r < pge_result_get_n_rows (chunk); r++)
        {
          gint64 id = check_row (a, chunk, r);

          WRONG_IF (a, id <= last, "batch rows out of order: %" G_GINT64_FORMAT " after %" G_GINT64_FORMAT,
                    id, last);
          last = id;
        }
    }
  if (g_rand_int_range (a->rand, 0, 3) != 0)
    {
      set_op (a, "batch: close");
      pge_batch_close (batch, NULL);
    }
  set_op (a, "batch: unref");
  pge_batch_unref (batch);
  op_done (a, ok);
}

/* A transaction reads its own uncommitted row through a batch. */
static void
op_batch_in_transaction (Actor *a)
{
  g_autoptr(GArray) pending = g_array_new (FALSE, FALSE, sizeof (Pending));
  g_autoptr(GError) error = NULL;
  PgeTransaction *tx;
  PgeBatch *batch;
  gboolean inserted;
  gboolean ok = FALSE;

  set_op (a, "BEGIN (for a batch)");
  tx = pge_engine_transaction (a->chaos->engine, PGE_TRANSACTION_DEFAULT, &error);
  if (tx == NULL)
    {
      op_done (a, FALSE);
      return;
    }
  inserted = tx_insert (a, tx, pending, PATH_TX_BATCH);
  set_op (a, "batch in a transaction");
  {
    g_autoptr(PgeParams) params = pge_params_new ();

    pge_params_add_int64 (params, g_array_index (pending, Pending, 0).id);
    batch = pge_transaction_batch (tx, "SELECT " ROW_COLUMNS " FROM chaos WHERE id = $1", params, 10,
                                   &error);
  }
  if (batch != NULL)
    {
      g_autoptr(PgeResult) chunk = pge_batch_next (batch, &error);

      if (chunk != NULL)
        {
          WRONG_IF (a, inserted && pge_result_get_n_rows (chunk) != 1,
                    "a transaction does not see its own row %" G_GINT64_FORMAT " (%u rows)",
                    g_array_index (pending, Pending, 0).id, pge_result_get_n_rows (chunk));
          for (guint r = 0; r < pge_result_get_n_rows (chunk); r++)
            check_row (a, chunk, r);
        }
      pge_batch_close (batch, NULL);
      pge_batch_unref (batch);
    }
  g_clear_error (&error);
  if (g_rand_int_range (a->rand, 0, 2) == 0)
    {
      gboolean committed;

      set_op (a, "COMMIT (after a batch)");
      committed = pge_transaction_commit (tx, &error);
      settle (a, pending, commit_end (committed, error));
      ok = committed;
    }
  else
    {
      set_op (a, "ROLLBACK (after a batch)");
      ok = pge_transaction_rollback (tx, NULL);
      settle (a, pending, END_NOT_COMMITTED);
    }
  pge_transaction_unref (tx);
  op_done (a, ok);
}

/* ------------------------------------------------------------ threads */

static gpointer
writer_thread (gpointer data)
{
  Actor *a = data;

  while (!stopping (a->chaos))
    {
      guint pick = g_rand_int_range (a->rand, 0, 100);

      if (pick < 12)
        op_sync_insert (a);
      else if (pick < 30)
        op_futures (a);
      else if (pick < 62)
        op_transaction (a);
      else if (pick < 78)
        op_atomic (a);
      else if (pick < 92)
        op_run_transaction (a);
      else
        op_reads (a);
    }
  return NULL;
}

static gpointer
reader_thread (gpointer data)
{
  Actor *a = data;

  while (!stopping (a->chaos))
    {
      if (g_rand_int_range (a->rand, 0, 4) == 0)
        op_batch_in_transaction (a);
      else
        op_batch_scan (a);
    }
  return NULL;
}

/* Sleeps up to @ms, less if the run stops; FALSE if it did. */
static gboolean
nap (Chaos *chaos, guint ms)
{
  gint64 end = g_get_monotonic_time () + ms * G_TIME_SPAN_MILLISECOND;
  gint64 left;

  /* The time left is read once: read again after the test, it could be
   * negative, which g_usleep() takes as an unsigned eternity. */
  while (!stopping (chaos) && (left = end - g_get_monotonic_time ()) > 0)
    g_usleep (MIN (20 * G_TIME_SPAN_MILLISECOND, left));
  return !stopping (chaos);
}

static gpointer
cancel_thread (gpointer data)
{
  Actor *a = data;
  Chaos *chaos = a->chaos;

  while (nap (chaos, g_rand_int_range (a->rand, 1, 15)))
    {
      PgeFuture *victim = NULL;

      g_mutex_lock (&chaos->inflight_lock);
      if (chaos->inflight->len > 0)
        victim = pge_future_ref (chaos->inflight->pdata[g_rand_int_range (a->rand, 0, chaos->inflight->len)]);
      g_mutex_unlock (&chaos->inflight_lock);
      if (victim == NULL)
        continue;
      set_op (a, "pge_future_cancel()");
      pge_future_cancel (victim);
      g_atomic_int_inc (&chaos->n_cancels);
      pge_future_unref (victim);
      set_op (a, "waiting");
    }
  return NULL;
}

/* A connection of ours that the restart ends says so on stderr otherwise. */
static void
quiet_notice (void *arg, const char *message)
{
}

/* Terminates one random backend of the engine now and then, sometimes all. */
static gpointer
terminate_thread (gpointer data)
{
  Actor *a = data;
  Chaos *chaos = a->chaos;
  g_autofree char *admin_info = g_strdup_printf ("%s application_name=pge_chaos_admin connect_timeout=5",
                                                 chaos->conninfo);
  PGconn *admin = NULL;

  while (nap (chaos, g_rand_int_range (a->rand, 100, 1500)))
    {
      const char *values[2] = { chaos->app_name, g_rand_int_range (a->rand, 0, 8) == 0 ? "1000" : "1" };
      PGresult *res;

      if (admin == NULL || PQstatus (admin) != CONNECTION_OK)
        {
          set_op (a, "admin connect");
          g_clear_pointer (&admin, PQfinish);
          admin = PQconnectdb (admin_info);
          if (PQstatus (admin) != CONNECTION_OK)
            continue;   /* the server is restarting */
          PQsetNoticeProcessor (admin, quiet_notice, NULL);
        }
      set_op (a, "pg_terminate_backend()");
      res = PQexecParams (admin,
                          "SELECT coalesce(sum(pg_terminate_backend(pid)::int), 0) FROM "
                          "(SELECT pid FROM pg_stat_activity WHERE application_name = $1 "
                          "ORDER BY random() LIMIT $2::int) s",
                          2, NULL, values, NULL, NULL, 0);
      if (PQresultStatus (res) == PGRES_TUPLES_OK)
        g_atomic_int_add (&chaos->n_terminated, atoi (PQgetvalue (res, 0, 0)));
      PQclear (res);
      set_op (a, "waiting");
    }
  g_clear_pointer (&admin, PQfinish);
  return NULL;
}

/* The one server restart, half-way through. */
static gpointer
restart_thread (gpointer data)
{
  Actor *a = data;
  Chaos *chaos = a->chaos;
  const char *dir = g_getenv ("PGE_CLUSTER_DIR");
  const char *tool = g_getenv ("PGE_CLUSTER_TOOL");
  g_autofree char *default_tool = g_build_filename (PGE_TEST_SRCDIR, "tools", "pge-cluster", NULL);
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autoptr(GError) error = NULL;
  const char *argv[4];
  int status = 0;
  gint64 begin;

  if (dir == NULL)
    return NULL;   /* chaos->restart_note says so */
  if (!nap (chaos, chaos->seconds * 1000 / 2))
    return NULL;
  argv[0] = tool != NULL ? tool : default_tool;
  argv[1] = "restart";
  argv[2] = dir;
  argv[3] = NULL;
  set_op (a, "pge-cluster restart");
  begin = g_get_monotonic_time ();
  fprintf (stderr, "chaos: restarting the server at %.1f s\n", elapsed_ms (chaos) / 1000.0);
  if (!g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, &out, &err, &status,
                     &error) ||
      !g_spawn_check_wait_status (status, &error))
    {
      fprintf (stderr, "chaos: %s restart %s failed: %s\n%s\n", argv[0], dir, error->message,
               err ? err : "");
      g_atomic_int_set (&chaos->restart_failed, 1);
      return NULL;
    }
  g_atomic_int_inc (&chaos->n_restarts);
  fprintf (stderr, "chaos: the server is back after %.1f s\n",
           (g_get_monotonic_time () - begin) / (double) G_USEC_PER_SEC);
  return NULL;
}

static gpointer
close_thread (gpointer data)
{
  Actor *a = data;

  set_op (a, "pge_engine_close()");
  pge_engine_close (a->chaos->engine);
  return NULL;
}

static gpointer
actor_main (gpointer data)
{
  Actor *a = data;

  set_op (a, "starting");
  a->body (a);
  set_op (a, "finished");
  g_atomic_int_set (&a->done, 1);
  return NULL;
}

static Actor *
actor_new (Chaos *chaos, guint index, const char *name, GThreadFunc body, guint32 seed)
{
  Actor *a = g_new0 (Actor, 1);

  a->chaos = chaos;
  a->index = index;
  g_snprintf (a->name, sizeof a->name, "%s", name);
  a->body = body;
  a->rand = g_rand_new_with_seed (seed + index);
  a->op = "not started";
  g_mutex_init (&a->writes_lock);
  a->writes = g_array_new (FALSE, FALSE, sizeof (Write));
  return a;
}

static void
actor_free (Actor *a)
{
  g_rand_free (a->rand);
  g_mutex_clear (&a->writes_lock);
  g_array_unref (a->writes);
  g_free (a);
}

/* Waits until every actor is done or @deadline (monotonic) passes; joins
 * the finished ones and names the others. Returns how many hung. */
static guint
wait_actors (GPtrArray *actors, gint64 deadline)
{
  guint hung = 0;

  for (guint i = 0; i < actors->len; i++)
    {
      Actor *a = actors->pdata[i];

      while (!g_atomic_int_get (&a->done) && g_get_monotonic_time () < deadline)
        g_usleep (10 * G_TIME_SPAN_MILLISECOND);
    }
  for (guint i = 0; i < actors->len; i++)
    {
      Actor *a = actors->pdata[i];

      if (g_atomic_int_get (&a->done))
        {
          if (a->thread != NULL)
            g_thread_join (g_steal_pointer (&a->thread));
          continue;
        }
      hung++;
      fprintf (stderr, "chaos: HUNG: thread %s, in %s since %.1f s (now %.1f s)\n", a->name,
               (const char *) g_atomic_pointer_get (&a->op),
               g_atomic_int_get (&a->op_since_ms) / 1000.0, elapsed_ms (a->chaos) / 1000.0);
    }
  return hung;
}

/* ------------------------------------------------------------ setup and check */

static PGconn *
admin_connect (const char *conninfo, guint timeout_s)
{
  g_autofree char *info = g_strdup_printf ("%s application_name=pge_chaos_check connect_timeout=5",
                                           conninfo);
  gint64 end = g_get_monotonic_time () + timeout_s * G_USEC_PER_SEC;

  for (;;)
    {
      PGconn *conn = PQconnectdb (info);

      if (PQstatus (conn) == CONNECTION_OK)
        {
          PQsetNoticeProcessor (conn, quiet_notice, NULL);
          return conn;
        }
      if (g_get_monotonic_time () >= end)
        {
          fprintf (stderr, "chaos: cannot connect: %s", PQerrorMessage (conn));
          PQfinish (conn);
          return NULL;
        }
      PQfinish (conn);
      g_usleep (200 * G_TIME_SPAN_MILLISECOND);
    }
}

static gboolean
admin_exec (PGconn *conn, const char *sql)
{
  PGresult *res = PQexec (conn, sql);
  gboolean ok = PQresultStatus (res) == PGRES_COMMAND_OK || PQresultStatus (res) == PGRES_TUPLES_OK;

  if (!ok)
    fprintf (stderr, "chaos: %s: %s", sql, PQresultErrorMessage (res));
  PQclear (res);
  return ok;
}

typedef struct {
  guint64 by_fate[N_FATES];
  guint64 by_path[N_PATHS][N_FATES];
  guint64 present;          /* acknowledged and present */
  guint64 lost;             /* acknowledged and absent */
  guint64 unknown_present;
  guint64 phantom;          /* rolled back or cancelled, yet present */
  guint64 stray;            /* present, never written */
  guint64 malformed;        /* present with wrong columns, or a kind not its own */
  guint64 rows;
} Tally;

static int
compare_writes (gconstpointer a, gconstpointer b)
{
  gint64 x = ((const Write *) a)->id, y = ((const Write *) b)->id;

  return x < y ? -1 : x > y;
}

static void
report_row (const char *what, guint64 *count, gint64 id, const char *path)
{
  if (++*count <= MAX_REPORTED)
    fprintf (stderr, "chaos: %s: id %" G_GINT64_FORMAT " (thread %" G_GINT64_FORMAT ", %s)\n",
             what, id, id / ID_SPAN - 1, path);
}

/* Reads every row with a fresh connection and holds it against every
 * recorded write. FALSE if the table could not be read. */
static gboolean
verify (Chaos *chaos, GPtrArray *actors, Tally *t)
{
  g_autoptr(GArray) writes = g_array_new (FALSE, FALSE, sizeof (Write));
  PGconn *conn = admin_connect (chaos->conninfo, 30);
  PGresult *res;
  guint64 n_rows;
  guint w = 0;

  for (guint i = 0; i < actors->len; i++)
    {
      Actor *a = actors->pdata[i];

      g_mutex_lock (&a->writes_lock);
      g_array_append_vals (writes, a->writes->data, a->writes->len);
      g_mutex_unlock (&a->writes_lock);
    }
  g_array_sort (writes, compare_writes);
  for (guint i = 0; i < writes->len; i++)
    {
      const Write *x = &g_array_index (writes, Write, i);

      t->by_fate[x->fate]++;
      t->by_path[x->path][x->fate]++;
      if (i > 0 && x->id == g_array_index (writes, Write, i - 1).id)
        fprintf (stderr, "chaos: BUG in the test: id %" G_GINT64_FORMAT " written twice\n", x->id);
    }
  if (conn == NULL)
    return FALSE;

  res = PQexec (conn, "SELECT count(*) FROM chaos WHERE v <> id * 7 + 3 OR note <> 'n' || id "
                      "OR writer <> id / 1000000000");
  if (PQresultStatus (res) == PGRES_TUPLES_OK)
    t->malformed += g_ascii_strtoull (PQgetvalue (res, 0, 0), NULL, 10);
  PQclear (res);
  res = PQexec (conn, "SELECT id, kind FROM chaos ORDER BY id");
  if (PQresultStatus (res) != PGRES_TUPLES_OK)
    {
      fprintf (stderr, "chaos: reading the table: %s", PQresultErrorMessage (res));
      PQclear (res);
      PQfinish (conn);
      return FALSE;
    }
  n_rows = PQntuples (res);
  t->rows = n_rows;
  for (guint64 r = 0; r <= n_rows; r++)
    {
      gint64 id = r < n_rows ? g_ascii_strtoll (PQgetvalue (res, r, 0), NULL, 10) : G_MAXINT64;

      /* Writes below this row are absent. */
      for (; w < writes->len && g_array_index (writes, Write, w).id < id; w++)
        if (g_array_index (writes, Write, w).fate == FATE_ACKED)
          report_row ("LOST (acknowledged, absent)", &t->lost, g_array_index (writes, Write, w).id,
                      path_names[g_array_index (writes, Write, w).path]);
      if (r == n_rows)
        break;
      if (w == writes->len || g_array_index (writes, Write, w).id != id)
        {
          report_row ("STRAY (present, never written)", &t->stray, id, PQgetvalue (res, r, 1));
          continue;
        }
      {
        const Write *x = &g_array_index (writes, Write, w++);

        if (path_of_kind (PQgetvalue (res, r, 1)) != x->path)
          report_row ("MALFORMED (another kind)", &t->malformed, x->id, PQgetvalue (res, r, 1));
        switch (x->fate)
          {
          case FATE_ACKED: t->present++; break;
          case FATE_UNKNOWN: t->unknown_present++; break;
          case FATE_ROLLED_BACK:
            report_row ("PHANTOM (rolled back, present)", &t->phantom, x->id, path_names[x->path]);
            break;
          case FATE_CANCELLED:
            report_row ("PHANTOM (cancelled, present)", &t->phantom, x->id, path_names[x->path]);
            break;
          default: g_assert_not_reached ();
          }
      }
    }
  PQclear (res);
  PQfinish (conn);
  return TRUE;
}

/* ------------------------------------------------------------ main */

int
pge_stress_chaos (const char *conninfo, guint seconds)
{
  static const struct { const char *name; GThreadFunc body; guint count; } roles[] = {
    { "writer", writer_thread, N_WRITERS },
    { "reader", reader_thread, N_READERS },
    { "canceller", cancel_thread, 1 },
    { "terminator", terminate_thread, 1 },
    { "restarter", restart_thread, 1 },
  };
  Chaos chaos = { 0 };
  g_autoptr(GPtrArray) actors = g_ptr_array_new_with_free_func ((GDestroyNotify) actor_free);
  g_autoptr(GError) error = NULL;
  g_autoptr(PgeConfig) config = NULL;
  g_autofree char *engine_info = NULL;
  const char *seed_env = g_getenv ("PGE_CHAOS_SEED");
  guint32 seed = seed_env ? (guint32) g_ascii_strtoull (seed_env, NULL, 10) : g_random_int ();
  Actor *closer;
  Tally t = { 0 };
  PgeStats stats = { 0 };
  guint hung;
  gboolean read_ok;
  gboolean failed;
  PGconn *admin;

  chaos.conninfo = conninfo;
  chaos.seconds = MAX (seconds, 2);
  chaos.app_name = g_strdup_printf ("pge_chaos_%d_%u", (int) getpid (), g_random_int ());
  if (g_getenv ("PGE_CLUSTER_DIR") == NULL)
    chaos.restart_note = "restart skipped: PGE_CLUSTER_DIR is not set (run under tools/with-cluster.sh)";
  g_mutex_init (&chaos.inflight_lock);
  chaos.inflight = g_ptr_array_new_with_free_func ((GDestroyNotify) pge_future_unref);

  admin = admin_connect (conninfo, 10);
  if (admin == NULL)
    return 2;
  if (!admin_exec (admin, "DROP TABLE IF EXISTS chaos; "
                          "CREATE TABLE chaos (id bigint PRIMARY KEY, kind text NOT NULL, "
                          "writer int NOT NULL, v bigint NOT NULL, note text NOT NULL)"))
    {
      PQfinish (admin);
      return 2;
    }
  PQfinish (admin);

  engine_info = g_strdup_printf ("%s application_name=%s", conninfo, chaos.app_name);
  config = pge_config_new (engine_info);
  pge_config_set_workers (config, N_WORKERS);
  pge_config_set_acquire_timeout (config, ACQUIRE_TIMEOUT_MS);
  chaos.engine = pge_engine_new (config, &error);
  if (chaos.engine == NULL)
    {
      fprintf (stderr, "chaos: %s\n", error->message);
      return 2;
    }

  fprintf (stderr, "chaos: %u s, %d writers, %d readers, %d connections, seed %u%s%s\n",
           chaos.seconds, N_WRITERS, N_READERS, N_WORKERS, seed,
           chaos.restart_note ? "; " : "", chaos.restart_note ? chaos.restart_note : "");
  chaos.start_us = g_get_monotonic_time ();
  for (guint r = 0; r < G_N_ELEMENTS (roles); r++)
    for (guint i = 0; i < roles[r].count; i++)
      {
        g_autofree char *name = g_strdup_printf ("%s-%u", roles[r].name, i);

        g_ptr_array_add (actors, actor_new (&chaos, actors->len, name, roles[r].body, seed));
      }
  for (guint i = 0; i < actors->len; i++)
    {
      Actor *a = actors->pdata[i];

      a->thread = g_thread_new (a->name, actor_main, a);
    }

  while (g_get_monotonic_time () < chaos.start_us + chaos.seconds * G_USEC_PER_SEC)
    g_usleep (100 * G_TIME_SPAN_MILLISECOND);
  g_atomic_int_set (&chaos.stop, 1);
  hung = wait_actors (actors, g_get_monotonic_time () + GRACE_S * G_USEC_PER_SEC);

  /* Closing must not hang either (unless something already did: then the
   * engine is left alone). */
  closer = actor_new (&chaos, actors->len, "close", close_thread, seed);
  g_ptr_array_add (actors, closer);
  if (hung == 0)
    {
      pge_engine_get_stats (chaos.engine, &stats);
      closer->thread = g_thread_new (closer->name, actor_main, closer);
      hung += wait_actors (actors, g_get_monotonic_time () + GRACE_S * G_USEC_PER_SEC);
    }

  read_ok = verify (&chaos, actors, &t);
  for (int p = 0; p < N_PATHS; p++)
    fprintf (stderr, "chaos:   %-12s acknowledged %6" G_GUINT64_FORMAT ", rolled back %5" G_GUINT64_FORMAT
             ", cancelled %4" G_GUINT64_FORMAT ", unknown %4" G_GUINT64_FORMAT "\n",
             path_names[p], t.by_path[p][FATE_ACKED], t.by_path[p][FATE_ROLLED_BACK],
             t.by_path[p][FATE_CANCELLED], t.by_path[p][FATE_UNKNOWN]);
  fprintf (stderr, "chaos: engine: %" G_GUINT64_FORMAT " jobs completed, %" G_GUINT64_FORMAT
           " failed, %" G_GUINT64_FORMAT " reconnects\n",
           stats.n_completed, stats.n_failed, stats.n_reconnects);
  if (chaos.restart_note != NULL)
    fprintf (stderr, "chaos: %s\n", chaos.restart_note);
  failed = !read_ok || t.lost > 0 || hung > 0 || t.phantom > 0 || t.stray > 0 || t.malformed > 0 ||
           g_atomic_int_get (&chaos.n_wrong) > 0 || g_atomic_int_get (&chaos.restart_failed);
  printf ("chaos: acknowledged %" G_GUINT64_FORMAT " / present %" G_GUINT64_FORMAT
          " / lost %" G_GUINT64_FORMAT " / hung %u"
          " | unknown %" G_GUINT64_FORMAT " (%" G_GUINT64_FORMAT " present)"
          " | phantom %" G_GUINT64_FORMAT " (of %" G_GUINT64_FORMAT " rolled back, %" G_GUINT64_FORMAT " cancelled)"
          " | stray %" G_GUINT64_FORMAT ", malformed %" G_GUINT64_FORMAT ", wrong answers %d"
          " | cancels %d (%d took effect), terminations %d, restarts %d"
          " | ops %d (%d failed) | %.1f s%s%s\n",
          t.by_fate[FATE_ACKED], t.present, t.lost, hung,
          t.by_fate[FATE_UNKNOWN], t.unknown_present,
          t.phantom, t.by_fate[FATE_ROLLED_BACK], t.by_fate[FATE_CANCELLED],
          t.stray, t.malformed, g_atomic_int_get (&chaos.n_wrong),
          g_atomic_int_get (&chaos.n_cancels), g_atomic_int_get (&chaos.n_cancelled),
          g_atomic_int_get (&chaos.n_terminated), g_atomic_int_get (&chaos.n_restarts),
          g_atomic_int_get (&chaos.n_ops), g_atomic_int_get (&chaos.n_failed_ops),
          (g_get_monotonic_time () - chaos.start_us) / (double) G_USEC_PER_SEC,
          read_ok ? "" : " | TABLE NOT READ",
          failed ? " | FAIL" : "");
  fflush (stdout);
  fflush (stderr);
  if (hung > 0)
    _exit (3);   /* a hung thread cannot be joined, nor the engine closed under it */

  if (!failed && (admin = admin_connect (conninfo, 10)) != NULL)
    {
      admin_exec (admin, "DROP TABLE IF EXISTS chaos");
      PQfinish (admin);
    }
  pge_engine_unref (chaos.engine);
  g_ptr_array_unref (g_steal_pointer (&actors));
  g_ptr_array_unref (chaos.inflight);
  g_mutex_clear (&chaos.inflight_lock);
  g_free (chaos.app_name);
  return failed ? 1 : 0;
}
