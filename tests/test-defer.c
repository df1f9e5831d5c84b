/* test-defer.c — a thread that waits for its own futures runs their
 * queries itself: its plain queries wait for it while a connection is
 * free, and its wait runs them there as one pipeline window. Whatever
 * else happens to them (nobody waits, a callback, a cancel, the thread
 * ends, the engine closes, another call, a timed wait) they are answered
 * or failed, never stranded.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <string.h>

#include "fixture.h"

TestSuite (defer, .init = pge_test_engine_up, .fini = pge_test_engine_down);

#define PROBE_SQL "SELECT $1::int AS defer_probe"
#define N_QUERIES 8
#define HANG_US   (10 * G_USEC_PER_SEC)   /* a bound against hangs, not a speed */

static PgeFuture *
probe (PgeEngine *engine, gint32 value)
{
  g_autoptr(PgeParams) params = pge_params_new ();

  pge_params_add_int32 (params, value);
  return pge_engine_query (engine, PROBE_SQL, params);
}

static void
assert_answer (PgeFuture *future, gint32 value)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PgeResult) result = pge_future_wait (future, &error);

  cr_assert_not_null (result, "%s", error ? error->message : "");
  cr_assert_eq (pge_result_get_int64 (result, 0, 0), value);
}

/* The calling thread becomes one that waits for its futures, and
 * PROBE_SQL is known to every connection of @engine's @n_workers to be
 * fast (so that it may join a pipeline). */
static void
become_a_waiter (PgeEngine *engine, guint n_workers)
{
  for (guint i = 0; i < 4 * n_workers; i++)
    {
      g_autoptr(PgeFuture) future = probe (engine, (gint32) i);

      assert_answer (future, (gint32) i);
    }
}

static PgeEngine *
engine_new (guint n_workers, gboolean logged)
{
  g_autoptr(PgeConfig) config = pge_test_config (n_workers);
  g_autoptr(GError) error = NULL;
  PgeEngine *engine;

  if (logged)
    {
      pge_test_probe_start ("defer_probe");
      pge_config_set_log_queries (config, TRUE);
    }
  engine = pge_engine_new (config, &error);
  cr_assert_not_null (engine, "%s", error ? error->message : "");
  become_a_waiter (engine, n_workers);
  return engine;
}

static void
assert_nothing_queued (PgeEngine *engine)
{
  PgeStats stats;

  pge_engine_get_stats (engine, &stats);
  cr_assert_eq (stats.queue_length, 0, "%u queued once every answer is in", stats.queue_length);
}

/* With a connection free, the futures wait for their thread, and its wait
 * runs them all on it. The janitor hands them to a worker if the wait
 * comes later than a millisecond, so a slow round may not show it: one
 * round in 50 must. */
Test (defer, a_waiting_thread_runs_its_own_queries_itself)
{
  g_autoptr(PgeEngine) engine = engine_new (2, TRUE);
  guint rounds_here = 0;

  for (guint round = 0; round < 50 && rounds_here == 0; round++)
    {
      PgeFuture *futures[N_QUERIES];
      guint here, elsewhere;

      pge_test_probe_counts (&here, &elsewhere, TRUE);
      for (guint i = 0; i < N_QUERIES; i++)
        futures[i] = probe (engine, (gint32) (round * 100 + i));
      for (guint i = 0; i < N_QUERIES; i++)
        {
          assert_answer (futures[i], (gint32) (round * 100 + i));
          pge_future_unref (futures[i]);
        }
      pge_test_probe_counts (&here, &elsewhere, FALSE);
      if (here == N_QUERIES && elsewhere == 0)
        rounds_here++;
    }
  cr_assert_gt (rounds_here, 0, "in no round of 50 did the waiting thread run its %d queries",
                N_QUERIES);
  assert_nothing_queued (engine);
}

/* Nobody waits: the janitor hands them to the workers. */
Test (defer, queries_nobody_waits_for_are_answered)
{
  g_autoptr(PgeEngine) engine = engine_new (2, FALSE);
  PgeFuture *futures[N_QUERIES];
  gint64 end = g_get_monotonic_time () + HANG_US;

  for (guint i = 0; i < N_QUERIES; i++)
    futures[i] = probe (engine, (gint32) i);
  for (guint i = 0; i < N_QUERIES; i++)
    {
      while (!pge_future_is_done (futures[i]) && g_get_monotonic_time () < end)
        g_usleep (1000);
      cr_assert (pge_future_is_done (futures[i]), "query %u was never answered", i);
      assert_answer (futures[i], (gint32) i);
      pge_future_unref (futures[i]);
    }
  assert_nothing_queued (engine);
}

