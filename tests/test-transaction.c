/* test-transaction.c — PgeTransaction: pinning, the current transaction,
 * nesting, commit/rollback rules, faults, pge_engine_run_transaction().
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <string.h>

#include "fixture.h"

TestSuite (transaction, .init = pge_test_engine_up, .fini = pge_test_engine_down);

/* ------------------------------------------------------------- helpers */

static void
exec_ok (PgeEngine *engine, const char *sql)
{
  g_autoptr(GError) error = NULL;

  cr_assert (pge_engine_exec_sync (engine, sql, &error), "%s: %s", sql, error ? error->message : "");
}

static void
tx_exec_ok (PgeTransaction *tx, const char *sql)
{
  g_autoptr(GError) error = NULL;

  cr_assert (pge_transaction_exec_sync (tx, sql, &error), "%s: %s", sql, error ? error->message : "");
}

static gint64
tx_int (PgeTransaction *tx, const char *sql)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PgeResult) result = pge_transaction_query_sync (tx, sql, NULL, &error);

  cr_assert_null (error, "%s: %s", sql, error ? error->message : "");
  return pge_result_get_int64 (result, 0, 0);
}

static gint64
engine_int (PgeEngine *engine, const char *sql)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PgeResult) result = pge_engine_query_sync (engine, sql, NULL, &error);

  cr_assert_null (error, "%s: %s", sql, error ? error->message : "");
  return pge_result_get_int64 (result, 0, 0);
}

static char *
tx_text (PgeTransaction *tx, const char *sql)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PgeResult) result = pge_transaction_query_sync (tx, sql, NULL, &error);

  cr_assert_null (error, "%s: %s", sql, error ? error->message : "");
  return g_strdup (pge_result_get_value (result, 0, 0));
}

/* Counted on an admin connection: committed rows only. */
static gint64
committed_rows (const char *table)
{
  g_autofree char *sql = g_strdup_printf ("SELECT count(*) FROM %s.%s", pge_test_schema (), table);
  g_autofree char *value = pge_test_admin_query (sql);

  return g_ascii_strtoll (value, NULL, 10);
}

static guint
n_pinned (PgeEngine *engine)
{
  PgeStats stats;

  pge_engine_get_stats (engine, &stats);
  return stats.n_pinned;
}

static PgeTransaction *
begin_ok (PgeEngine *engine, PgeTransactionFlags flags)
{
  g_autoptr(GError) error = NULL;
  PgeTransaction *tx = pge_engine_transaction (engine, flags, &error);

  cr_assert_null (error, "begin: %s", error ? error->message : "");
  cr_assert_not_null (tx);
  return tx;
}

/* A two-party rendezvous, so threads interleave without sleeps. */
typedef struct {
  GMutex lock;
  GCond  cond;
  guint  waiting;
  guint  generation;
  guint  parties;
} Barrier;

static void
barrier_init (Barrier *barrier, guint parties)
{
  g_mutex_init (&barrier->lock);
  g_cond_init (&barrier->cond);
  barrier->waiting = 0;
  barrier->generation = 0;
  barrier->parties = parties;
}

static void
barrier_clear (Barrier *barrier)
{
  g_mutex_clear (&barrier->lock);
  g_cond_clear (&barrier->cond);
}

static void
barrier_wait (Barrier *barrier)
{
  guint generation;

  g_mutex_lock (&barrier->lock);
  generation = barrier->generation;
  if (++barrier->waiting == barrier->parties)
    {
      barrier->waiting = 0;
      barrier->generation++;
      g_cond_broadcast (&barrier->cond);
    }
  else
    while (generation == barrier->generation)
      g_cond_wait (&barrier->cond, &barrier->lock);
  g_mutex_unlock (&barrier->lock);
}

/* ------------------------------------------------------- begin and end */

Test (transaction, commit_makes_rows_visible_to_others)
{
  g_autoptr(PgeTransaction) tx = NULL;
  g_autoptr(GError) error = NULL;

  exec_ok (test_engine, "CREATE TABLE t (v int)");
  tx = begin_ok (test_engine, PGE_TRANSACTION_DEFAULT);
  tx_exec_ok (tx, "INSERT INTO t VALUES (1), (2)");
  cr_assert_eq (committed_rows ("t"), 0, "uncommitted rows leaked");
  cr_assert (pge_transaction_commit (tx, &error));
  cr_assert_null (error);
  cr_assert (pge_transaction_is_committed (tx));
  cr_assert_not (pge_transaction_is_rolled_back (tx));
  cr_assert_eq (committed_rows ("t"), 2);
  cr_assert_eq (n_pinned (test_engine), 0, "the worker was not freed by commit");
}

Test (transaction, rollback_discards_rows)
{
  g_autoptr(PgeTransaction) tx = NULL;
  g_autoptr(GError) error = NULL;

  exec_ok (test_engine, "CREATE TABLE t (v int)");
  tx = begin_ok (test_engine, PGE_TRANSACTION_DEFAULT);
  tx_exec_ok (tx, "INSERT INTO t VALUES (1)");
  cr_assert_eq (tx_int (tx, "SELECT count(*) FROM t"), 1);
  cr_assert (pge_transaction_rollback (tx, &error));
  cr_assert_null (error);
  cr_assert (pge_transaction_is_rolled_back (tx));
  cr_assert_not (pge_transaction_is_committed (tx));
  cr_assert_eq (committed_rows ("t"), 0);
  cr_assert_eq (n_pinned (test_engine), 0);
}

Test (transaction, begin_pins_one_worker)
{
  g_autoptr(PgeTransaction) tx = begin_ok (test_engine, PGE_TRANSACTION_DEFAULT);

  cr_assert_eq (n_pinned (test_engine), 1);
  cr_assert_eq (pge_transaction_get_engine (tx), test_engine);
  cr_assert_null (pge_transaction_get_parent (tx));
  cr_assert (tx_int (tx, "SELECT count(*) FROM pg_stat_activity WHERE pid = pg_backend_pid() "
                         "AND xact_start IS NOT NULL") == 1);
}

Test (transaction, flags_set_isolation_and_access_mode)
{
  struct {
    PgeTransactionFlags flags;
    const char *isolation;
    const char *read_only;
    const char *deferrable;
  } cases[] = {
    { PGE_TRANSACTION_DEFAULT, "read committed", "off", "off" },
    { PGE_TRANSACTION_REPEATABLE_READ, "repeatable read", "off", "off" },
    { PGE_TRANSACTION_SERIALIZABLE | PGE_TRANSACTION_READ_ONLY | PGE_TRANSACTION_DEFERRABLE,
      "serializable", "on", "on" },
    { PGE_TRANSACTION_READ_ONLY, "read committed", "on", "off" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(PgeTransaction) tx = begin_ok (test_engine, cases[i].flags);
      g_autofree char *isolation = tx_text (tx, "SHOW transaction_isolation");
      g_autofree char *read_only = tx_text (tx, "SHOW transaction_read_only");
      g_autofree char *deferrable = tx_text (tx, "SHOW transaction_deferrable");
      g_autoptr(GError) error = NULL;

      cr_assert_str_eq (isolation, cases[i].isolation, "case %u", i);
      cr_assert_str_eq (read_only, cases[i].read_only, "case %u", i);
      cr_assert_str_eq (deferrable, cases[i].deferrable, "case %u", i);
      cr_assert (pge_transaction_commit (tx, &error), "case %u: %s", i, error ? error->message : "");
    }
}

Test (transaction, read_only_transaction_refuses_writes)
{
  g_autoptr(PgeTransaction) tx = NULL;
  g_autoptr(GError) error = NULL;

  exec_ok (test_engine, "CREATE TABLE t (v int)");
  tx = begin_ok (test_engine, PGE_TRANSACTION_READ_ONLY);
  cr_assert_not (pge_transaction_exec_sync (tx, "INSERT INTO t VALUES (1)", &error));
  pge_assert_error (error, PGE_ERROR, PGE_ERROR_QUERY);
  cr_assert_str_eq (pge_error_get_sqlstate (error), "25006");
}

Test (transaction, bad_flags_are_invalid_and_pin_nothing)
{
  PgeTransactionFlags bad[] = {
    PGE_TRANSACTION_REPEATABLE_READ | PGE_TRANSACTION_SERIALIZABLE,
    PGE_TRANSACTION_NO_NESTING | PGE_TRANSACTION_SAVEPOINT,
    (PgeTransactionFlags) (1 << 10),
  };

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(PgeTransaction) tx = pge_engine_transaction (test_engine, bad[i], &error);

      cr_assert_null (tx, "case %u", i);
      pge_assert_error (error, PGE_ERROR, PGE_ERROR_INVALID_ARGUMENT);
    }
  cr_assert_eq (n_pinned (test_engine), 0);
  cr_assert_not (pge_engine_transaction_exists (test_engine));
}

