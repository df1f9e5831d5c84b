/* test-dispatch.c — the direct path: a thread that is going to block
 * runs its statement on a free connection itself, queued futures keep
 * their turn, and a caller that finds every connection busy waits in the
 * queue like anyone else.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <string.h>

#include "fixture.h"

TestSuite (dispatch, .init = pge_test_engine_up, .fini = pge_test_engine_down);

static PgeEngine *
probed_engine (guint n_workers)
{
  g_autoptr(PgeConfig) config = pge_test_config (n_workers);
  g_autoptr(GError) error = NULL;
  PgeEngine *engine;

  pge_test_probe_start ("direct_probe");
  pge_config_set_log_queries (config, TRUE);
  engine = pge_engine_new (config, &error);
  cr_assert_not_null (engine, "%s", error ? error->message : "");
  return engine;
}

/* Every blocking call finds a free connection here (nothing else runs):
 * each runs its statement on the calling thread, with no hand-off. */
Test (dispatch, blocking_calls_run_on_the_calling_thread)
{
  g_autoptr(PgeEngine) engine = probed_engine (4);
  g_autoptr(GError) error = NULL;
  g_autoptr(PgeAtomic) atomic = NULL;
  guint here, elsewhere;

  for (int i = 0; i < 20; i++)
    {
      g_autoptr(PgeResult) result = pge_engine_query_sync (engine, "SELECT 'direct_probe'", NULL, &error);

      cr_assert_not_null (result, "%s", error ? error->message : "");
    }
  for (int i = 0; i < 5; i++)
    cr_assert (pge_engine_exec_sync (engine, "SELECT 'direct_probe script'", &error));
  atomic = pge_engine_atomic (engine);
  pge_atomic_add (atomic, "SELECT 'direct_probe atomic'", NULL);
  cr_assert (pge_atomic_run_sync (atomic, &error), "%s", error ? error->message : "");
  pge_test_probe_counts (&here, &elsewhere, FALSE);
  /* The first call may come before every worker went idle after start. */
  cr_assert_geq (here, 24, "%u statements ran here, %u elsewhere", here, elsewhere);
}

Test (dispatch, a_transaction_runs_on_the_thread_that_holds_it)
{
  g_autoptr(PgeEngine) engine = probed_engine (2);
  g_autoptr(GError) error = NULL;
  g_autoptr(PgeTransaction) tx = pge_engine_transaction (engine, PGE_TRANSACTION_DEFAULT, &error);
  guint here, elsewhere;

  cr_assert_not_null (tx, "%s", error ? error->message : "");
  for (int i = 0; i < 10; i++)
    {
      /* Both the transaction's own calls and engine-level calls routed
       * into it. */
      g_autoptr(PgeResult) a = pge_transaction_query_sync (tx, "SELECT 'direct_probe tx'", NULL, &error);
      g_autoptr(PgeResult) b = pge_engine_query_sync (engine, "SELECT 'direct_probe routed'", NULL, &error);

      cr_assert_not_null (a);
      cr_assert_not_null (b);
    }
  cr_assert (pge_transaction_commit (tx, &error), "%s", error ? error->message : "");
  pge_test_probe_counts (&here, &elsewhere, FALSE);
  cr_assert_eq (here, 20, "%u statements ran here, %u elsewhere", here, elsewhere);
}

/* A worker function that says which thread ran it. */
static PGresult *
note_thread (PGconn *conn, gpointer data, GError **error)
{
  g_atomic_pointer_set ((GThread **) data, g_thread_self ());
  return PQexec (conn, "SELECT 1");
}

/* pge_future_wait() on a job that no worker has started yet runs it on
 * the waiting thread when a connection is free; the submission woke a
 * worker, so which of the two gets there first is a race, but over many
 * tries the waiter wins some. */
Test (dispatch, a_waiting_thread_may_run_an_unstarted_job_itself)
{
  guint here = 0;

  for (int i = 0; i < 100 && here == 0; i++)
    {
      GThread *ran_on = NULL;
      g_autoptr(GError) error = NULL;
      g_autoptr(PgeFuture) future = pge_engine_run_in_worker (test_engine, note_thread, &ran_on, NULL);
      g_autoptr(PgeResult) result = pge_future_wait (future, &error);

      cr_assert_not_null (result, "%s", error ? error->message : "");
      if (g_atomic_pointer_get (&ran_on) == g_thread_self ())
        here++;
    }
  cr_assert_gt (here, 0, "no wait in 100 ran its job on the waiting thread");
}

