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

/* Every public symbol carries this so that the library can be built with
 * -fvisibility=hidden and still export exactly the `pge_` API. */
#ifndef PGE_AVAILABLE
#define PGE_AVAILABLE __attribute__ ((visibility ("default")))
#endif

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
