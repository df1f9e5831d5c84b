/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined(PGE_INSIDE_PGENGINE_H) && !defined(PGE_COMPILATION)
#error "Only <pgengine.h> can be included directly."
#endif

#include <pgengine/pge-types.h>

G_BEGIN_DECLS

#define PGE_TYPE_ATOMIC (pge_atomic_get_type ())

PGE_AVAILABLE_IN_1_0 GType      pge_atomic_get_type      (void) G_GNUC_CONST;
PGE_AVAILABLE_IN_1_0 PgeAtomic *pge_engine_atomic        (PgeEngine *engine);
PGE_AVAILABLE_IN_1_0 PgeAtomic *pge_atomic_ref           (PgeAtomic *atomic);
PGE_AVAILABLE_IN_1_0 void       pge_atomic_unref         (PgeAtomic *atomic);
PGE_AVAILABLE_IN_1_0 void       pge_atomic_add           (PgeAtomic  *atomic,
                                                   const char *sql,
                                                   PgeParams  *params);
PGE_AVAILABLE_IN_1_0 guint      pge_atomic_get_n_queries (PgeAtomic *atomic);
PGE_AVAILABLE_IN_1_0 PgeFuture *pge_atomic_run           (PgeAtomic *atomic);
PGE_AVAILABLE_IN_1_0 gboolean   pge_atomic_run_sync      (PgeAtomic *atomic, GError **error);
PGE_AVAILABLE_IN_1_0 PgeResult *pge_atomic_get_result    (PgeAtomic *atomic, guint index);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PgeAtomic, pge_atomic_unref)

G_END_DECLS