Test (transaction, ending_twice_is_a_state_error)
{
  g_autoptr(PgeTransaction) a = begin_ok (test_engine, PGE_TRANSACTION_DEFAULT);
  g_autoptr(PgeTransaction) b = NULL;
  g_autoptr(GError) e1 = NULL;
  g_autoptr(GError) e2 = NULL;
  g_autoptr(GError) e3 = NULL;
  g_autoptr(GError) e4 = NULL;

  cr_assert (pge_transaction_commit (a, NULL));
  cr_assert_not (pge_transaction_commit (a, &e1));
  pge_assert_error (e1, PGE_ERROR, PGE_ERROR_TRANSACTION_STATE);
  cr_assert_not (pge_transaction_rollback (a, &e2));
  pge_assert_error (e2, PGE_ERROR, PGE_ERROR_TRANSACTION_STATE);
  cr_assert (pge_transaction_is_committed (a), "a failed second end changed the state");

  b = begin_ok (test_engine, PGE_TRANSACTION_DEFAULT);
  cr_assert (pge_transaction_rollback (b, NULL));
  cr_assert_not (pge_transaction_rollback (b, &e3));
  pge_assert_error (e3, PGE_ERROR, PGE_ERROR_TRANSACTION_STATE);
  cr_assert_not (pge_transaction_commit (b, &e4));
  pge_assert_error (e4, PGE_ERROR, PGE_ERROR_TRANSACTION_STATE);
  cr_assert (pge_transaction_is_rolled_back (b));
}

Test (transaction, commit_after_error_rolls_back_and_reports_why)
{
  g_autoptr(PgeTransaction) tx = NULL;
  g_autoptr(GError) query_error = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(PgeResult) result = NULL;

  exec_ok (test_engine, "CREATE TABLE t (v int)");
  tx = begin_ok (test_engine, PGE_TRANSACTION_DEFAULT);
  tx_exec_ok (tx, "INSERT INTO t VALUES (1)");
  result = pge_transaction_query_sync (tx, "SELECT * FROM no_such_table", NULL, &query_error);
  pge_assert_error (query_error, PGE_ERROR, PGE_ERROR_QUERY);
  cr_assert_eq (pge_error_get_class (query_error), PGE_ERROR_CLASS_UNDEFINED_TABLE);
  cr_assert_not (pge_transaction_is_committed (tx));
  cr_assert_not (pge_transaction_is_rolled_back (tx), "an error must leave it open, aborted");

  cr_assert_not (pge_transaction_commit (tx, &error));
  pge_assert_error (error, PGE_ERROR, PGE_ERROR_TRANSACTION_STATE);
  cr_assert (strstr (error->message, "no_such_table") != NULL,
             "the commit error does not name the failed statement: %s", error->message);
  cr_assert_str_eq (pge_error_get_sqlstate (error), "42P01");
  cr_assert (pge_transaction_is_rolled_back (tx));
  cr_assert_eq (committed_rows ("t"), 0);
  cr_assert_eq (n_pinned (test_engine), 0);
}

Test (transaction, rollback_after_error_works)
{
  g_autoptr(PgeTransaction) tx = begin_ok (test_engine, PGE_TRANSACTION_DEFAULT);
  g_autoptr(GError) query_error = NULL;
  g_autoptr(GError) error = NULL;

  cr_assert_not (pge_transaction_exec_sync (tx, "SELECT 1/0", &query_error));
  pge_assert_error (query_error, PGE_ERROR, PGE_ERROR_QUERY);
  cr_assert (pge_transaction_rollback (tx, &error));
  cr_assert_null (error);
  cr_assert (pge_transaction_is_rolled_back (tx));
  cr_assert_eq (engine_int (test_engine, "SELECT 7"), 7, "the engine is not usable afterwards");
}

Test (transaction, failed_deferred_constraint_at_commit_is_a_query_error)
{
  g_autoptr(PgeTransaction) tx = NULL;
  g_autoptr(GError) error = NULL;

  exec_ok (test_engine, "CREATE TABLE p (id int PRIMARY KEY);"
                        "CREATE TABLE c (p int REFERENCES p DEFERRABLE INITIALLY DEFERRED)");
  tx = begin_ok (test_engine, PGE_TRANSACTION_DEFAULT);
  tx_exec_ok (tx, "INSERT INTO c VALUES (42)");
  cr_assert_not (pge_transaction_commit (tx, &error));
  pge_assert_error (error, PGE_ERROR, PGE_ERROR_QUERY);
  cr_assert_eq (pge_error_get_class (error), PGE_ERROR_CLASS_FOREIGN_KEY_VIOLATION);
  cr_assert_str_eq (pge_error_get_sqlstate (error), "23503");
  cr_assert (pge_transaction_is_rolled_back (tx));
  cr_assert_eq (committed_rows ("c"), 0);
  cr_assert_eq (n_pinned (test_engine), 0);
}

Test (transaction, commit_after_commit_sent_as_a_statement_is_a_state_error)
{
  g_autoptr(PgeTransaction) tx = begin_ok (test_engine, PGE_TRANSACTION_DEFAULT);
  g_autoptr(GError) error = NULL;

  tx_exec_ok (tx, "COMMIT");
  cr_assert_not (pge_transaction_commit (tx, &error));
  pge_assert_error (error, PGE_ERROR, PGE_ERROR_TRANSACTION_STATE);
  cr_assert_eq (n_pinned (test_engine), 0);
}

Test (transaction, queries_on_an_ended_transaction_fail)
{
  g_autoptr(PgeTransaction) tx = begin_ok (test_engine, PGE_TRANSACTION_DEFAULT);
  g_autoptr(PgeFuture) future = NULL;
  g_autoptr(PgeResult) result = NULL;
  g_autoptr(GError) e1 = NULL;
  g_autoptr(GError) e2 = NULL;
  g_autoptr(GError) e3 = NULL;

  cr_assert (pge_transaction_commit (tx, NULL));
  future = pge_transaction_query (tx, "SELECT 1", NULL);
  cr_assert (pge_future_is_done (future), "the future must fail at once");
  result = pge_future_wait (future, &e1);
  cr_assert_null (result);
  pge_assert_error (e1, PGE_ERROR, PGE_ERROR_TRANSACTION_STATE);
  cr_assert_null (pge_transaction_query_sync (tx, "SELECT 1", NULL, &e2));
  pge_assert_error (e2, PGE_ERROR, PGE_ERROR_TRANSACTION_STATE);
  cr_assert_not (pge_transaction_exec_sync (tx, "SELECT 1", &e3));
  pge_assert_error (e3, PGE_ERROR, PGE_ERROR_TRANSACTION_STATE);
}

Test (transaction, null_sql_is_invalid_and_leaves_the_transaction_usable)
{
  g_autoptr(PgeTransaction) tx = begin_ok (test_engine, PGE_TRANSACTION_DEFAULT);
  g_autoptr(PgeFuture) future = pge_transaction_query (tx, NULL, NULL);
  g_autoptr(PgeResult) result = NULL;
  g_autoptr(GError) e1 = NULL;
  g_autoptr(GError) e2 = NULL;
  g_autoptr(GError) e3 = NULL;

  result = pge_future_wait (future, &e1);
  pge_assert_error (e1, PGE_ERROR, PGE_ERROR_INVALID_ARGUMENT);
  cr_assert_null (pge_transaction_query_sync (tx, NULL, NULL, &e2));
  pge_assert_error (e2, PGE_ERROR, PGE_ERROR_INVALID_ARGUMENT);
  cr_assert_not (pge_transaction_exec_sync (tx, NULL, &e3));
  pge_assert_error (e3, PGE_ERROR, PGE_ERROR_INVALID_ARGUMENT);
  cr_assert_eq (tx_int (tx, "SELECT 3"), 3);
  cr_assert (pge_transaction_commit (tx, NULL), "nothing was sent, so the commit must succeed");
}

