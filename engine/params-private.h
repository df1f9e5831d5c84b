/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "pgengine.h"

G_BEGIN_DECLS

/* The arrays PQexecParams() and friends want, borrowed from a PgeParams
 * that nobody changes while they are in use (a frozen copy). */
typedef struct {
  int                n;
  const Oid         *types;
  const char *const *values;
  const int         *lengths;
  const int         *formats;
} PgeParamsView;

#define PGE_MAX_PARAMS 65535

G_GNUC_INTERNAL PgeParams *pge_params_copy (PgeParams *params);
G_GNUC_INTERNAL void       pge_params_view (PgeParams *params, PgeParamsView *view);

G_END_DECLS
