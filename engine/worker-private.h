/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "pgengine.h"
#include "pool-private.h"

G_BEGIN_DECLS

/* Starts the worker thread of @slot; FALSE (with @error) if the thread
 * could not be created, which is reported to the pool as a failed start. */
G_GNUC_INTERNAL gboolean pge_worker_start (PgeSlot *slot, GError **error);

G_END_DECLS