Test (transaction, queries_run_in_submission_order)
{
  g_autoptr(PgeTransaction) tx = NULL;
  g_autoptr(PgeResult) result = NULL;
  g_autoptr(GError) error = NULL;
  GPtrArray *futures = g_ptr_array_new_with_free_func ((GDestroyNotify) pge_future_unref);

  exec_ok (test_engine, "CREATE TABLE t (id serial, v int)");
  tx = begin_ok (test_engine, PGE_TRANSACTION_DEFAULT);
  for (int i = 0; i < 100; i++)
    {
      g_autoptr(PgeParams) params = pge_params_new ();

      pge_params_add_int32 (params, i);
      g_ptr_array_add (futures, pge_transaction_query (tx, "INSERT INTO t (v) VALUES ($1)", params));
    }
  for (guint i = 0; i < futures->len; i++)
    {
      g_autoptr(GError) e = NULL;
      g_autoptr(PgeResult) r = pge_future_wait (futures->pdata[i], &e);

      cr_assert_null (e, "insert %u: %s", i, e ? e->message : "");
    }
  g_ptr_array_unref (futures);
  result = pge_transaction_query_sync (tx, "SELECT v FROM t ORDER BY id", NULL, &error);
  cr_assert_null (error);
  cr_assert_eq (pge_result_get_n_rows (result), 100);
  for (guint i = 0; i < 100; i++)
    cr_assert_eq (pge_result_get_int64 (result, i, 0), i, "row %u out of order", i);
  cr_assert (pge_transaction_commit (tx, NULL));
}

/* --------------------------------------------------- current transaction */

typedef struct {
  PgeEngine *engine;
  gint64     count;
  gboolean   had_current;
} PeekData;

static gpointer
peek_thread (gpointer data)
{
  PeekData *peek = data;

  peek->had_current = pge_engine_transaction_exists (peek->engine) ||
                      pge_engine_get_current_transaction (peek->engine) != NULL;
  peek->count = engine_int (peek->engine, "SELECT count(*) FROM t");
  return NULL;
}

Test (transaction, current_transaction_routes_this_threads_queries_only)
{
  g_autoptr(PgeTransaction) tx = NULL;
  g_autoptr(GError) error = NULL;
  PeekData peek = { test_engine, -1, TRUE };
  gint64 tx_pid;

  exec_ok (test_engine, "CREATE TABLE t (v int)");
  cr_assert_not (pge_engine_transaction_exists (test_engine));
  cr_assert_null (pge_engine_get_current_transaction (test_engine));

  tx = begin_ok (test_engine, PGE_TRANSACTION_DEFAULT);
  cr_assert (pge_engine_transaction_exists (test_engine));
  cr_assert_eq (pge_engine_get_current_transaction (test_engine), tx);

  /* Engine-level calls of this thread run on the transaction's worker. */
  tx_pid = tx_int (tx, "SELECT pg_backend_pid()");
  for (int i = 0; i < 8; i++)
    cr_assert_eq (engine_int (test_engine, "SELECT pg_backend_pid()"), tx_pid);
  exec_ok (test_engine, "INSERT INTO t VALUES (1)");
  cr_assert_eq (engine_int (test_engine, "SELECT count(*) FROM t"), 1,
                "this thread must see its uncommitted row");

  g_thread_join (g_thread_new ("peek", peek_thread, &peek));
  cr_assert_not (peek.had_current, "another thread saw this thread's transaction");
  cr_assert_eq (peek.count, 0, "another thread saw an uncommitted row");

  cr_assert (pge_transaction_commit (tx, &error));
  cr_assert_not (pge_engine_transaction_exists (test_engine));
  cr_assert_null (pge_engine_get_current_transaction (test_engine));
  cr_assert_eq (engine_int (test_engine, "SELECT count(*) FROM t"), 1);
}

typedef struct {
  PgeEngine      *engine;
  Barrier        *barrier;
  gint64          own_pid;
  gint64          routed_pid;
  gboolean        current_is_own;
  gint64          visible;
  gboolean        committed;
} TwoData;

static gpointer
two_thread (gpointer data)
{
  TwoData *two = data;
  g_autoptr(PgeTransaction) tx = begin_ok (two->engine, PGE_TRANSACTION_DEFAULT);
  g_autofree char *insert = g_strdup_printf ("INSERT INTO t VALUES (%" G_GINT64_FORMAT ")",
                                             (gint64) GPOINTER_TO_INT (g_thread_self ()) & 0xff);

  two->own_pid = tx_int (tx, "SELECT pg_backend_pid()");
  exec_ok (two->engine, insert);
  /* Both transactions are open from here until both have looked. */
  barrier_wait (two->barrier);
  two->current_is_own = pge_engine_get_current_transaction (two->engine) == tx;
  two->routed_pid = engine_int (two->engine, "SELECT pg_backend_pid()");
  two->visible = engine_int (two->engine, "SELECT count(*) FROM t");
  barrier_wait (two->barrier);
  two->committed = pge_transaction_commit (tx, NULL);
  return NULL;
}

Test (transaction, two_threads_each_have_their_own_transaction)
{
  g_autoptr(PgeEngine) engine = pge_test_new_engine (2);
  Barrier barrier;
  TwoData a = { engine, &barrier }, b = { engine, &barrier };
  GThread *ta, *tb;

  exec_ok (engine, "CREATE TABLE t (v int)");
  barrier_init (&barrier, 2);
  ta = g_thread_new ("tx-a", two_thread, &a);
  tb = g_thread_new ("tx-b", two_thread, &b);
  g_thread_join (ta);
  g_thread_join (tb);
  barrier_clear (&barrier);

  cr_assert_neq (a.own_pid, b.own_pid, "two transactions shared a worker");
  cr_assert_eq (a.routed_pid, a.own_pid);
  cr_assert_eq (b.routed_pid, b.own_pid);
  cr_assert (a.current_is_own && b.current_is_own);
  cr_assert_eq (a.visible, 1, "each sees only its own uncommitted row");
  cr_assert_eq (b.visible, 1);
  cr_assert (a.committed && b.committed);
  cr_assert_eq (engine_int (engine, "SELECT count(*) FROM t"), 2);
  cr_assert_eq (n_pinned (engine), 0);
}

Test (transaction, two_engines_do_not_see_each_others_transaction)
{
  g_autoptr(PgeEngine) other = pge_test_new_engine (1);
  g_autoptr(PgeTransaction) tx = NULL;
  g_autoptr(PgeTransaction) tx2 = NULL;

  exec_ok (test_engine, "CREATE TABLE t (v int)");
  tx = begin_ok (test_engine, PGE_TRANSACTION_NO_NESTING);
  tx_exec_ok (tx, "INSERT INTO t VALUES (1)");
  cr_assert_null (pge_engine_get_current_transaction (other));
  cr_assert_not (pge_engine_transaction_exists (other));
  cr_assert_eq (engine_int (other, "SELECT count(*) FROM t"), 0);
  /* Not nested: the other engine has no transaction on this thread. */
  tx2 = begin_ok (other, PGE_TRANSACTION_NO_NESTING);
  cr_assert_neq (tx2, tx);
  cr_assert_eq (pge_engine_get_current_transaction (other), tx2);
  cr_assert_eq (pge_engine_get_current_transaction (test_engine), tx);
  cr_assert (pge_transaction_rollback (tx2, NULL));
  cr_assert (pge_transaction_rollback (tx, NULL));
}

typedef struct {
  PgeEngine *engine;
  GError    *error;
  gint64     elapsed_us;
} TimeoutData;

static gpointer
timeout_thread (gpointer data)
{
  TimeoutData *td = data;
  gint64 start = g_get_monotonic_time ();
  PgeTransaction *tx = pge_engine_transaction (td->engine, PGE_TRANSACTION_DEFAULT, &td->error);

  td->elapsed_us = g_get_monotonic_time () - start;
  if (tx != NULL)
    pge_transaction_unref (tx);
  return NULL;
}

Test (transaction, pinned_worker_makes_another_thread_time_out)
{
  g_autoptr(PgeConfig) config = pge_test_config (1);
  g_autoptr(PgeEngine) engine = NULL;
  g_autoptr(PgeTransaction) tx = NULL;
  g_autoptr(GError) error = NULL;
  TimeoutData td = { 0 };

  pge_config_set_acquire_timeout (config, 300);
  engine = pge_engine_new (config, &error);
  cr_assert_null (error);
  tx = begin_ok (engine, PGE_TRANSACTION_DEFAULT);
  td.engine = engine;
  g_thread_join (g_thread_new ("waiter", timeout_thread, &td));
  pge_assert_error (td.error, PGE_ERROR, PGE_ERROR_TIMEOUT);
  cr_assert_geq (td.elapsed_us, 300 * 1000, "timed out after %" G_GINT64_FORMAT " us", td.elapsed_us);
  cr_assert_lt (td.elapsed_us, 5 * G_USEC_PER_SEC);
  g_clear_error (&td.error);

  /* The pinned transaction is unharmed, and once it ends the worker serves again. */
  cr_assert_eq (tx_int (tx, "SELECT 5"), 5);
  cr_assert (pge_transaction_commit (tx, NULL));
  g_clear_pointer (&tx, pge_transaction_unref);
  tx = begin_ok (engine, PGE_TRANSACTION_DEFAULT);
  cr_assert (pge_transaction_commit (tx, NULL));
}

