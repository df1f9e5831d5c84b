/* chaos.h — the long mixed run of tests/pge-stress (`pge-stress --chaos`).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

/* Runs everything at once for @seconds against @conninfo while backends
 * are cancelled, terminated and the server restarted, then checks every
 * write against the table. Returns the exit status (0: nothing lost,
 * nothing hung, nothing rolled back present, every answer right); exits
 * by itself with _exit() when a thread hung. */
int pge_stress_chaos (const char *conninfo, guint seconds);
