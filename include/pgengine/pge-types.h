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

G_END_DECLS