static gpointer
commit_thread (gpointer data)
{
  return GINT_TO_POINTER (pge_transaction_commit (data, NULL));
}

Test (transaction, commit_on_another_thread_clears_the_owners_current_slot)
{
  g_autoptr(PgeTransaction) tx = begin_ok (test_engine, PGE_TRANSACTION_DEFAULT);

  cr_assert (pge_engine_transaction_exists (test_engine));
  cr_assert (GPOINTER_TO_INT (g_thread_join (g_thread_new ("committer", commit_thread, tx))));
  cr_assert (pge_transaction_is_committed (tx));
  cr_assert_not (pge_engine_transaction_exists (test_engine),
                 "the ended transaction is still current on its thread");
  cr_assert_eq (engine_int (test_engine, "SELECT 1"), 1);
}

/* --------------------------------------------------------------- nesting */

Test (transaction, default_nesting_returns_the_parent_itself)
{
  g_autoptr(PgeTransaction) outer = begin_ok (test_engine, PGE_TRANSACTION_DEFAULT);
  g_autoptr(PgeTransaction) nested = begin_ok (test_engine, PGE_TRANSACTION_DEFAULT);

  cr_assert_eq (nested, outer, "default nesting must return the parent");
  cr_assert_eq (n_pinned (test_engine), 1, "nesting pinned another worker");
  cr_assert_eq (pge_engine_get_current_transaction (test_engine), outer);
  /* Dropping the extra reference ends nothing. */
  g_clear_pointer (&nested, pge_transaction_unref);
  cr_assert_eq (pge_engine_get_current_transaction (test_engine), outer);
  cr_assert_eq (tx_int (outer, "SELECT 1"), 1);
  cr_assert (pge_transaction_commit (outer, NULL));
}

Test (transaction, no_nesting_refuses_with_nested)
{
  g_autoptr(PgeTransaction) outer = begin_ok (test_engine, PGE_TRANSACTION_NO_NESTING);
  g_autoptr(GError) error = NULL;
  g_autoptr(PgeTransaction) nested = pge_engine_transaction (test_engine, PGE_TRANSACTION_NO_NESTING,
                                                             &error);

  cr_assert_null (nested);
  pge_assert_error (error, PGE_ERROR, PGE_ERROR_NESTED);
  cr_assert_eq (pge_engine_get_current_transaction (test_engine), outer);
  cr_assert_eq (tx_int (outer, "SELECT 1"), 1, "the refusal harmed the outer transaction");
}

Test (transaction, savepoint_nesting_inner_rollback_keeps_the_outer_work)
{
  g_autoptr(PgeTransaction) outer = NULL;
  g_autoptr(PgeTransaction) inner = NULL;
  g_autoptr(PgeResult) result = NULL;
  g_autoptr(GError) error = NULL;

  exec_ok (test_engine, "CREATE TABLE t (v int)");
  outer = begin_ok (test_engine, PGE_TRANSACTION_DEFAULT);
  exec_ok (test_engine, "INSERT INTO t VALUES (1)");
  inner = begin_ok (test_engine, PGE_TRANSACTION_SAVEPOINT);
  cr_assert_neq (inner, outer);
  cr_assert_eq (pge_transaction_get_parent (inner), outer);
  cr_assert_eq (pge_engine_get_current_transaction (test_engine), inner);
  cr_assert_eq (n_pinned (test_engine), 1, "an inner transaction shares its parent's worker");
  cr_assert_eq (tx_int (inner, "SELECT pg_backend_pid()"), tx_int (outer, "SELECT pg_backend_pid()"));
  exec_ok (test_engine, "INSERT INTO t VALUES (2)");
  cr_assert (pge_transaction_rollback (inner, &error));
  cr_assert_null (error);
  cr_assert (pge_transaction_is_rolled_back (inner));
  cr_assert (!pge_transaction_is_rolled_back (outer) && !pge_transaction_is_committed (outer));
  cr_assert_eq (pge_engine_get_current_transaction (test_engine), outer,
                "the parent must be current again");
  exec_ok (test_engine, "INSERT INTO t VALUES (3)");
  cr_assert (pge_transaction_commit (outer, &error));
  result = pge_engine_query_sync (test_engine, "SELECT string_agg(v::text, ',' ORDER BY v) FROM t",
                                  NULL, &error);
  cr_assert_str_eq (pge_result_get_value (result, 0, 0), "1,3");
}

Test (transaction, savepoint_nesting_inner_commit_releases)
{
  g_autoptr(PgeTransaction) outer = NULL;
  g_autoptr(PgeTransaction) inner = NULL;
  g_autoptr(PgeTransaction) inner2 = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GError) again = NULL;

  exec_ok (test_engine, "CREATE TABLE t (v int)");
  outer = begin_ok (test_engine, PGE_TRANSACTION_DEFAULT);
  inner = begin_ok (test_engine, PGE_TRANSACTION_SAVEPOINT);
  /* Savepoints are named from the outermost's counter: savepoint_1. */
  cr_assert_eq (pge_transaction_get_savepoint_id (outer), 2);
  tx_exec_ok (inner, "INSERT INTO t VALUES (1)");
  cr_assert (pge_transaction_commit (inner, &error));
  cr_assert (pge_transaction_is_committed (inner));
  cr_assert_not (pge_transaction_commit (inner, &again));
  pge_assert_error (again, PGE_ERROR, PGE_ERROR_TRANSACTION_STATE);
  /* Released: rolling back to it now is a server error. */
  cr_assert_not (pge_transaction_exec_sync (outer, "ROLLBACK TO SAVEPOINT savepoint_1", NULL));
  cr_assert (pge_transaction_rollback (outer, NULL));
  g_clear_pointer (&outer, pge_transaction_unref);

  outer = begin_ok (test_engine, PGE_TRANSACTION_DEFAULT);
  inner2 = begin_ok (test_engine, PGE_TRANSACTION_SAVEPOINT);
  tx_exec_ok (inner2, "INSERT INTO t VALUES (2)");
  cr_assert (pge_transaction_commit (inner2, NULL));
  cr_assert (pge_transaction_commit (outer, NULL));
  cr_assert_eq (committed_rows ("t"), 1);
}

Test (transaction, commit_in_an_aborted_inner_rolls_it_back_and_recovers_the_parent)
{
  g_autoptr(PgeTransaction) outer = NULL;
  g_autoptr(PgeTransaction) inner = NULL;
  g_autoptr(GError) error = NULL;

  exec_ok (test_engine, "CREATE TABLE t (v int)");
  outer = begin_ok (test_engine, PGE_TRANSACTION_DEFAULT);
  tx_exec_ok (outer, "INSERT INTO t VALUES (1)");
  inner = begin_ok (test_engine, PGE_TRANSACTION_SAVEPOINT);
  tx_exec_ok (inner, "INSERT INTO t VALUES (2)");
  cr_assert_not (pge_transaction_exec_sync (inner, "SELECT 1/0", NULL));
  cr_assert_not (pge_transaction_commit (inner, &error));
  pge_assert_error (error, PGE_ERROR, PGE_ERROR_TRANSACTION_STATE);
  cr_assert (strstr (error->message, "division by zero") != NULL, "%s", error->message);
  cr_assert (pge_transaction_is_rolled_back (inner));
  cr_assert_eq (tx_int (outer, "SELECT count(*) FROM t"), 1);
  cr_assert (pge_transaction_commit (outer, NULL), "the parent did not recover");
  cr_assert_eq (committed_rows ("t"), 1);
}

Test (transaction, ending_the_outer_ends_open_inner_ones)
{
  g_autoptr(PgeTransaction) outer = NULL;
  g_autoptr(PgeTransaction) inner = NULL;
  g_autoptr(PgeTransaction) innermost = NULL;
  g_autoptr(GError) error = NULL;

  exec_ok (test_engine, "CREATE TABLE t (v int)");
  outer = begin_ok (test_engine, PGE_TRANSACTION_DEFAULT);
  inner = begin_ok (test_engine, PGE_TRANSACTION_SAVEPOINT);
  innermost = begin_ok (test_engine, PGE_TRANSACTION_SAVEPOINT);
  cr_assert_eq (pge_transaction_get_parent (innermost), inner);
  tx_exec_ok (innermost, "INSERT INTO t VALUES (1)");
  cr_assert (pge_transaction_commit (outer, NULL));
  cr_assert (pge_transaction_is_committed (inner));
  cr_assert (pge_transaction_is_committed (innermost));
  cr_assert_not (pge_engine_transaction_exists (test_engine),
                 "inner transactions stayed current after the outer ended");
  cr_assert_not (pge_transaction_commit (innermost, &error));
  pge_assert_error (error, PGE_ERROR, PGE_ERROR_TRANSACTION_STATE);
  cr_assert_eq (committed_rows ("t"), 1, "committing the outer commits everything");
  cr_assert_eq (n_pinned (test_engine), 0);
}

