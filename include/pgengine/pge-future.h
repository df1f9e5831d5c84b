/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined(PGE_INSIDE_PGENGINE_H) && !defined(PGE_COMPILATION)
#error "Only <pgengine.h> can be included directly."
#endif

#include <pgengine/pge-types.h>

G_BEGIN_DECLS

#define PGE_TYPE_FUTURE (pge_future_get_type ())

/**
 * PgeFutureCallback:
 * @future: the future that is done
 * @user_data: the data given to pge_future_on_done()
 *
 * Called once when @future is done; see pge_future_on_done() for the
 * thread it runs on.
 *
 * Since: 1.0
 */
typedef void (*PgeFutureCallback) (PgeFuture *future, gpointer user_data);

PGE_AVAILABLE_IN_1_0 GType      pge_future_get_type     (void) G_GNUC_CONST;
PGE_AVAILABLE_IN_1_0 PgeFuture *pge_future_ref          (PgeFuture *future);
PGE_AVAILABLE_IN_1_0 void       pge_future_unref        (PgeFuture *future);
PGE_AVAILABLE_IN_1_0 PgeResult *pge_future_wait         (PgeFuture *future, GError **error);
PGE_AVAILABLE_IN_1_0 gboolean   pge_future_wait_timeout (PgeFuture *future, guint timeout_ms);
PGE_AVAILABLE_IN_1_0 gboolean   pge_future_is_done      (PgeFuture *future);
PGE_AVAILABLE_IN_1_0 void       pge_future_cancel       (PgeFuture *future);
PGE_AVAILABLE_IN_1_0 void       pge_future_on_done      (PgeFuture        *future,
                                                  GMainContext     *context,
                                                  PgeFutureCallback callback,
                                                  gpointer          user_data,
                                                  GDestroyNotify    notify);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PgeFuture, pge_future_unref)

G_END_DECLS
