/* patroni.h — failover under a real HA manager: two Patroni members with
 * synchronous_mode and one etcd (tools/pge-patroni), one engine serving
 * writers, readers and futures through a SIGKILL of the leader's
 * postmaster and a planned `patronictl switchover`. Used by
 * `pge-stress --patroni`.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <pgengine.h>

/* Runs both failovers on a cluster of its own (under @tmpdir), prints one
 * line per failover with its outage figures, then "N passed, N failed";
 * returns the exit status. Where Patroni is not installed it prints why
 * and "0 passed, 0 failed", and returns 0. */
int pge_patroni_run (const char *patroni_tool, const char *tmpdir);