/* A thread that keeps deferring: windows of N_QUERIES futures, each
 * waited for, until told to stop. Counts wrong answers; asserts run on
 * the test's own thread. */
typedef struct {
  PgeEngine *engine;
  gint       stop;     /* atomic */
  gint       rounds;   /* atomic */
  guint      n_bad;
} Deferrer;

static gboolean
answer_is (PgeFuture *future, gint32 value)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PgeResult) result = pge_future_wait (future, &error);

  return result != NULL && pge_result_get_int64 (result, 0, 0) == value;
}

static gpointer
keep_deferring (gpointer data)
{
  Deferrer *deferrer = data;

  while (!g_atomic_int_get (&deferrer->stop))
    {
      PgeFuture *futures[N_QUERIES];

      for (guint i = 0; i < N_QUERIES; i++)
        futures[i] = probe (deferrer->engine, (gint32) i);
      for (guint i = 0; i < N_QUERIES; i++)
        {
          deferrer->n_bad += !answer_is (futures[i], (gint32) i);
          pge_future_unref (futures[i]);
        }
      g_atomic_int_inc (&deferrer->rounds);
    }
  return NULL;
}

/* While another thread keeps deferring, the janitor looks at the
 * deferred queues on a tick and threads that defer no longer wake it:
 * queries nobody waits for are still handed to the workers. */
Test (defer, queries_nobody_waits_for_are_answered_while_others_defer)
{
  g_autoptr(PgeEngine) engine = engine_new (2, FALSE);
  Deferrer deferrer = { .engine = engine };
  PgeFuture *futures[N_QUERIES];
  gint64 end = g_get_monotonic_time () + HANG_US;
  GThread *thread = g_thread_new ("deferrer", keep_deferring, &deferrer);

  /* It is deferring before this thread's queries come. */
  while (g_atomic_int_get (&deferrer.rounds) < 10 && g_get_monotonic_time () < end)
    g_usleep (1000);
  for (guint round = 0; round < 20; round++)
    {
      for (guint i = 0; i < N_QUERIES; i++)
        futures[i] = probe (engine, (gint32) (round * 100 + i));
      for (guint i = 0; i < N_QUERIES; i++)
        {
          while (!pge_future_is_done (futures[i]) && g_get_monotonic_time () < end)
            g_usleep (200);
          cr_assert (pge_future_is_done (futures[i]), "round %u: query %u was never answered",
                     round, i);
          assert_answer (futures[i], (gint32) (round * 100 + i));
          pge_future_unref (futures[i]);
        }
    }
  g_atomic_int_set (&deferrer.stop, TRUE);
  g_thread_join (thread);
  cr_assert_gt (g_atomic_int_get (&deferrer.rounds), 10);
  cr_assert_eq (deferrer.n_bad, 0, "%u wrong answers on the deferring thread", deferrer.n_bad);
  assert_nothing_queued (engine);
}

typedef struct {
  gint   n_done;   /* atomic */
  gint64 sum;      /* atomic: the values seen */
} Tally;

static void
tally_answer (PgeFuture *future, gpointer user_data)
{
  Tally *tally = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(PgeResult) result = pge_future_wait (future, &error);

  if (result != NULL)
    __atomic_add_fetch (&tally->sum, pge_result_get_int64 (result, 0, 0), __ATOMIC_SEQ_CST);
  g_atomic_int_inc (&tally->n_done);
}

/* A callback wants the answer where no wait will run it: the futures go
 * to the workers at once. */
Test (defer, callbacks_on_deferred_queries_are_called)
{
  g_autoptr(PgeEngine) engine = engine_new (2, FALSE);
  Tally tally = { 0, 0 };
  gint64 end = g_get_monotonic_time () + HANG_US;
  gint64 expected = 0;

  for (guint i = 0; i < N_QUERIES; i++)
    {
      g_autoptr(PgeFuture) future = probe (engine, (gint32) (i + 1));

      expected += i + 1;
      pge_future_on_done (future, NULL, tally_answer, &tally, NULL);
    }
  while (g_atomic_int_get (&tally.n_done) < N_QUERIES && g_get_monotonic_time () < end)
    g_usleep (1000);
  cr_assert_eq (g_atomic_int_get (&tally.n_done), N_QUERIES);
  cr_assert_eq (__atomic_load_n (&tally.sum, __ATOMIC_SEQ_CST), expected);
  assert_nothing_queued (engine);
}

