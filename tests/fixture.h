/* fixture.h — the shared test fixture: a real throwaway PostgreSQL.
 *
 * The cluster starts once per run (tools/pge-cluster), before any test,
 * unless PGE_TEST_CONNINFO names one. Each test gets a fresh engine whose
 * connections use a schema of their own (search_path), dropped afterwards,
 * so tests that run in parallel never see each other's tables.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <criterion/criterion.h>
#include <pgengine.h>

/* The engine of the current test (pge_test_engine_up), or NULL. */
extern PgeEngine *test_engine;

/* Criterion .init/.fini: a 4-worker engine on a fresh schema. */
void        pge_test_engine_up   (void);
void        pge_test_guard_long  (void);
void        pge_test_engine_down (void);

/* The cluster's conninfo, and the same with this test's search_path. */
const char *pge_test_conninfo        (void);
const char *pge_test_schema_conninfo (void);
const char *pge_test_schema          (void);

/* The conninfo of a PgBouncer (tools/pge-pgbouncer: transaction pooling,
 * pool size 2) in front of the run's server, started by the first test
 * that asks and stopped after the run; NULL when PgBouncer is not
 * installed. PGE_TEST_PGBOUNCER_CONNINFO names an outside one instead.
 * PgBouncer drops `options`, so this conninfo has no test schema. */
const char *pge_test_pgbouncer_conninfo (void);

/* The conninfo of an asynchronous streaming standby of the run's cluster
 * (tools/pge-cluster standby), started by the first test that asks and
 * stopped after the run; NULL when PGE_TEST_CONNINFO names an outside
 * server. Shared by the tests of a run: stop or pause only a standby of
 * your own (pge_test_cluster_tool). */
const char *pge_test_replica_conninfo (void);
/* The same with this test's search_path; the caller frees it. */
char       *pge_test_replica_schema_conninfo (void);
/* Runs tools/pge-cluster COMMAND DIR [A3 [A4]]; its stdout (the caller
 * frees it), or NULL when it failed. */
char       *pge_test_cluster_tool (const char *command, const char *dir, const char *a3, const char *a4);
/* Blocks until the standby at @conninfo has replayed everything the
 * run's cluster wrote so far (at most 30 s, then the test fails). */
void        pge_test_wait_replayed (const char *conninfo);

/* A config on this test's schema, with test-friendly defaults (acquire
 * timeout 10 s). The caller owns it. */
PgeConfig  *pge_test_config          (guint n_workers);
/* An extra engine on this test's schema; the caller owns it. */
PgeEngine  *pge_test_new_engine      (guint n_workers);

/* Runs SQL on a separate admin connection (not through pgengine), for
 * faults and checks; asserts success; returns the first cell or NULL. */
char       *pge_test_admin_query     (const char *sql);
/* Terminates backend @pid from an admin connection and waits (bounded:
 * 5 s, else the test fails) until it is gone, so that the next statement
 * meets the dead connection instead of racing the signal. */
void        pge_test_terminate_backend (gint64 pid);
/* Restarts the server (only for the cluster this run started itself);
 * returns FALSE when PGE_TEST_CONNINFO names an outside server. */
gboolean    pge_test_restart_server  (void);
/* The PID of the cluster's postmaster (only for the cluster this run
 * started itself), or 0. */
int         pge_test_postmaster_pid  (void);

/* Counts, by the thread that ran it, each logged statement whose text
 * contains @marker (the query log is written by whoever runs the
 * statement); "here" is the thread that calls this. Installs a log writer
 * for the process: Criterion runs each test in a process of its own. The
 * engine's config must log queries (pge_config_set_log_queries()). */
void        pge_test_probe_start  (const char *marker);
/* The counts so far; with @reset, they start again from 0. */
void        pge_test_probe_counts (guint *here, guint *elsewhere, gboolean reset);

/* A worker function that holds one worker until released, so a test can
 * fill a queue or pin the only worker without sleeping. */
typedef struct {
  GMutex   lock;
  GCond    cond;
  gboolean started;
  gboolean released;
} Gate;

/* The worker function itself (a NULL gate is a programming error). */
PGresult   *gate_hold         (PGconn *conn, gpointer data, GError **error);
/* Blocks until a worker runs gate_hold() on @gate. */
void        gate_wait_started (Gate *gate);
/* Occupies one worker of @engine; returns once it is held. */
PgeFuture  *gate_close (PgeEngine *engine, Gate *gate);
/* Lets the held worker go. */
void        gate_open  (Gate *gate);

/* Asserts that @error is set, in @domain with @code. */
#define pge_assert_error(error, domain_, code_)                                  \
  do {                                                                           \
    cr_assert_not_null ((error), "expected an error");                           \
    cr_assert_eq ((error)->domain, (domain_), "wrong domain: %s",                 \
                  g_quark_to_string ((error)->domain));                          \
    cr_assert_eq ((error)->code, (code_), "wrong code %d (want %d): %s",          \
                  (error)->code, (int) (code_), (error)->message);               \
  } while (0)