typedef struct {
  PgeEngine *engine;
  gint       done;   /* atomic */
  gint64     value;
} Blocker;

static gpointer
blocking_query (gpointer data)
{
  Blocker *blocker = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(PgeResult) result = pge_engine_query_sync (blocker->engine,
                                                       "INSERT INTO turns (who) VALUES ('sync') "
                                                       "RETURNING seq", NULL, &error);

  cr_assert_not_null (result, "%s", error ? error->message : "");
  blocker->value = pge_result_get_int64 (result, 0, 0);
  g_atomic_int_set (&blocker->done, TRUE);
  return NULL;
}

/* A blocking call never jumps over futures already queued: with the only
 * connection busy it queues behind them, and waits. */
Test (dispatch, queued_futures_keep_their_turn)
{
  g_autoptr(PgeEngine) engine = pge_test_new_engine (1);
  g_autoptr(GError) error = NULL;
  g_autoptr(PgeFuture) held = NULL;
  g_autoptr(PgeFuture) queued = NULL;
  g_autoptr(PgeResult) first = NULL;
  Gate gate = { 0 };
  Blocker blocker = { engine, FALSE, 0 };
  GThread *thread;

  cr_assert (pge_engine_exec_sync (engine, "CREATE TABLE turns (seq serial, who text)", &error));
  held = gate_close (engine, &gate);
  queued = pge_engine_query (engine, "INSERT INTO turns (who) VALUES ('future') RETURNING seq", NULL);
  thread = g_thread_new ("blocker", blocking_query, &blocker);
  g_usleep (100 * 1000);
  cr_assert_not (g_atomic_int_get (&blocker.done), "a blocking call ran while the only connection was held");
  gate_open (&gate);
  g_thread_join (thread);
  first = pge_future_wait (queued, &error);
  cr_assert_not_null (first, "%s", error ? error->message : "");
  cr_assert_lt (pge_result_get_int64 (first, 0, 0), blocker.value);
}

/* Many threads blocking on few connections all get their own answer:
 * those that find a connection free run on it, the others queue (and
 * ride the pipeline). */
typedef struct {
  PgeEngine *engine;
  guint      base;
  gint       wrong;  /* atomic */
} Crowd;

static gpointer
crowd_member (gpointer data)
{
  Crowd *crowd = data;
  guint base = (guint) g_atomic_int_add (&crowd->base, 1000);

  for (guint i = 0; i < 200; i++)
    {
      g_autoptr(PgeParams) params = pge_params_new ();
      g_autoptr(GError) error = NULL;
      g_autoptr(PgeResult) result = NULL;

      pge_params_add_int64 (params, base + i);
      result = pge_engine_query_sync (crowd->engine, "SELECT $1::int8 + 1", params, &error);
      if (result == NULL || pge_result_get_int64 (result, 0, 0) != base + i + 1)
        g_atomic_int_inc (&crowd->wrong);
    }
  return NULL;
}

Test (dispatch, sixteen_blocking_threads_on_four_connections)
{
  Crowd crowd = { test_engine, 0, 0 };
  GThread *threads[16];
  PgeStats stats;

  for (guint i = 0; i < G_N_ELEMENTS (threads); i++)
    threads[i] = g_thread_new ("crowd", crowd_member, &crowd);
  for (guint i = 0; i < G_N_ELEMENTS (threads); i++)
    g_thread_join (threads[i]);
  cr_assert_eq (g_atomic_int_get (&crowd.wrong), 0);
  pge_engine_get_stats (test_engine, &stats);
  cr_assert_geq (stats.n_completed, 16 * 200);
  cr_assert_eq (stats.n_busy, 0);
  cr_assert_eq (stats.queue_length, 0);
}

