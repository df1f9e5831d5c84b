/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "pgengine.h"
#include "pool-private.h"

G_BEGIN_DECLS

/* A GTask (source object @source_object, the engine, or NULL) for an
 * `_async` call tagged @source_tag, or
 * NULL when @cancellable is already cancelled: the task has then returned
 * G_IO_ERROR_CANCELLED and the caller must start nothing. The task does
 * not check @cancellable when it returns: the outcome of the work does. */
G_GNUC_INTERNAL GTask *pge_async_task_new      (gpointer            source_object,
                                                gpointer            source_tag,
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

/* Whether @result is a GTask of @source_object's `_async` call tagged
 * @source_tag. */
G_GNUC_INTERNAL gboolean pge_async_task_check  (GAsyncResult *result,
                                                gpointer      source_object,
                                                gpointer      source_tag);

/* One step of an `_async` chain: runs in the task's GMainContext once the
 * future given to pge_async_then() is done, with its result and error
 * (both transfer full, at most one set). The step returns the task or
 * chains another pge_async_then(); it borrows @task. */
typedef void (*PgeAsyncStep) (GTask *task, PgeResult *result, GError *error);

/* Runs @step for @future (borrowed) in @task's context, never inside this
 * call; holds a reference on @task meanwhile. Cancelling the task's
 * GCancellable cancels @future. */
G_GNUC_INTERNAL void   pge_async_then           (GTask       *task,
                                                 PgeFuture   *future,
                                                 PgeAsyncStep step);
/* The same; without @cancels the GCancellable leaves @future alone (a
 * COMMIT, once queued, is not cancelled). */
G_GNUC_INTERNAL void   pge_async_then_full      (GTask       *task,
                                                 PgeFuture   *future,
                                                 PgeAsyncStep step,
                                                 gboolean     cancels);

/* The step after a lease is pinned: runs in the task's context only when
 * the pin succeeded and the task's GCancellable was not cancelled. */
typedef void (*PgeAsyncPinned) (GTask *task);

/* The first step of every `_async` call that needs a connection of its
 * own (a transaction, a session, a batch): queues @lease's PIN job on
 * @pool (a lease request that waits its turn like any job; no thread
 * waits for it) and then runs @pinned. A failed pin returns its error,
 * a cancelled one G_IO_ERROR_CANCELLED, and @pinned is not called; what
 * was pinned is the caller's to release (its task data). */
G_GNUC_INTERNAL void   pge_async_pin_then       (GTask         *task,
                                                 PgePool       *pool,
                                                 PgeLease      *lease,
                                                 PgeAsyncPinned pinned);

G_END_DECLS