/* A cancelled one fails (unless it already ran); the others are
 * answered, and none is left counted as queued. */
Test (defer, cancelling_a_deferred_query_touches_no_other)
{
  g_autoptr(PgeEngine) engine = engine_new (2, FALSE);
  PgeFuture *futures[N_QUERIES];

  for (guint i = 0; i < N_QUERIES; i++)
    futures[i] = probe (engine, (gint32) i);
  pge_future_cancel (futures[3]);
  pge_future_cancel (futures[N_QUERIES - 1]);
  for (guint i = 0; i < N_QUERIES; i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(PgeResult) result = pge_future_wait (futures[i], &error);

      if (i == 3 || i == N_QUERIES - 1)
        {
          if (result == NULL)
            pge_assert_error (error, PGE_ERROR, PGE_ERROR_CANCELLED);
          else
            cr_assert_eq (pge_result_get_int64 (result, 0, 0), i);
        }
      else
        {
          cr_assert_not_null (result, "%s", error ? error->message : "");
          cr_assert_eq (pge_result_get_int64 (result, 0, 0), i);
        }
      pge_future_unref (futures[i]);
    }
  assert_nothing_queued (engine);
}

typedef struct {
  PgeEngine *engine;
  PgeFuture *futures[N_QUERIES];
} Leaver;

static gpointer
submit_and_leave (gpointer data)
{
  Leaver *leaver = data;

  become_a_waiter (leaver->engine, 2);
  for (guint i = 0; i < N_QUERIES; i++)
    leaver->futures[i] = probe (leaver->engine, (gint32) i);
  return NULL;   /* without a wait: its deferred queries outlive it */
}

/* The thread that deferred them ends without a wait; another thread
 * waits for them. */
Test (defer, deferred_queries_outlive_their_thread)
{
  g_autoptr(PgeEngine) engine = engine_new (2, FALSE);
  Leaver leaver = { engine, { NULL } };

  g_thread_join (g_thread_new ("leaver", submit_and_leave, &leaver));
  for (guint i = 0; i < N_QUERIES; i++)
    {
      assert_answer (leaver.futures[i], (gint32) i);
      pge_future_unref (leaver.futures[i]);
    }
  assert_nothing_queued (engine);
}

/* Closing the engine resolves them: answered if a worker got them first,
 * else failed with PGE_ERROR_CLOSED. */
Test (defer, closing_the_engine_resolves_deferred_queries)
{
  PgeEngine *engine = engine_new (2, FALSE);
  PgeFuture *futures[N_QUERIES];

  for (guint i = 0; i < N_QUERIES; i++)
    futures[i] = probe (engine, (gint32) i);
  pge_engine_unref (engine);
  for (guint i = 0; i < N_QUERIES; i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(PgeResult) result = NULL;

      cr_assert (pge_future_wait_timeout (futures[i], HANG_US / 1000), "query %u hangs after close", i);
      result = pge_future_wait (futures[i], &error);
      if (result == NULL)
        pge_assert_error (error, PGE_ERROR, PGE_ERROR_CLOSED);
      else
        cr_assert_eq (pge_result_get_int64 (result, 0, 0), i);
      pge_future_unref (futures[i]);
    }
}

/* Makes the table defer_order and submits N_QUERIES inserts into it as
 * futures, each answering its row's place in the order of inserts. */
static void
insert_in_order (PgeEngine *engine, PgeFuture **futures)
{
  g_autoptr(GError) error = NULL;

  cr_assert (pge_engine_exec_sync (engine, "CREATE TABLE defer_order (seq serial, who text)", &error),
             "%s", error->message);
  for (guint i = 0; i < N_QUERIES; i++)
    futures[i] = pge_engine_query (engine, "INSERT INTO defer_order (who) VALUES ('future') RETURNING seq",
                                   NULL);
}

/* Asserts that every one of @futures (unreffed here) ran before @last. */
static void
assert_all_before (PgeFuture **futures, PgeResult *last)
{
  for (guint i = 0; i < N_QUERIES; i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(PgeResult) result = pge_future_wait (futures[i], &error);

      cr_assert_not_null (result, "%s", error ? error->message : "");
      cr_assert_lt (pge_result_get_int64 (result, 0, 0), pge_result_get_int64 (last, 0, 0),
                    "the later call ran before future %u", i);
      pge_future_unref (futures[i]);
    }
}

/* A blocking call from the same thread queues behind the queries it
 * deferred before (FIFO): on the only connection they run first. */
