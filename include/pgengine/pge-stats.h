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

G_END_DECLS
