/* stats.c — PgeStats as a boxed type, so that bindings can hold one
 * (pge_engine_get_stats() fills a caller-allocated struct: in Python,
 * `engine.get_stats()` returns a Pge.Stats).
 *
 * A PgeStats is a plain snapshot: copies share nothing.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "pgengine.h"

/**
 * pge_stats_get_type:
 *
 * Returns: the boxed #GType of #PgeStats
 *
 * Since: 1.0
 */
G_DEFINE_BOXED_TYPE (PgeStats, pge_stats, pge_stats_copy, pge_stats_free)

/**
 * pge_stats_copy:
 * @stats: a #PgeStats
 *
 * Copies a snapshot. Never blocks; thread-safe.
 *
 * Returns: (transfer full): a new #PgeStats, freed with pge_stats_free()
 *
 * Since: 1.0
 */
PgeStats *
pge_stats_copy (const PgeStats *stats)
{
  g_return_val_if_fail (stats != NULL, NULL);
  return g_memdup2 (stats, sizeof *stats);
}

/**
 * pge_stats_free:
 * @stats: (nullable): a #PgeStats from pge_stats_copy(), or %NULL
 *
 * Frees a copy made by pge_stats_copy(). Never blocks.
 *
 * Since: 1.0
 */
void
pge_stats_free (PgeStats *stats)
{
  g_free (stats);
}
