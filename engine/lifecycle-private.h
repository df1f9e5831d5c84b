/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "pool-private.h"

G_BEGIN_DECLS

/* What a slot's worker is to do with a connection that is still good. */
typedef enum {
  PGE_RENEW_NONE,
  PGE_RENEW_REPLACE,   /* past its lifetime, or recycled: connect a new one */
  PGE_RENEW_CLOSE      /* idle too long: close it; reopened on demand */
} PgeRenew;

G_GNUC_INTERNAL void     pge_lifecycle_init_pool  (PgePool               *pool,
                                                   const PgeNodeSettings *node,
                                                   const PgeSettings     *settings);
/* For a slot's worker as it starts: TRUE when the slot starts closed
 * (above min_workers), opened on demand; else it connects. */
G_GNUC_INTERNAL gboolean pge_lifecycle_start_closed (PgeSlot *slot);

/* Hooks in pool.c, with queue_lock held. */
/* After a connection attempt of @slot. */
G_GNUC_INTERNAL void     pge_lifecycle_connect_done_locked (PgeSlot *slot, gboolean connected);
/* Whether the free, unpinned @slot must be renewed before its next job
 * (then its worker does it: see pge_lifecycle_renew()). */
G_GNUC_INTERNAL gboolean pge_lifecycle_due_locked (PgeSlot *slot, gint64 now);
/* @slot was just put in idle_slots. */
G_GNUC_INTERNAL void     pge_lifecycle_note_idle_locked (PgeSlot *slot);
/* For the janitor: hands idle slots that are due to their workers;
 * returns when to look again (monotonic µs, 0: not before told). */
G_GNUC_INTERNAL gint64   pge_lifecycle_scan_locked (PgePool *pool, gint64 now);
/* Whether losing @slot's connection is to be reported (not when the
 * engine closed it on purpose). */
G_GNUC_INTERNAL gboolean pge_lifecycle_is_renewing_locked (PgeSlot *slot);
/* After a failed connect with @any_up telling whether another slot is
 * connected: TRUE when the pool just gave up (reconnect_timeout). */
G_GNUC_INTERNAL gboolean pge_lifecycle_give_up_locked (PgePool *pool, gboolean any_up);
/* After a successful connect: TRUE when it ends a give-up. */
G_GNUC_INTERNAL gboolean pge_lifecycle_back_locked (PgePool *pool);

/* For a slot's worker told to reconnect: takes what is due for a
 * connection that is still good. CLOSE is done here; REPLACE is the
 * worker's to do (it connects through dispatch.c, above this file);
 * NONE: the slot is broken, for the worker's reconnect loop. */
G_GNUC_INTERNAL PgeRenew pge_lifecycle_renew (PgeSlot *slot);
/* Any thread: every connection of @pool is replaced, each when free. */
G_GNUC_INTERNAL void     pge_lifecycle_recycle (PgePool *pool);

G_END_DECLS