Test (transaction, savepoint_flag_without_a_parent_begins_an_outer_transaction)
{
  g_autoptr(PgeTransaction) tx = begin_ok (test_engine, PGE_TRANSACTION_SAVEPOINT);

  cr_assert_null (pge_transaction_get_parent (tx));
  cr_assert_eq (n_pinned (test_engine), 1);
  cr_assert (pge_transaction_commit (tx, NULL));
}

/* -------------------------------------------------------------- lifetime */

Test (transaction, last_unref_rolls_back_and_frees_the_worker)
{
  PgeTransaction *tx;

  exec_ok (test_engine, "CREATE TABLE t (v int)");
  tx = begin_ok (test_engine, PGE_TRANSACTION_DEFAULT);
  tx_exec_ok (tx, "INSERT INTO t VALUES (1)");
  cr_assert_eq (n_pinned (test_engine), 1);
  pge_transaction_unref (tx);
  cr_assert_eq (n_pinned (test_engine), 0, "the worker is still pinned after the last unref");
  cr_assert_not (pge_engine_transaction_exists (test_engine));
  cr_assert_eq (committed_rows ("t"), 0);
  cr_assert_eq (engine_int (test_engine, "SELECT count(*) FROM t"), 0);
}

Test (transaction, last_unref_of_an_inner_rolls_back_to_its_savepoint)
{
  g_autoptr(PgeTransaction) outer = NULL;
  PgeTransaction *inner;

  exec_ok (test_engine, "CREATE TABLE t (v int)");
  outer = begin_ok (test_engine, PGE_TRANSACTION_DEFAULT);
  tx_exec_ok (outer, "INSERT INTO t VALUES (1)");
  inner = begin_ok (test_engine, PGE_TRANSACTION_SAVEPOINT);
  tx_exec_ok (inner, "INSERT INTO t VALUES (2)");
  pge_transaction_unref (inner);
  cr_assert_eq (pge_engine_get_current_transaction (test_engine), outer);
  cr_assert_eq (tx_int (outer, "SELECT count(*) FROM t"), 1);
  cr_assert (pge_transaction_commit (outer, NULL));
  cr_assert_eq (committed_rows ("t"), 1);
}

typedef struct {
  GMutex   lock;
  GCond    cond;
  gboolean go;
  gboolean dropped;
  gboolean on_worker;
} DropGate;

static PGresult *
wait_for_gate (PGconn *conn, gpointer user_data, GError **error)
{
  DropGate *gate = user_data;

  g_mutex_lock (&gate->lock);
  while (!gate->go)
    g_cond_wait (&gate->cond, &gate->lock);
  g_mutex_unlock (&gate->lock);
  return NULL;
}

typedef struct {
  DropGate       *gate;
  PgeTransaction *tx;
  GThread        *main_thread;
} DropData;

static void
drop_on_worker (PgeFuture *future, gpointer user_data)
{
  DropData *drop = user_data;

  /* The last reference, dropped on the transaction's own worker thread. */
  pge_transaction_unref (drop->tx);
  g_mutex_lock (&drop->gate->lock);
  drop->gate->on_worker = g_thread_self () != drop->main_thread;
  drop->gate->dropped = TRUE;
  g_cond_broadcast (&drop->gate->cond);
  g_mutex_unlock (&drop->gate->lock);
}

Test (transaction, last_unref_on_a_worker_thread_does_not_deadlock)
{
  g_autoptr(PgeEngine) engine = pge_test_new_engine (1);
  g_autoptr(PgeFuture) future = NULL;
  g_autoptr(PgeTransaction) next = NULL;
  DropGate gate = { 0 };
  DropData drop = { &gate, NULL, g_thread_self () };

  g_mutex_init (&gate.lock);
  g_cond_init (&gate.cond);
  exec_ok (engine, "CREATE TABLE t (v int)");
  drop.tx = begin_ok (engine, PGE_TRANSACTION_DEFAULT);
  tx_exec_ok (drop.tx, "INSERT INTO t VALUES (1)");
  /* Routed into the transaction; it holds the worker until the gate opens,
   * so the callback below is registered before the job is done. */
  future = pge_engine_run_in_worker (engine, wait_for_gate, &gate, NULL);
  pge_future_on_done (future, NULL, drop_on_worker, &drop, NULL);
  g_mutex_lock (&gate.lock);
  gate.go = TRUE;
  g_cond_broadcast (&gate.cond);
  while (!gate.dropped)
    g_cond_wait (&gate.cond, &gate.lock);
  g_mutex_unlock (&gate.lock);

  cr_assert (gate.on_worker, "the callback did not run on the worker");
  cr_assert_not (pge_engine_transaction_exists (engine));
  /* A 1-worker engine: this pins only once the worker is back in the pool. */
  next = begin_ok (engine, PGE_TRANSACTION_DEFAULT);
  cr_assert_eq (tx_int (next, "SELECT count(*) FROM t"), 0, "the dropped transaction was not rolled back");
  cr_assert (pge_transaction_commit (next, NULL));
  g_mutex_clear (&gate.lock);
  g_cond_clear (&gate.cond);
}

Test (transaction, engine_close_rolls_back_an_open_transaction)
{
  g_autoptr(PgeEngine) engine = pge_test_new_engine (2);
  g_autoptr(PgeTransaction) tx = NULL;
  g_autoptr(PgeTransaction) after = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GError) begin_error = NULL;

  exec_ok (test_engine, "CREATE TABLE t (v int)");
  tx = begin_ok (engine, PGE_TRANSACTION_DEFAULT);
  tx_exec_ok (tx, "INSERT INTO t VALUES (1)");
  pge_engine_close (engine);
  cr_assert_eq (committed_rows ("t"), 0);
  cr_assert_not (pge_transaction_commit (tx, &error));
  pge_assert_error (error, PGE_ERROR, PGE_ERROR_CLOSED);
  cr_assert (pge_transaction_is_rolled_back (tx));
  cr_assert_eq (committed_rows ("t"), 0);
  after = pge_engine_transaction (engine, PGE_TRANSACTION_DEFAULT, &begin_error);
  cr_assert_null (after);
  pge_assert_error (begin_error, PGE_ERROR, PGE_ERROR_CLOSED);
}

Test (transaction, terminated_backend_fails_the_transaction_with_connection)
{
  g_autoptr(PgeTransaction) tx = NULL;
  g_autoptr(GError) query_error = NULL;
  g_autoptr(GError) commit_error = NULL;
  g_autoptr(PgeResult) result = NULL;
  gint64 pid;

  exec_ok (test_engine, "CREATE TABLE t (v int)");
  tx = begin_ok (test_engine, PGE_TRANSACTION_DEFAULT);
  tx_exec_ok (tx, "INSERT INTO t VALUES (1)");
  pid = tx_int (tx, "SELECT pg_backend_pid()");
  /* Gone before the next step, so that it is the lost-connection path
   * and not a race with the signal. */
  pge_test_terminate_backend (pid);

  result = pge_transaction_query_sync (tx, "SELECT 1", NULL, &query_error);
  cr_assert_null (result);
  pge_assert_error (query_error, PGE_ERROR, PGE_ERROR_CONNECTION);
  cr_assert_not (pge_transaction_commit (tx, &commit_error));
  pge_assert_error (commit_error, PGE_ERROR, PGE_ERROR_CONNECTION);
  cr_assert (pge_transaction_is_rolled_back (tx));
  cr_assert_eq (committed_rows ("t"), 0);
  cr_assert_eq (n_pinned (test_engine), 0);
  for (int i = 0; i < 8; i++)
    cr_assert_eq (engine_int (test_engine, "SELECT 1"), 1, "the engine stopped serving");
  g_clear_pointer (&tx, pge_transaction_unref);
  tx = begin_ok (test_engine, PGE_TRANSACTION_DEFAULT);
  cr_assert (pge_transaction_commit (tx, NULL));
}

/* ---------------------------------------------------- worker-thread guard */

typedef struct {
  PgeEngine      *engine;
  PgeTransaction *tx;
  GError         *begin_error;
  GError         *commit_error;
  GError         *query_error;
  GError         *run_error;
} GuardData;

