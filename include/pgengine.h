/* pgengine — a PostgreSQL engine for multithreaded C and GLib programs.
 *
 * Umbrella header: include this one, never the per-type headers directly.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#define PGE_INSIDE_PGENGINE_H

#include <pgengine/pge-version.h>
#include <pgengine/pge-types.h>
#include <pgengine/pge-error.h>
#include <pgengine/pge-config.h>
#include <pgengine/pge-result.h>
#include <pgengine/pge-params.h>
#include <pgengine/pge-future.h>
#include <pgengine/pge-engine.h>
#include <pgengine/pge-transaction.h>
#include <pgengine/pge-savepoint.h>
#include <pgengine/pge-batch.h>
#include <pgengine/pge-atomic.h>
#include <pgengine/pge-async.h>
#include <pgengine/pge-session.h>
#include <pgengine/pge-notify.h>
#include <pgengine/pge-routing.h>
#include <pgengine/pge-copy.h>
#include <pgengine/pge-stats.h>
#include <pgengine/pge-call-options.h>
#include <pgengine/pge-row.h>
#include <pgengine/pge-list-model.h>
#include <pgengine/pge-enum-types.h>

#undef PGE_INSIDE_PGENGINE_H
