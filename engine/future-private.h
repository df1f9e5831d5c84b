/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "pgengine.h"

G_BEGIN_DECLS

/* What the layer that queued a future's work lets the future do to it.
 * Static tables; every function gets the data given with them. */
typedef struct {
  void     (*cancel)   (gpointer data);  /* pge_future_cancel() */
  void     (*run_here) (gpointer data);  /* pge_future_wait(): run it on this
                                          * thread if nobody has started it */
  gboolean (*may_wait) (gpointer data,   /* pge_future_wait(): FALSE with an */
                        GError **error); /* error if this thread must not */
  void     (*hand_over) (gpointer data); /* nobody is going to run it on
                                          * the thread that waits: a callback
                                          * was attached, a wait is timed */
  gpointer (*ref)      (gpointer data);
  void     (*unref)    (gpointer data);
} PgeFutureHooks;

G_GNUC_INTERNAL PgeFuture *pge_future_new        (void);
G_GNUC_INTERNAL PgeFuture *pge_future_new_error  (GError *error);
G_GNUC_INTERNAL PgeResult *pge_future_wait_queued (PgeFuture *future, GError **error);
/* A done future failed with PGE_ERROR_INVALID_ARGUMENT and @message: the
 * answer of every future-returning call to bad input. */
G_GNUC_INTERNAL PgeFuture *pge_future_new_invalid (const char *message);
G_GNUC_INTERNAL gboolean   pge_future_resolve    (PgeFuture *future,
                                                  PgeResult *result,
                                                  GError    *error);
G_GNUC_INTERNAL void       pge_future_set_hooks  (PgeFuture            *future,
                                                  const PgeFutureHooks *hooks,
                                                  gpointer              data);

G_END_DECLS
