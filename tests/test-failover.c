/* test-failover.c — a failover proven on real replication: a primary with
 * a synchronous standby, writers on a multi-host conninfo, the primary
 * stopped with -m immediate and the standby promoted (tests/failover.c).
 * Every future resolves, no acknowledged commit is lost, writes resume
 * within 2 s of the promotion (the figure), the transaction open
 * across it fails, and the engine's stats show the switch.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "failover.h"
#include "fixture.h"

TestSuite (failover, .init = pge_test_guard_long);

Test (failover, promoted_standby_takes_over_without_losing_commits)
{
  g_autofree char *cluster_tool = g_build_filename (PGE_TEST_SRCDIR, "tools", "pge-cluster", NULL);
  PgeFailoverRun run = { .n_writers = 4, .run_after_ms = 500 };
  gboolean ok = pge_failover_run (cluster_tool, g_get_tmp_dir (), &run);

  cr_assert (ok, "the failover run could not be made: %s", run.error);
  cr_log_info ("failover: %" G_GUINT64_FORMAT " acknowledged, %" G_GUINT64_FORMAT " lost, "
               "outage %" G_GINT64_FORMAT " ms (halt to promoted %" G_GINT64_FORMAT " ms), "
               "recovery %" G_GINT64_FORMAT " ms after promotion",
               run.n_acknowledged, run.n_lost, run.outage_ms, run.switch_ms, run.recovery_ms);
  cr_expect_gt (run.n_acknowledged, 0);
  cr_expect_eq (run.n_lost, 0, "%" G_GUINT64_FORMAT " acknowledged commits are not on the promoted server",
                run.n_lost);
  cr_expect_eq (run.n_async_resolved, run.n_async, "a future never resolved");
  cr_expect_geq (run.recovery_ms, 0, "no write reached the promoted server");
  cr_expect_lt (run.recovery_ms, 2000, "writes resumed %" G_GINT64_FORMAT " ms after the promotion",
                run.recovery_ms);
  cr_expect (run.tx_failed, "the transaction open across the failover went on");
  cr_expect_geq (run.n_server_switches, 1, "no server switch in the stats");
  cr_expect_str_eq (run.server_after, run.new_primary);
  pge_failover_clear (&run);
}
