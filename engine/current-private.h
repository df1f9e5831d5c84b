/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "pgengine.h"

G_BEGIN_DECLS

typedef struct _PgeCurrent PgeCurrent;

G_GNUC_INTERNAL PgeCurrent *pge_current_new    (void);
G_GNUC_INTERNAL void        pge_current_free   (PgeCurrent *current);
G_GNUC_INTERNAL gpointer    pge_current_dup    (PgeCurrent *current,
                                                gpointer  (*try_ref) (gpointer));
G_GNUC_INTERNAL gboolean    pge_current_any    (PgeCurrent *current);
G_GNUC_INTERNAL gboolean    pge_current_try_ref (gint *ref);
G_GNUC_INTERNAL void        pge_current_push   (PgeCurrent *current, gpointer item);
G_GNUC_INTERNAL void        pge_current_remove (PgeCurrent *current, gpointer item);

G_END_DECLS