static gboolean
never_called (PgeTransaction *tx, gpointer user_data, GError **error)
{
  cr_assert_fail ("the transaction function ran on a worker thread");
  return FALSE;
}

static PGresult *
guard_in_worker (PGconn *conn, gpointer user_data, GError **error)
{
  GuardData *guard = user_data;
  PgeTransaction *tx;
  PgeResult *result;

  tx = pge_engine_transaction (guard->engine, PGE_TRANSACTION_DEFAULT, &guard->begin_error);
  if (tx != NULL)
    pge_transaction_unref (tx);
  pge_transaction_commit (guard->tx, &guard->commit_error);
  result = pge_transaction_query_sync (guard->tx, "SELECT 1", NULL, &guard->query_error);
  if (result != NULL)
    pge_result_unref (result);
  pge_engine_run_transaction (guard->engine, PGE_TRANSACTION_DEFAULT, 0, never_called, NULL,
                              &guard->run_error);
  return NULL;
}

Test (transaction, blocking_calls_on_a_worker_thread_are_refused)
{
  g_autoptr(PgeTransaction) tx = begin_ok (test_engine, PGE_TRANSACTION_NO_NESTING);
  g_autoptr(PgeFuture) future = NULL;
  g_autoptr(PgeResult) result = NULL;
  GuardData guard = { test_engine, tx };

  /* Routed into tx (current on this thread): the function runs on the
   * very worker tx pins, where any blocking call would wait for itself. */
  future = pge_engine_run_in_worker (test_engine, guard_in_worker, &guard, NULL);
  result = pge_future_wait (future, NULL);
  pge_assert_error (guard.begin_error, PGE_ERROR, PGE_ERROR_WOULD_DEADLOCK);
  pge_assert_error (guard.commit_error, PGE_ERROR, PGE_ERROR_WOULD_DEADLOCK);
  pge_assert_error (guard.query_error, PGE_ERROR, PGE_ERROR_WOULD_DEADLOCK);
  pge_assert_error (guard.run_error, PGE_ERROR, PGE_ERROR_WOULD_DEADLOCK);
  g_clear_error (&guard.begin_error);
  g_clear_error (&guard.commit_error);
  g_clear_error (&guard.query_error);
  g_clear_error (&guard.run_error);
  cr_assert_not (pge_transaction_is_committed (tx), "the refused commit changed the state");
  cr_assert (pge_transaction_commit (tx, NULL));
}

/* ------------------------------------------------------- run_transaction */

typedef struct {
  guint       calls;
  const char *sql;        /* run in the body */
  gboolean    result;     /* what the body returns */
  gboolean    set_error;
  gboolean    end_itself;
  PgeTransaction *seen;
} Body;

static gboolean
body_func (PgeTransaction *tx, gpointer user_data, GError **error)
{
  Body *body = user_data;

  body->calls++;
  body->seen = tx;
  cr_assert_eq (pge_engine_get_current_transaction (pge_transaction_get_engine (tx)), tx,
                "the body must run with its transaction current");
  if (body->sql != NULL && !pge_engine_exec_sync (pge_transaction_get_engine (tx), body->sql, error))
    return FALSE;
  if (body->end_itself)
    cr_assert (pge_transaction_commit (tx, NULL));
  if (!body->result && body->set_error)
    g_set_error_literal (error, PGE_ERROR, PGE_ERROR_INVALID_ARGUMENT, "the body says no");
  return body->result;
}

Test (transaction, run_transaction_commits_when_the_body_returns_true)
{
  Body body = { .sql = "INSERT INTO t VALUES (1)", .result = TRUE };
  g_autoptr(GError) error = NULL;

  exec_ok (test_engine, "CREATE TABLE t (v int)");
  cr_assert (pge_engine_run_transaction (test_engine, PGE_TRANSACTION_DEFAULT, 3, body_func, &body, &error));
  cr_assert_null (error);
  cr_assert_eq (body.calls, 1);
  cr_assert_eq (committed_rows ("t"), 1);
  cr_assert_not (pge_engine_transaction_exists (test_engine));
  cr_assert_eq (n_pinned (test_engine), 0);
}

Test (transaction, run_transaction_rolls_back_with_the_bodys_error)
{
  Body body = { .sql = "INSERT INTO t VALUES (1)", .result = FALSE, .set_error = TRUE };
  Body silent = { .sql = "INSERT INTO t VALUES (1)", .result = FALSE };
  g_autoptr(GError) error = NULL;
  g_autoptr(GError) silent_error = NULL;

  exec_ok (test_engine, "CREATE TABLE t (v int)");
  cr_assert_not (pge_engine_run_transaction (test_engine, PGE_TRANSACTION_DEFAULT, 3, body_func, &body, &error));
  pge_assert_error (error, PGE_ERROR, PGE_ERROR_INVALID_ARGUMENT);
  cr_assert_str_eq (error->message, "the body says no");
  cr_assert_eq (body.calls, 1, "a non-retryable failure was retried");
  cr_assert_not (pge_engine_run_transaction (test_engine, PGE_TRANSACTION_DEFAULT, 3, body_func, &silent,
                                             &silent_error));
  pge_assert_error (silent_error, PGE_ERROR, PGE_ERROR_FAILED);
  cr_assert_eq (committed_rows ("t"), 0);
  cr_assert_eq (n_pinned (test_engine), 0);
}

Test (transaction, run_transaction_body_may_end_the_transaction_itself)
{
  Body body = { .sql = "INSERT INTO t VALUES (1)", .result = TRUE, .end_itself = TRUE };
  g_autoptr(GError) error = NULL;

  exec_ok (test_engine, "CREATE TABLE t (v int)");
  cr_assert (pge_engine_run_transaction (test_engine, PGE_TRANSACTION_DEFAULT, 0, body_func, &body, &error),
             "%s", error ? error->message : "");
  cr_assert_eq (committed_rows ("t"), 1);
}

Test (transaction, run_transaction_rejects_bad_input)
{
  Body body = { .result = TRUE };
  g_autoptr(GError) e1 = NULL;
  g_autoptr(GError) e2 = NULL;

  cr_assert_not (pge_engine_run_transaction (test_engine, PGE_TRANSACTION_DEFAULT, 0, NULL, NULL, &e1));
  pge_assert_error (e1, PGE_ERROR, PGE_ERROR_INVALID_ARGUMENT);
  cr_assert_not (pge_engine_run_transaction (test_engine,
                                             PGE_TRANSACTION_SERIALIZABLE | PGE_TRANSACTION_REPEATABLE_READ,
                                             0, body_func, &body, &e2));
  pge_assert_error (e2, PGE_ERROR, PGE_ERROR_INVALID_ARGUMENT);
  cr_assert_eq (body.calls, 0);
}

#define RAISE_40001 "DO $$ BEGIN RAISE EXCEPTION 'conflict' USING ERRCODE = 'serialization_failure'; END $$"
#define RAISE_40P01 "DO $$ BEGIN RAISE EXCEPTION 'deadlock' USING ERRCODE = 'deadlock_detected'; END $$"

Test (transaction, run_transaction_retries_up_to_max_retries)
{
  Body body = { .sql = RAISE_40001, .result = TRUE };
  Body deadlock = { .sql = RAISE_40P01, .result = TRUE };
  g_autoptr(GError) error = NULL;
  g_autoptr(GError) deadlock_error = NULL;

  cr_assert_not (pge_engine_run_transaction (test_engine, PGE_TRANSACTION_SERIALIZABLE, 2, body_func,
                                             &body, &error));
  pge_assert_error (error, PGE_ERROR, PGE_ERROR_QUERY);
  cr_assert_eq (pge_error_get_class (error), PGE_ERROR_CLASS_SERIALIZATION_FAILURE);
  cr_assert_str_eq (pge_error_get_sqlstate (error), "40001");
  cr_assert_eq (body.calls, 3, "1 attempt + 2 retries, got %u", body.calls);
  cr_assert_not (pge_engine_run_transaction (test_engine, PGE_TRANSACTION_DEFAULT, 1, body_func,
                                             &deadlock, &deadlock_error));
  cr_assert_str_eq (pge_error_get_sqlstate (deadlock_error), "40P01");
  cr_assert_eq (deadlock.calls, 2);
  cr_assert_eq (n_pinned (test_engine), 0);
}

static gboolean
swallowing_body (PgeTransaction *tx, gpointer user_data, GError **error)
{
  guint *calls = user_data;

  /* Ignores the failure and asks to commit: the commit must report it,
   * still retryable. */
  if ((*calls)++ == 0)
    cr_assert_not (pge_transaction_exec_sync (tx, RAISE_40001, NULL));
  return TRUE;
}