Test (defer, a_blocking_call_keeps_the_order_of_earlier_futures)
{
  g_autoptr(PgeEngine) engine = engine_new (1, FALSE);
  g_autoptr(GError) error = NULL;
  g_autoptr(PgeResult) last = NULL;
  PgeFuture *futures[N_QUERIES];

  insert_in_order (engine, futures);
  last = pge_engine_query_sync (engine, "INSERT INTO defer_order (who) VALUES ('sync') RETURNING seq",
                                NULL, &error);
  cr_assert_not_null (last, "%s", error ? error->message : "");
  assert_all_before (futures, last);
}

/* A later future that may not wait for its thread (here: its own acquire
 * timeout) goes to the pool queue behind the thread's deferred ones,
 * not ahead of them to the idle worker. */
Test (defer, a_future_that_cannot_wait_keeps_the_order_of_earlier_ones)
{
  g_autoptr(PgeEngine) engine = engine_new (1, FALSE);
  g_autoptr(PgeCallOptions) options = pge_call_options_new ();
  g_autoptr(PgeFuture) later = NULL;
  g_autoptr(PgeResult) last = NULL;
  g_autoptr(GError) error = NULL;
  PgeFuture *futures[N_QUERIES];

  insert_in_order (engine, futures);
  pge_call_options_set_acquire_timeout (options, 10000);
  later = pge_engine_query_with_options (engine, "INSERT INTO defer_order (who) VALUES ('later') RETURNING seq",
                                         NULL, options);
  /* Time for an idle worker to take it, were it ahead of the others. */
  g_usleep (50 * 1000);
  last = pge_future_wait (later, &error);
  cr_assert_not_null (last, "%s", error ? error->message : "");
  assert_all_before (futures, last);
}

/* Holds an advisory lock on a connection of its own until released, by
 * the test or, if the test hangs, by the watchdog after HANG_US. */
typedef struct {
  GMutex   lock;
  GCond    cond;
  PGconn  *conn;
  gboolean released;
  gboolean by_watchdog;
} LockHolder;

static void
lock_holder_release_locked (LockHolder *holder)
{
  PQclear (PQexec (holder->conn, "SELECT pg_advisory_unlock (4242)"));
  holder->released = TRUE;
  g_cond_signal (&holder->cond);
}

static gpointer
lock_watchdog (gpointer data)
{
  LockHolder *holder = data;
  gint64 until = g_get_monotonic_time () + HANG_US;

  g_mutex_lock (&holder->lock);
  while (!holder->released && g_cond_wait_until (&holder->cond, &holder->lock, until))
    ;
  if (!holder->released)
    {
      holder->by_watchdog = TRUE;
      lock_holder_release_locked (holder);
    }
  g_mutex_unlock (&holder->lock);
  return NULL;
}

#define LOCK_SQL "SELECT pg_advisory_xact_lock ($1::bigint)"

static PgeFuture *
lock_query (PgeEngine *engine, gint64 key)
{
  g_autoptr(PgeParams) params = pge_params_new ();

  pge_params_add_int64 (params, key);
  return pge_engine_query (engine, LOCK_SQL, params);
}

/* A wait returns once its own answer is in. A later query of the same
 * thread, sent in the same window, that waits for something the thread
 * will do only after its wait (here: the test releases a lock) goes on
 * on the slot's worker instead of holding the wait. */
Test (defer, a_wait_does_not_wait_for_later_queries_of_its_thread)
{
  g_autoptr(PgeEngine) engine = engine_new (1, FALSE);
  g_autoptr(PgeFuture) first = NULL;
  g_autoptr(PgeFuture) locked = NULL;
  g_autoptr(PgeResult) result = NULL;
  g_autoptr(GError) error = NULL;
  LockHolder holder = { .conn = PQconnectdb (pge_test_conninfo ()) };
  GThread *watchdog;

  cr_assert_eq (PQstatus (holder.conn), CONNECTION_OK, "%s", PQerrorMessage (holder.conn));
  /* The lock query is known to be fast, so it joins the window. */
  for (gint64 key = 1; key <= 4; key++)
    {
      g_autoptr(PgeFuture) warm = lock_query (engine, key);
      g_autoptr(PgeResult) warmed = pge_future_wait (warm, &error);

      cr_assert_not_null (warmed, "%s", error ? error->message : "");
    }
  PQclear (PQexec (holder.conn, "SELECT pg_advisory_lock (4242)"));
  watchdog = g_thread_new ("lock-watchdog", lock_watchdog, &holder);
  first = probe (engine, 1);
  locked = lock_query (engine, 4242);
  assert_answer (first, 1);
  g_mutex_lock (&holder.lock);
  cr_assert_not (holder.by_watchdog, "the wait for the first query waited for the locked one");
  lock_holder_release_locked (&holder);
  g_mutex_unlock (&holder.lock);
  g_thread_join (watchdog);
  result = pge_future_wait (locked, &error);
  cr_assert_not_null (result, "%s", error ? error->message : "");
  PQfinish (holder.conn);
}

