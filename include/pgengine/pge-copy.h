/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined(PGE_INSIDE_PGENGINE_H) && !defined(PGE_COMPILATION)
#error "Only <pgengine.h> can be included directly."
#endif

#include <pgengine/pge-types.h>

G_BEGIN_DECLS

/**
 * PgeCopyFromFunc:
 * @buffer: (out caller-allocates) (array length=size) (element-type guint8):
 *   where to put the next bytes of the COPY data
 * @size: the room in @buffer (64 KiB)
 * @user_data: the data given with the callback
 * @error: return location for a #GError
 *
 * Supplies `COPY ... FROM STDIN` data, in the COPY format the statement
 * names (text, csv or binary); chunks need not end at row boundaries.
 * Called repeatedly on the thread that runs the COPY (a worker thread, or
 * the thread of a `_sync` call), never concurrently with itself. It holds
 * a connection of the engine meanwhile: it must not wait for the engine
 * (its `_sync` calls are refused there), and a slow callback slows the
 * COPY down, nothing more.
 *
 * Returns: the number of bytes put in @buffer (1 to @size), 0 at the end
 *   of the data, or -1 to stop the COPY (with @error set, preferably)
 *
 * Since: 1.0
 */
typedef gssize (*PgeCopyFromFunc) (char     *buffer,
                                   gsize     size,
                                   gpointer  user_data,
                                   GError  **error);

/**
 * PgeCopyToFunc:
 * @data: (array length=length) (element-type guint8): the next chunk of
 *   `COPY ... TO STDOUT` output, owned by the engine until the callback
 *   returns (one row in the text and csv formats)
 * @length: its length in bytes
 * @user_data: the data given with the callback
 * @error: return location for a #GError
 *
 * Receives `COPY ... TO STDOUT` output, chunk by chunk, in order, on the
 * thread that runs the COPY (a worker thread, or the thread of a `_sync`
 * call), never concurrently with itself; like #PgeCopyFromFunc, it must
 * not wait for the engine.
 *
 * Returns: %TRUE to go on; %FALSE to stop the COPY (with @error set,
 *   preferably)
 *
 * Since: 1.0
 */
typedef gboolean (*PgeCopyToFunc) (const char *data,
                                   gsize       length,
                                   gpointer    user_data,
                                   GError    **error);

PGE_AVAILABLE_IN_1_0 PgeFuture *pge_engine_copy_from_stream        (PgeEngine       *engine,
                                                             const char      *sql,
                                                             GInputStream    *stream,
                                                             GCancellable    *cancellable);
PGE_AVAILABLE_IN_1_0 PgeResult *pge_engine_copy_from_stream_sync   (PgeEngine       *engine,
                                                             const char      *sql,
                                                             GInputStream    *stream,
                                                             GCancellable    *cancellable,
                                                             GError         **error);
PGE_AVAILABLE_IN_1_0 PgeFuture *pge_engine_copy_from_callback      (PgeEngine       *engine,
                                                             const char      *sql,
                                                             PgeCopyFromFunc  func,
                                                             gpointer         user_data,
                                                             GDestroyNotify   notify);
PGE_AVAILABLE_IN_1_0 PgeResult *pge_engine_copy_from_callback_sync (PgeEngine       *engine,
                                                             const char      *sql,
                                                             PgeCopyFromFunc  func,
                                                             gpointer         user_data,
                                                             GError         **error);
PGE_AVAILABLE_IN_1_0 PgeFuture *pge_engine_copy_to_stream          (PgeEngine       *engine,
                                                             const char      *sql,
                                                             GOutputStream   *stream,
                                                             GCancellable    *cancellable);
PGE_AVAILABLE_IN_1_0 PgeResult *pge_engine_copy_to_stream_sync     (PgeEngine       *engine,
                                                             const char      *sql,
                                                             GOutputStream   *stream,
                                                             GCancellable    *cancellable,
                                                             GError         **error);
PGE_AVAILABLE_IN_1_0 PgeFuture *pge_engine_copy_to_callback        (PgeEngine       *engine,
                                                             const char      *sql,
                                                             PgeCopyToFunc    func,
                                                             gpointer         user_data,
                                                             GDestroyNotify   notify);
PGE_AVAILABLE_IN_1_0 PgeResult *pge_engine_copy_to_callback_sync   (PgeEngine       *engine,
                                                             const char      *sql,
                                                             PgeCopyToFunc    func,
                                                             gpointer         user_data,
                                                             GError         **error);

PGE_AVAILABLE_IN_1_0 PgeFuture *pge_transaction_copy_from_stream        (PgeTransaction  *tx,
                                                                  const char      *sql,
                                                                  GInputStream    *stream,
                                                                  GCancellable    *cancellable);
PGE_AVAILABLE_IN_1_0 PgeResult *pge_transaction_copy_from_stream_sync   (PgeTransaction  *tx,
                                                                  const char      *sql,
                                                                  GInputStream    *stream,
                                                                  GCancellable    *cancellable,
                                                                  GError         **error);
PGE_AVAILABLE_IN_1_0 PgeFuture *pge_transaction_copy_from_callback      (PgeTransaction  *tx,
                                                                  const char      *sql,
                                                                  PgeCopyFromFunc  func,
                                                                  gpointer         user_data,
                                                                  GDestroyNotify   notify);
PGE_AVAILABLE_IN_1_0 PgeResult *pge_transaction_copy_from_callback_sync (PgeTransaction  *tx,
                                                                  const char      *sql,
                                                                  PgeCopyFromFunc  func,
                                                                  gpointer         user_data,
                                                                  GError         **error);
PGE_AVAILABLE_IN_1_0 PgeFuture *pge_transaction_copy_to_stream          (PgeTransaction  *tx,
                                                                  const char      *sql,
                                                                  GOutputStream   *stream,
                                                                  GCancellable    *cancellable);
PGE_AVAILABLE_IN_1_0 PgeResult *pge_transaction_copy_to_stream_sync     (PgeTransaction  *tx,
                                                                  const char      *sql,
                                                                  GOutputStream   *stream,
                                                                  GCancellable    *cancellable,
                                                                  GError         **error);
PGE_AVAILABLE_IN_1_0 PgeFuture *pge_transaction_copy_to_callback        (PgeTransaction  *tx,
                                                                  const char      *sql,
                                                                  PgeCopyToFunc    func,
                                                                  gpointer         user_data,
                                                                  GDestroyNotify   notify);
PGE_AVAILABLE_IN_1_0 PgeResult *pge_transaction_copy_to_callback_sync   (PgeTransaction  *tx,
                                                                  const char      *sql,
                                                                  PgeCopyToFunc    func,
                                                                  gpointer         user_data,
                                                                  GError         **error);

G_END_DECLS