Test (transaction, run_transaction_retries_a_commit_that_found_a_serialization_failure)
{
  guint calls = 0;
  g_autoptr(GError) error = NULL;

  cr_assert (pge_engine_run_transaction (test_engine, PGE_TRANSACTION_DEFAULT, 1, swallowing_body,
                                         &calls, &error), "%s", error ? error->message : "");
  cr_assert_eq (calls, 2);
}

Test (transaction, nested_run_transaction_joins_the_parent_and_never_retries)
{
  g_autoptr(PgeTransaction) outer = NULL;
  Body conflict = { .sql = RAISE_40001, .result = TRUE };
  Body joined = { .sql = "INSERT INTO t VALUES (1)", .result = TRUE };
  g_autoptr(GError) error = NULL;
  g_autoptr(GError) joined_error = NULL;

  exec_ok (test_engine, "CREATE TABLE t (v int)");
  outer = begin_ok (test_engine, PGE_TRANSACTION_DEFAULT);
  cr_assert (pge_engine_run_transaction (test_engine, PGE_TRANSACTION_DEFAULT, 5, body_func, &joined,
                                         &joined_error));
  cr_assert_eq (joined.seen, outer, "default nesting must run the body in the parent");
  cr_assert_not (pge_transaction_is_committed (outer), "a joined block must not commit its parent");
  cr_assert_eq (committed_rows ("t"), 0);

  cr_assert_not (pge_engine_run_transaction (test_engine, PGE_TRANSACTION_DEFAULT, 5, body_func,
                                             &conflict, &error));
  cr_assert_str_eq (pge_error_get_sqlstate (error), "40001");
  cr_assert_eq (conflict.calls, 1, "a nested block retried on its own");
  cr_assert_not (pge_transaction_is_rolled_back (outer), "the parent's block decides, not the nested one");
  cr_assert (pge_transaction_rollback (outer, NULL));
}

Test (transaction, nested_run_transaction_with_savepoint_releases_or_rolls_back)
{
  g_autoptr(PgeTransaction) outer = NULL;
  Body fails = { .sql = "INSERT INTO t VALUES (2)", .result = FALSE, .set_error = TRUE };
  Body conflict = { .sql = RAISE_40001, .result = TRUE };
  Body works = { .sql = "INSERT INTO t VALUES (3)", .result = TRUE };
  g_autoptr(GError) e1 = NULL;
  g_autoptr(GError) e2 = NULL;
  g_autoptr(GError) e3 = NULL;
  g_autoptr(PgeResult) result = NULL;

  exec_ok (test_engine, "CREATE TABLE t (v int)");
  outer = begin_ok (test_engine, PGE_TRANSACTION_DEFAULT);
  tx_exec_ok (outer, "INSERT INTO t VALUES (1)");

  cr_assert_not (pge_engine_run_transaction (test_engine, PGE_TRANSACTION_SAVEPOINT, 5, body_func,
                                             &fails, &e1));
  pge_assert_error (e1, PGE_ERROR, PGE_ERROR_INVALID_ARGUMENT);
  cr_assert_neq (fails.seen, outer);
  cr_assert_eq (pge_engine_get_current_transaction (test_engine), outer);

  cr_assert_not (pge_engine_run_transaction (test_engine, PGE_TRANSACTION_SAVEPOINT, 5, body_func,
                                             &conflict, &e2));
  cr_assert_str_eq (pge_error_get_sqlstate (e2), "40001");
  cr_assert_eq (conflict.calls, 1, "a nested block retried on its own");

  cr_assert (pge_engine_run_transaction (test_engine, PGE_TRANSACTION_SAVEPOINT, 5, body_func,
                                         &works, &e3), "%s", e3 ? e3->message : "");
  cr_assert (pge_transaction_commit (outer, NULL), "the savepoint blocks left the parent aborted");
  result = pge_engine_query_sync (test_engine, "SELECT string_agg(v::text, ',' ORDER BY v) FROM t",
                                  NULL, NULL);
  cr_assert_str_eq (pge_result_get_value (result, 0, 0), "1,3");
}

Test (transaction, nested_run_transaction_with_no_nesting_is_refused)
{
  g_autoptr(PgeTransaction) outer = begin_ok (test_engine, PGE_TRANSACTION_DEFAULT);
  Body body = { .result = TRUE };
  g_autoptr(GError) error = NULL;

  cr_assert_not (pge_engine_run_transaction (test_engine, PGE_TRANSACTION_NO_NESTING, 5, body_func,
                                             &body, &error));
  pge_assert_error (error, PGE_ERROR, PGE_ERROR_NESTED);
  cr_assert_eq (body.calls, 0);
}

/* Write skew: each transaction reads the whole table, then inserts what
 * it read. Two SERIALIZABLE ones that both read before either writes
 * cannot both commit; the loser is retried after the winner committed. */
typedef struct {
  PgeEngine *engine;
  Barrier   *barrier;
  int        value;
  guint      attempts;
  gboolean   ok;
  GError    *error;
} SkewData;

static gboolean
skew_body (PgeTransaction *tx, gpointer user_data, GError **error)
{
  SkewData *skew = user_data;
  g_autoptr(PgeResult) sum = NULL;
  g_autoptr(PgeParams) params = pge_params_new ();
  g_autoptr(PgeResult) inserted = NULL;
  GError *local = NULL;
  gboolean first = skew->attempts++ == 0;

  sum = pge_transaction_query_sync (tx, "SELECT coalesce(sum(v), 0) FROM t", NULL, &local);
  /* Only the first attempts meet: both have read before either writes. */
  if (first)
    barrier_wait (skew->barrier);
  if (local == NULL)
    {
      pge_params_add_int32 (params, skew->value);
      inserted = pge_transaction_query_sync (tx, "INSERT INTO t VALUES ($1)", params, &local);
    }
  /* ...and both have written before either commits. */
  if (first)
    barrier_wait (skew->barrier);
  if (local != NULL)
    {
      g_propagate_error (error, local);
      return FALSE;
    }
  return TRUE;
}

static gpointer
skew_thread (gpointer data)
{
  SkewData *skew = data;

  skew->ok = pge_engine_run_transaction (skew->engine, PGE_TRANSACTION_SERIALIZABLE, 5, skew_body,
                                         skew, &skew->error);
  return NULL;
}

Test (transaction, serialization_conflict_is_retried_to_success)
{
  Barrier barrier;
  SkewData a = { test_engine, &barrier, 1 }, b = { test_engine, &barrier, 2 };
  GThread *ta, *tb;
  g_autoptr(PgeResult) result = NULL;

  exec_ok (test_engine, "CREATE TABLE t (v int)");
  barrier_init (&barrier, 2);
  ta = g_thread_new ("skew-a", skew_thread, &a);
  tb = g_thread_new ("skew-b", skew_thread, &b);
  g_thread_join (ta);
  g_thread_join (tb);
  barrier_clear (&barrier);

  cr_assert (a.ok, "a: %s", a.error ? a.error->message : "");
  cr_assert (b.ok, "b: %s", b.error ? b.error->message : "");
  cr_assert_geq (a.attempts + b.attempts, 3, "no serialization failure happened (%u + %u attempts)",
                 a.attempts, b.attempts);
  result = pge_engine_query_sync (test_engine, "SELECT string_agg(v::text, ',' ORDER BY v) FROM t",
                                  NULL, NULL);
  cr_assert_str_eq (pge_result_get_value (result, 0, 0), "1,2");
}

/* ------------------------------------------------------------------ types */

Test (transaction, types_are_registered)
{
  GFlagsClass *klass;
  GFlagsValue *value;

  cr_assert (G_TYPE_IS_BOXED (PGE_TYPE_TRANSACTION));
  cr_assert_str_eq (g_type_name (PGE_TYPE_TRANSACTION), "PgeTransaction");
  cr_assert (G_TYPE_IS_FLAGS (PGE_TYPE_TRANSACTION_FLAGS));
  klass = g_type_class_ref (PGE_TYPE_TRANSACTION_FLAGS);
  value = g_flags_get_value_by_nick (klass, "savepoint");
  cr_assert_not_null (value);
  cr_assert_eq (value->value, PGE_TRANSACTION_SAVEPOINT);
  cr_assert_null (g_flags_get_value_by_nick (klass, "no-such-flag"));
  g_type_class_unref (klass);
}

