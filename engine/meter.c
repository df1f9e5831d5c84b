/* meter.c — the counting half of the metrics: the cells each slot's
 * holder writes, and the histogram's bucket bounds.
 *
 * It sits below the scheduler (dispatch.c counts into it; statements.c
 * keeps its own cache hit and miss counters, which metrics.c reads
 * through connection.c) while metrics.c, which sums and formats the cells for
 * pge_engine_get_metrics(), sits above the engine: two files, so that
 * neither calls up.
 *
 * Threads: a cell has one writer at a time, the holder of the slot that
 * owns it (pool.c's rule), so a count is a relaxed load and store, no
 * locked instruction; readers load it relaxed from any thread.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "metrics-private.h"

/* Bucket upper bounds in µs, as Prometheus' defaults but finer at the low
 * end, where a pool's acquire times live. */
static const gint64 bucket_bounds_us[PGE_METRICS_N_BUCKETS - 1] = {
  50, 100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000,
  250000, 500000, 1000000, 2500000, 10000000,
};

/* ------------------------------------------------------------- counting */

static inline void
cell_add (guint64 *cell, guint64 n)
{
  __atomic_store_n (cell, __atomic_load_n (cell, __ATOMIC_RELAXED) + n, __ATOMIC_RELAXED);
}

static guint
bucket_of (gint64 duration_us)
{
  guint i = 0;

  while (i < G_N_ELEMENTS (bucket_bounds_us) && duration_us > bucket_bounds_us[i])
    i++;
  return i;
}

/* For the holder of the slot that owns @cells. */
void
pge_metrics_cells_time (PgeMetricsCells *cells, PgeTimer timer, gint64 duration_us)
{
  PgeTimerCells *t = &cells->timers[timer];

  duration_us = MAX (duration_us, 0);
  /* No count: readers take it from the buckets (metrics.c). */
  cell_add (&t->sum_us, (guint64) duration_us);
  cell_add (&t->buckets[bucket_of (duration_us)], 1);
}

void
pge_metrics_cells_count (guint64 *cell, guint64 n)
{
  cell_add (cell, n);
}

gint64
pge_metrics_bucket_bound_us (guint bucket)
{
  return bucket < G_N_ELEMENTS (bucket_bounds_us) ? bucket_bounds_us[bucket] : -1;
}
