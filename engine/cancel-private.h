/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "pgengine.h"

G_BEGIN_DECLS

typedef struct _PgeCancelHandle PgeCancelHandle;

G_GNUC_INTERNAL PgeCancelHandle *pge_cancel_handle_new   (PGconn *conn, const char *label);
G_GNUC_INTERNAL void             pge_cancel_handle_unref (PgeCancelHandle *handle);
G_GNUC_INTERNAL gboolean         pge_cancel_handle_send  (PgeCancelHandle *handle);
G_GNUC_INTERNAL gboolean         pge_cancel_handle_in_flight (PgeCancelHandle *handle);
G_GNUC_INTERNAL gboolean         pge_cancel_handle_wait  (PgeCancelHandle *handle,
                                                          gint64           timeout_us);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PgeCancelHandle, pge_cancel_handle_unref)

G_END_DECLS
