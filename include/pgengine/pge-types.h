/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined(PGE_INSIDE_PGENGINE_H) && !defined(PGE_COMPILATION)
#error "Only <pgengine.h> can be included directly."
#endif

#include <glib.h>
#include <glib-object.h>
#include <gio/gio.h>
#include <libpq-fe.h>

G_BEGIN_DECLS

/* PGE_AVAILABLE_IN_1_0 (and its older name PGE_AVAILABLE), which every
 * public declaration carries. */
#include <pgengine/pge-version.h>

typedef struct _PgeConfig      PgeConfig;
typedef struct _PgeResult      PgeResult;
typedef struct _PgeParams      PgeParams;
typedef struct _PgeFuture      PgeFuture;
typedef struct _PgeEngine      PgeEngine;
typedef struct _PgeTransaction PgeTransaction;
typedef struct _PgeSavepoint   PgeSavepoint;
typedef struct _PgeBatch       PgeBatch;
typedef struct _PgeAtomic      PgeAtomic;

/**
 * PgeInterval:
 * @months: whole months (a year is 12)
 * @days: whole days, kept apart from @months and @microseconds as the
 *   server does (a day is not always 24 hours across a DST change)
 * @microseconds: the time part
 *
 * A PostgreSQL `interval`, field for field as the server stores it, so it
 * round-trips exactly; "1 year 2 mons -3 days 04:05:06.5" is
 * `{ 14, -3, 14706500000 }`. The fields may have different signs.
 *
 * Since: 1.0
 */
typedef struct {
  gint32 months;
  gint32 days;
  gint64 microseconds;
} PgeInterval;

G_END_DECLS