/* A timed wait does not run them here, but hands them on at once. */
Test (defer, a_timed_wait_on_a_deferred_query_is_answered)
{
  g_autoptr(PgeEngine) engine = engine_new (2, FALSE);
  g_autoptr(PgeFuture) future = probe (engine, 42);

  cr_assert (pge_future_wait_timeout (future, HANG_US / 1000));
  assert_answer (future, 42);
  assert_nothing_queued (engine);
}

/* An engine of @n_workers with @max_queue, on which the calling thread
 * waits for its futures. */
static PgeEngine *
waiter_engine_with_max_queue (guint n_workers, guint max_queue)
{
  g_autoptr(PgeConfig) config = pge_test_config (n_workers);
  g_autoptr(GError) error = NULL;
  PgeEngine *engine;

  pge_config_set_max_queue (config, max_queue);
  engine = pge_engine_new (config, &error);
  cr_assert_not_null (engine, "%s", error ? error->message : "");
  become_a_waiter (engine, n_workers);
  return engine;
}

/* A thread keeps no more queries for its wait than max_queue: past it,
 * what it kept goes to the pool queue and the next one is checked
 * there, so no more than max_queue queries wait, queued or deferred (the
 * stats' queue length, which counts both, says so right after they are
 * made), and one past it fails with PGE_ERROR_QUEUE_FULL as a queued one
 * would. The janitor hands deferred queries to the workers after a
 * millisecond, so a slow round may not show the refusal: one in 20 must. */
Test (defer, deferred_queries_count_against_max_queue)
{
  g_autoptr(PgeEngine) engine = waiter_engine_with_max_queue (2, 3);
  g_autoptr(GError) error = NULL;
  guint rounds_full = 0;

  for (guint round = 0; round < 20; round++)
    {
      PgeFuture *futures[N_QUERIES];
      PgeStats stats;
      guint n_full = 0;

      for (guint i = 0; i < N_QUERIES; i++)
        futures[i] = probe (engine, (gint32) (round * 100 + i));
      pge_engine_get_stats (engine, &stats);
      cr_assert_leq (stats.queue_length, 3, "%u queries wait, max_queue is 3", stats.queue_length);
      for (guint i = 0; i < N_QUERIES; i++)
        {
          g_autoptr(PgeResult) result = pge_future_wait (futures[i], &error);

          if (result != NULL)
            cr_assert_eq (pge_result_get_int64 (result, 0, 0), round * 100 + i);
          else
            {
              pge_assert_error (error, PGE_ERROR, PGE_ERROR_QUEUE_FULL);
              g_clear_error (&error);
              n_full++;
            }
          pge_future_unref (futures[i]);
        }
      if (n_full > 0)
        rounds_full++;
    }
  cr_assert_gt (rounds_full, 0, "in no round of 20 was a query past max_queue refused");
  assert_nothing_queued (engine);
}

static gpointer
query_elsewhere (gpointer data)
{
  g_autoptr(PgeFuture) future = pge_engine_query (data, "SELECT 2", NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(PgeResult) result = pge_future_wait (future, &error);

  if (result == NULL)
    pge_assert_error (error, PGE_ERROR, PGE_ERROR_QUEUE_FULL);
  return GINT_TO_POINTER (result == NULL);
}

/* What a thread keeps for its wait has a free connection waiting for it:
 * it must not make max_queue refuse another thread's query while every
 * connection is idle. (A first version counted it, and refused the other
 * thread every time.) The janitor may move the kept query to the pool
 * queue a moment before the other thread submits, which may then be
 * refused as any burst may: most rounds must pass. */
Test (defer, deferred_queries_do_not_refuse_other_threads)
{
  g_autoptr(PgeEngine) engine = waiter_engine_with_max_queue (4, 1);
  guint refused = 0;

  for (guint round = 0; round < 50; round++)
    {
      g_autoptr(PgeFuture) mine = probe (engine, (gint32) round);

      refused += GPOINTER_TO_UINT (g_thread_join (g_thread_new ("elsewhere", query_elsewhere, engine)));
      assert_answer (mine, (gint32) round);
    }
  cr_assert_lt (refused, 25, "another thread was refused in %u rounds of 50", refused);
}
