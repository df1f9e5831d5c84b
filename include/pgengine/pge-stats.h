/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined(PGE_INSIDE_PGENGINE_H) && !defined(PGE_COMPILATION)
#error "Only <pgengine.h> can be included directly."
#endif

#include <pgengine/pge-types.h>
#include <pgengine/pge-engine.h>

G_BEGIN_DECLS

#define PGE_TYPE_STATS (pge_stats_get_type ())

PGE_AVAILABLE_IN_1_0 GType     pge_stats_get_type (void) G_GNUC_CONST;
PGE_AVAILABLE_IN_1_0 PgeStats *pge_stats_copy     (const PgeStats *stats);
PGE_AVAILABLE_IN_1_0 void      pge_stats_free     (PgeStats *stats);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PgeStats, pge_stats_free)

/**
 * PgeTimer:
 * @PGE_TIMER_ACQUIRE: how long a call waited for a connection: from the
 *   call to the moment its statement (or its transaction's `BEGIN`, its
 *   session's pin) started on one. A call that never got one (acquire
 *   timeout, cancelled while queued) is not timed: it counts as failed
 * @PGE_TIMER_RUN: how long a job ran on its connection
 * @PGE_TIMER_CONNECT: how long a connection attempt took, failed or not
 *
 * The timed figures of a #PgeMetrics.
 *
 * Since: 1.2
 */
typedef enum {
  PGE_TIMER_ACQUIRE,
  PGE_TIMER_RUN,
  PGE_TIMER_CONNECT
} PgeTimer;

/**
 * PgeCounter:
 * @PGE_COUNTER_WORKERS: connections (worker slots), now
 * @PGE_COUNTER_BUSY: connections running a job, now
 * @PGE_COUNTER_QUEUED: calls waiting for a connection, now
 * @PGE_COUNTER_COMPLETED: jobs finished without error
 * @PGE_COUNTER_FAILED: jobs finished with an error
 * @PGE_COUNTER_CONNECTS: connection attempts of the workers that
 *   succeeded (the LISTEN connection and the replica checker's are not
 *   counted)
 * @PGE_COUNTER_CONNECT_ERRORS: connection attempts of the workers that
 *   failed
 * @PGE_COUNTER_PIPELINED: statements sent in a pipeline with others
 *   (auto-pipelining)
 * @PGE_COUNTER_CACHE_HITS: statements run from the statement cache
 *   (already prepared on their connection)
 * @PGE_COUNTER_CACHE_MISSES: statements prepared into the cache
 *
 * The counted figures of a #PgeMetrics. The first three are gauges (a
 * value now); the others only grow, until pge_engine_reset_metrics().
 *
 * Since: 1.2
 */
typedef enum {
  PGE_COUNTER_WORKERS,
  PGE_COUNTER_BUSY,
  PGE_COUNTER_QUEUED,
  PGE_COUNTER_COMPLETED,
  PGE_COUNTER_FAILED,
  PGE_COUNTER_CONNECTS,
  PGE_COUNTER_CONNECT_ERRORS,
  PGE_COUNTER_PIPELINED,
  PGE_COUNTER_CACHE_HITS,
  PGE_COUNTER_CACHE_MISSES
} PgeCounter;

typedef struct _PgeMetrics PgeMetrics;

#define PGE_TYPE_METRICS (pge_metrics_get_type ())

PGE_AVAILABLE_IN_1_2 GType       pge_metrics_get_type   (void) G_GNUC_CONST;
PGE_AVAILABLE_IN_1_2 PgeMetrics *pge_engine_get_metrics (PgeEngine  *engine,
                                                         const char *node,
                                                         GError    **error);
PGE_AVAILABLE_IN_1_2 void        pge_engine_reset_metrics (PgeEngine *engine);
PGE_AVAILABLE_IN_1_2 char       *pge_engine_format_metrics (PgeEngine *engine);
PGE_AVAILABLE_IN_1_2 PgeMetrics *pge_metrics_ref        (PgeMetrics *metrics);
PGE_AVAILABLE_IN_1_2 void        pge_metrics_unref      (PgeMetrics *metrics);
PGE_AVAILABLE_IN_1_2 const char *pge_metrics_get_node   (PgeMetrics *metrics);
PGE_AVAILABLE_IN_1_2 guint64     pge_metrics_get_counter (PgeMetrics *metrics, PgeCounter counter);
PGE_AVAILABLE_IN_1_2 guint64     pge_metrics_get_timer_count  (PgeMetrics *metrics, PgeTimer timer);
PGE_AVAILABLE_IN_1_2 guint64     pge_metrics_get_timer_sum_us (PgeMetrics *metrics, PgeTimer timer);
PGE_AVAILABLE_IN_1_2 guint64     pge_metrics_get_timer_bucket (PgeMetrics *metrics,
                                                               PgeTimer    timer,
                                                               guint       bucket);
PGE_AVAILABLE_IN_1_2 gint64      pge_metrics_get_timer_percentile_us (PgeMetrics *metrics,
                                                                      PgeTimer    timer,
                                                                      double      quantile);
PGE_AVAILABLE_IN_1_2 guint       pge_metrics_get_n_buckets     (void);
PGE_AVAILABLE_IN_1_2 gint64      pge_metrics_get_bucket_bound_us (guint bucket);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PgeMetrics, pge_metrics_unref)

G_END_DECLS