Test (dispatch, blocking_calls_refuse_bad_input_without_running_anything)
{
  g_autoptr(GError) null_sql = NULL;
  g_autoptr(GError) null_script = NULL;
  g_autoptr(GError) closed = NULL;
  g_autoptr(PgeEngine) engine = pge_test_new_engine (1);
  g_autoptr(PgeResult) a = pge_engine_query_sync (test_engine, NULL, NULL, &null_sql);
  PgeResult *b;

  cr_assert_null (a);
  pge_assert_error (null_sql, PGE_ERROR, PGE_ERROR_INVALID_ARGUMENT);
  cr_assert_not (pge_engine_exec_sync (test_engine, NULL, &null_script));
  pge_assert_error (null_script, PGE_ERROR, PGE_ERROR_INVALID_ARGUMENT);
  pge_engine_close (engine);
  b = pge_engine_query_sync (engine, "SELECT 1", NULL, &closed);
  cr_assert_null (b);
  pge_assert_error (closed, PGE_ERROR, PGE_ERROR_CLOSED);
}

static void
drop_engine (PgeFuture *future, gpointer data)
{
  pge_engine_unref (data);
}

/* A NULL-context callback runs on whichever thread ran the job — maybe
 * the waiting thread itself, while it still holds the connection. Dropping
 * the last engine reference there must not wait for that connection
 * (which is to say, for itself). */
Test (dispatch, dropping_the_engine_in_a_callback_of_a_direct_run_does_not_hang)
{
  for (int i = 0; i < 20; i++)
    {
      PgeEngine *engine = pge_test_new_engine (2);
      g_autoptr(PgeFuture) future = pge_engine_query (engine, "SELECT 1", NULL);
      g_autoptr(GError) error = NULL;
      g_autoptr(PgeResult) result = NULL;

      /* The callback takes over the only reference. */
      pge_future_on_done (future, NULL, drop_engine, engine, NULL);
      result = pge_future_wait (future, &error);
      cr_assert_not_null (result, "%s", error ? error->message : "");
    }
}

typedef struct {
  PgeEngine *engine;
  GMutex     lock;
  GCond      cond;
  gboolean   done;
  GError    *query_error;
  GError    *exec_error;
  GError    *wait_error;
} SelfWait;

static void
block_in_callback (PgeFuture *future, gpointer data)
{
  SelfWait *self = data;
  g_autoptr(PgeResult) a = pge_engine_query_sync (self->engine, "SELECT 1", NULL, &self->query_error);
  g_autoptr(PgeFuture) queued = pge_engine_query (self->engine, "SELECT 2", NULL);
  g_autoptr(PgeResult) b = pge_future_wait (queued, &self->wait_error);

  pge_engine_exec_sync (self->engine, "SELECT 3", &self->exec_error);
  g_mutex_lock (&self->lock);
  self->done = TRUE;
  g_cond_signal (&self->cond);
  g_mutex_unlock (&self->lock);
}

/* On the engine's only worker (a NULL-context callback), a blocking call
 * would wait for itself — forever, with no acquire timeout: each fails at
 * once with PGE_ERROR_WOULD_DEADLOCK instead. */
Test (dispatch, blocking_on_your_own_worker_is_refused_at_once)
{
  g_autoptr(PgeConfig) config = pge_test_config (1);
  g_autoptr(PgeEngine) engine = NULL;
  g_autoptr(PgeFuture) held = NULL;
  g_autoptr(GError) error = NULL;
  SelfWait self = { 0 };
  Gate gate = { 0 };

  pge_config_set_acquire_timeout (config, 0);
  engine = pge_engine_new (config, &error);
  cr_assert_not_null (engine, "%s", error ? error->message : "");
  self.engine = engine;
  held = gate_close (engine, &gate);
  pge_future_on_done (held, NULL, block_in_callback, &self, NULL);
  gate_open (&gate);
  g_mutex_lock (&self.lock);
  while (!self.done)
    g_cond_wait (&self.cond, &self.lock);
  g_mutex_unlock (&self.lock);
  pge_assert_error (self.query_error, PGE_ERROR, PGE_ERROR_WOULD_DEADLOCK);
  pge_assert_error (self.exec_error, PGE_ERROR, PGE_ERROR_WOULD_DEADLOCK);
  pge_assert_error (self.wait_error, PGE_ERROR, PGE_ERROR_WOULD_DEADLOCK);
  g_clear_error (&self.query_error);
  g_clear_error (&self.exec_error);
  g_clear_error (&self.wait_error);
}
