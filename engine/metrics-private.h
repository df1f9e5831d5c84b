/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "pgengine.h"
#include "job-private.h"

G_BEGIN_DECLS

/* Upper bounds of the histogram buckets, in µs; the last bucket is +Inf. */
#define PGE_METRICS_N_BUCKETS 17

/* One timer: how many, their sum, and a histogram (counts per bucket, not
 * cumulative). In a slot's cells `count` stays 0: a snapshot takes it from
 * the buckets it read (metrics.c). */
typedef struct {
  guint64 count;
  guint64 sum_us;
  guint64 buckets[PGE_METRICS_N_BUCKETS];
} PgeTimerCells;

/* The counters of one slot (or their sum over a node). Each slot's cells
 * have one writer at a time, the slot's holder, which adds with a relaxed
 * load and store (no locked instruction on the hot path); readers on
 * other threads load each cell relaxed and sum the slots. */
typedef struct {
  PgeTimerCells timers[3];      /* by PgeTimer */
  guint64       n_connects;
  guint64       n_connect_errors;
  guint64       n_pipelined;    /* queries sent inside a pipeline of 2 or more */
  guint64       n_completed;    /* jobs the holder resolved (the pool counts */
  guint64       n_failed;       /* the others: refused, expired, closed) */
} PgeMetricsCells;

/* Every figure of a node (or of all), as PgeMetrics shows them: indexed by
 * PgeCounter and PgeTimer. Also a pool's baseline, what
 * pge_engine_reset_metrics() subtracts. */
#define PGE_METRICS_N_COUNTERS (PGE_COUNTER_CACHE_MISSES + 1)
typedef struct {
  guint64       counters[PGE_METRICS_N_COUNTERS];
  PgeTimerCells timers[3];
} PgeMetricsFigures;

/* For the holder of the slot that owns @cells. */
G_GNUC_INTERNAL void pge_metrics_cells_time  (PgeMetricsCells *cells,
                                              PgeTimer         timer,
                                              gint64           duration_us);
G_GNUC_INTERNAL void pge_metrics_cells_count (guint64 *cell, guint64 n);
/* The upper bound of histogram bucket @bucket in µs; -1 for the last
 * (unbounded) one. */
G_GNUC_INTERNAL gint64 pge_metrics_bucket_bound_us (guint bucket);

/* Under the pool's queue_lock, for whoever takes @slot out of its pool's
 * slot list for good: keeps its counts in the pool's figures. */
G_GNUC_INTERNAL void pge_metrics_retire_slot_locked (PgePool *pool, PgeSlot *slot);

G_END_DECLS
