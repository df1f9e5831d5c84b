/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "pgengine.h"

G_BEGIN_DECLS

typedef struct _PgeJob PgeJob;

G_GNUC_INTERNAL PgeFuture *pge_future_new        (void);
G_GNUC_INTERNAL PgeFuture *pge_future_new_error  (GError *error);
G_GNUC_INTERNAL gboolean   pge_future_resolve    (PgeFuture *future,
                                                  PgeResult *result,
                                                  GError    *error);
G_GNUC_INTERNAL void       pge_future_set_job    (PgeFuture *future,
                                                  PgeJob    *job);
G_GNUC_INTERNAL gboolean   pge_future_peek_error (PgeFuture    *future,
                                                  const GError **error);

G_END_DECLS
