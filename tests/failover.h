/* failover.h — one failover, measured: a primary with a synchronous
 * standby (tools/pge-cluster), writer threads on a multi-host conninfo
 * (target_session_attrs=read-write), the primary stopped with
 * -m immediate, the standby promoted. Used by tests/test-failover.c and
 * `pge-stress --failover`.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <pgengine.h>

typedef struct {
  guint    n_writers;
  guint    run_after_ms;       /* writes after the switch before stopping */
  /* Out. */
  guint64  n_acknowledged;     /* inserts that returned success */
  guint64  n_failed;           /* inserts that returned an error */
  guint64  n_lost;             /* acknowledged, absent on the promoted server */
  guint64  n_async;            /* futures submitted during the outage */
  guint64  n_async_resolved;   /* ... and resolved */
  gint64   outage_ms;          /* last success on the old primary to the first on the new */
  gint64   recovery_ms;        /* promotion done to the first success on the new */
  gint64   switch_ms;          /* the operator's part: halt done to promotion done */
  gboolean tx_failed;          /* the transaction open across it failed */
  guint64  n_server_switches;  /* pge_engine_get_node_stats() of "primary" */
  char     server_after[256];  /* its server afterwards */
  char     new_primary[256];   /* "127.0.0.1:PORT" of the promoted standby */
  char    *error;              /* set when the run itself could not be made */
} PgeFailoverRun;

/* Runs one failover with clusters of its own (under @tmpdir), then stops
 * them. FALSE with run->error set when the clusters could not be made. */
gboolean pge_failover_run   (const char *cluster_tool, const char *tmpdir, PgeFailoverRun *run);
void     pge_failover_clear (PgeFailoverRun *run);
/* Runs @sql on a connection of its own to @conninfo (patroni.c too). */
gboolean pge_failover_admin_exec (const char *conninfo, const char *sql, GError **error);
