/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "pgengine.h"

G_BEGIN_DECLS

/* A GTask (no source object) for an `_async` call tagged @source_tag, or
 * NULL when @cancellable is already cancelled: the task has then returned
 * G_IO_ERROR_CANCELLED and the caller must start nothing. The task does
 * not check @cancellable when it returns: the outcome of the work does. */
G_GNUC_INTERNAL GTask *pge_async_task_new      (gpointer            source_tag,
                                                const char         *name,
                                                GCancellable       *cancellable,
                                                GAsyncReadyCallback callback,
                                                gpointer            user_data);

/* Turns @error (consumed) into G_IO_ERROR_CANCELLED when it is
 * PGE_ERROR_CANCELLED and @cancellable (nullable) was cancelled. */
G_GNUC_INTERNAL GError *pge_async_translate_cancel (GError       *error,
                                                    GCancellable *cancellable);

/* Consumes @task: it returns @future's PgeResult (transfer full, nullable)
 * or error, in the task's GMainContext, never inside this call; cancelling
 * the task's GCancellable cancels @future. @future is borrowed. */
G_GNUC_INTERNAL void   pge_async_follow_result (GTask     *task,
                                                PgeFuture *future);

/* The same, for work whose outcome is only success or an error. */
G_GNUC_INTERNAL void   pge_async_follow_boolean (GTask     *task,
                                                 PgeFuture *future);

/* Whether @result is a GTask of the `_async` call tagged @source_tag. */
G_GNUC_INTERNAL gboolean pge_async_task_check  (GAsyncResult *result,
                                                gpointer      source_tag);

G_END_DECLS