Test (transaction, boxed_copy_is_a_reference)
{
  g_autoptr(PgeTransaction) tx = begin_ok (test_engine, PGE_TRANSACTION_DEFAULT);
  PgeTransaction *copy = g_boxed_copy (PGE_TYPE_TRANSACTION, tx);

  cr_assert_eq (copy, tx);
  g_boxed_free (PGE_TYPE_TRANSACTION, copy);
  cr_assert_eq (n_pinned (test_engine), 1, "freeing a copy ended the transaction");
  cr_assert (pge_transaction_commit (tx, NULL));
}

static void
drop_transaction (PgeFuture *future, gpointer user_data)
{
  pge_transaction_unref (user_data);
}

/* Jobs that time out waiting for a worker resolve on the pool's janitor
 * thread, so their NULL-context callbacks run there; dropping the last
 * reference to a transaction (and through it to the engine) there must
 * neither block the janitor nor make it join itself. */
Test (transaction, last_unref_on_the_janitor_thread_does_not_deadlock)
{
  g_autoptr(PgeConfig) config = pge_test_config (1);
  g_autoptr(GError) error = NULL;
  g_autoptr(PgeFuture) timed_out = NULL;
  PgeEngine *engine;
  PgeTransaction *tx;
  gint64 start;

  pge_config_set_acquire_timeout (config, 300);
  engine = pge_engine_new (config, &error);
  cr_assert_not_null (engine, "%s", error ? error->message : "");
  tx = pge_engine_transaction (engine, PGE_TRANSACTION_DEFAULT, &error);
  cr_assert_not_null (tx, "%s", error ? error->message : "");
  /* query_on_node is never routed into the thread's transaction: it waits
   * for the pinned worker and times out. */
  timed_out = pge_engine_query_on_node (engine, "primary", "SELECT 1", NULL);
  pge_future_on_done (timed_out, NULL, drop_transaction, tx, NULL);
  pge_engine_unref (engine);   /* tx now holds the last engine reference */
  start = g_get_monotonic_time ();
  cr_assert (pge_future_wait_timeout (timed_out, 5000));
  cr_assert_null (pge_future_wait (timed_out, &error));
  pge_assert_error (error, PGE_ERROR, PGE_ERROR_TIMEOUT);
  /* The close runs on a helper thread; a janitor joining itself would
   * abort the process meanwhile. */
  while (g_get_monotonic_time () - start < 2 * G_USEC_PER_SEC)
    g_usleep (50 * 1000);
}

/* ------------------------------------ a block ended behind the engine's back */

static void
assert_broken (GError *error)
{
  pge_assert_error (error, PGE_ERROR, PGE_ERROR_TRANSACTION_STATE);
  cr_assert (strstr (error->message, "did not issue") != NULL, "%s", error->message);
}

/* COMMIT (or ROLLBACK, END, ABORT) sent as a statement ends the server's
 * transaction block: the statement's result is returned, and from then on
 * every call on the transaction fails — above all a rollback must never
 * report success while the rows stay committed. */
Test (transaction, a_block_ended_by_a_statement_breaks_the_transaction)
{
  static const char *const enders[] = { "COMMIT", "ROLLBACK", "END", "ABORT", "commit  -- lower case" };

  exec_ok (test_engine, "CREATE TABLE ended (v text)");
  for (guint i = 0; i < G_N_ELEMENTS (enders); i++)
    {
      g_autoptr(PgeTransaction) tx = begin_ok (test_engine, PGE_TRANSACTION_DEFAULT);
      g_autoptr(GError) error = NULL;
      g_autoptr(GError) later = NULL;
      g_autoptr(GError) rolled = NULL;
      g_autoptr(GError) committed = NULL;
      g_autoptr(PgeResult) ended = NULL;
      g_autoptr(PgeResult) after = NULL;

      tx_exec_ok (tx, "INSERT INTO ended VALUES ('before')");
      ended = pge_transaction_query_sync (tx, enders[i], NULL, &error);
      cr_assert_not_null (ended, "%s: %s", enders[i], error ? error->message : "");
      after = pge_transaction_query_sync (tx, "INSERT INTO ended VALUES ('after')", NULL, &later);
      cr_assert_null (after);
      assert_broken (later);
      cr_assert_not (pge_transaction_rollback (tx, &rolled), "%s: the rollback reported success", enders[i]);
      assert_broken (rolled);
      cr_assert_not (pge_transaction_commit (tx, &committed));
      pge_assert_error (committed, PGE_ERROR, PGE_ERROR_TRANSACTION_STATE);
      cr_assert_not (pge_transaction_is_committed (tx));
      cr_assert_not (pge_transaction_is_rolled_back (tx));
    }
  /* COMMIT and END kept 'before'; nothing ever ran 'after'. */
  cr_assert_eq (committed_rows ("ended"), 3);
  cr_assert_eq (engine_int (test_engine, "SELECT count(*) FROM ended WHERE v = 'after'"), 0);
  cr_assert_eq (n_pinned (test_engine), 0);
  /* The connection is fine: new transactions work. */
  {
    g_autoptr(PgeTransaction) tx = begin_ok (test_engine, PGE_TRANSACTION_DEFAULT);

    tx_exec_ok (tx, "INSERT INTO ended VALUES ('new')");
    cr_assert (pge_transaction_commit (tx, NULL));
  }
}

/* The same from a script, and for statements already queued behind the
 * one that ended the block: they must not autocommit one by one. */
Test (transaction, statements_queued_behind_a_stray_commit_never_run)
{
  g_autoptr(PgeTransaction) tx = NULL;
  g_autoptr(PgeFuture) stray = NULL;
  g_autoptr(PgeFuture) behind = NULL;
  g_autoptr(PgeResult) first = NULL;
  g_autoptr(PgeResult) second = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GError) queued = NULL;
  g_autoptr(GError) scripted = NULL;

  exec_ok (test_engine, "CREATE TABLE queued (v text)");
  tx = begin_ok (test_engine, PGE_TRANSACTION_DEFAULT);
  stray = pge_transaction_query (tx, "COMMIT", NULL);
  behind = pge_transaction_query (tx, "INSERT INTO queued VALUES ('behind')", NULL);
  first = pge_future_wait (stray, &error);
  cr_assert_null (error, "%s", error ? error->message : "");
  second = pge_future_wait (behind, &queued);
  cr_assert_null (second);
  assert_broken (queued);
  cr_assert_eq (committed_rows ("queued"), 0);
  g_clear_pointer (&tx, pge_transaction_unref);

  tx = begin_ok (test_engine, PGE_TRANSACTION_DEFAULT);
  cr_assert (pge_transaction_exec_sync (tx, "INSERT INTO queued VALUES ('a'); COMMIT; "
                                            "INSERT INTO queued VALUES ('b')", &error));
  cr_assert_not (pge_transaction_rollback (tx, &scripted));
  assert_broken (scripted);
  cr_assert_eq (committed_rows ("queued"), 2);
}

/* A savepoint released or rolled back to by hand: the inner transaction
 * (or PgeSavepoint) that owned it fails instead of sending a RELEASE that
 * the server would answer with an error aborting the whole transaction;
 * the outer transaction goes on. */
Test (transaction, savepoints_ended_by_hand_fail_cleanly)
{
  g_autoptr(PgeTransaction) outer = NULL;
  g_autoptr(PgeTransaction) inner = NULL;
  g_autoptr(PgeSavepoint) mark = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GError) inner_error = NULL;
  g_autoptr(GError) mark_error = NULL;

  exec_ok (test_engine, "CREATE TABLE marks (v int)");
  outer = begin_ok (test_engine, PGE_TRANSACTION_DEFAULT);
  tx_exec_ok (outer, "INSERT INTO marks VALUES (1)");
  inner = begin_ok (test_engine, PGE_TRANSACTION_SAVEPOINT);
  tx_exec_ok (inner, "INSERT INTO marks VALUES (2)");
  tx_exec_ok (inner, "RELEASE SAVEPOINT savepoint_1");
  cr_assert_not (pge_transaction_commit (inner, &inner_error));
  pge_assert_error (inner_error, PGE_ERROR, PGE_ERROR_TRANSACTION_STATE);

  mark = pge_transaction_savepoint (outer, "mark", &error);
  cr_assert_not_null (mark, "%s", error ? error->message : "");
  tx_exec_ok (outer, "INSERT INTO marks VALUES (3)");
  cr_assert (pge_transaction_exec_sync (outer, "ROLLBACK TO SAVEPOINT mark", &error));
  cr_assert_not (pge_savepoint_release (mark, &mark_error));
  pge_assert_error (mark_error, PGE_ERROR, PGE_ERROR_TRANSACTION_STATE);

  cr_assert (pge_transaction_commit (outer, &error), "%s", error ? error->message : "");
  cr_assert_eq (committed_rows ("marks"), 2);
}
