/* alloc-private.h — zeroed allocations for what every query allocates.
 *
 * glibc's calloc() never uses the per-thread cache that malloc() has, so
 * g_malloc0() and g_atomic_rc_box_new0() take the arena's lock and its
 * slow path on every call. The job, future, result and parameters of
 * each query are allocated with malloc() and zeroed here instead.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <string.h>

#include <glib.h>

#define PGE_NEW0(Type, extra) \
  ((Type *) memset (g_malloc (sizeof (Type) + (extra)), 0, sizeof (Type) + (extra)))
#define PGE_RC_BOX_NEW0(Type) \
  ((Type *) memset (g_atomic_rc_box_alloc (sizeof (Type)), 0, sizeof (Type)))
