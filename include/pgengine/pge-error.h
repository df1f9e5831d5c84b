/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined(PGE_INSIDE_PGENGINE_H) && !defined(PGE_COMPILATION)
#error "Only <pgengine.h> can be included directly."
#endif

#include <pgengine/pge-types.h>

G_BEGIN_DECLS

/**
 * PGE_ERROR:
 *
 * The error domain of every error pgengine reports itself. Errors from a
 * #GCancellable passed to an `_async` call use %G_IO_ERROR instead.
 *
 * Since: 1.0
 */
#define PGE_ERROR (pge_error_quark ())

/**
 * PgeError:
 * @PGE_ERROR_FAILED: anything not listed below
 * @PGE_ERROR_CONNECTION: cannot connect, or the connection was lost
 * @PGE_ERROR_QUERY: the server reported an error (see pge_error_get_sqlstate())
 * @PGE_ERROR_CANCELLED: pge_future_cancel() stopped it
 * @PGE_ERROR_TIMEOUT: acquire timeout or statement timeout
 * @PGE_ERROR_CLOSED: the engine is closed or closing
 * @PGE_ERROR_QUEUE_FULL: max_queue jobs are already waiting
 * @PGE_ERROR_INVALID_ARGUMENT: bad input from the caller
 * @PGE_ERROR_TRANSACTION_STATE: e.g. commit after rollback, use after end
 * @PGE_ERROR_NESTED: nesting refused (%PGE_TRANSACTION_NO_NESTING)
 *
 * Error codes in the %PGE_ERROR domain.
 *
 * Since: 1.0
 */
typedef enum {
  PGE_ERROR_FAILED,
  PGE_ERROR_CONNECTION,
  PGE_ERROR_QUERY,
  PGE_ERROR_CANCELLED,
  PGE_ERROR_TIMEOUT,
  PGE_ERROR_CLOSED,
  PGE_ERROR_QUEUE_FULL,
  PGE_ERROR_INVALID_ARGUMENT,
  PGE_ERROR_TRANSACTION_STATE,
  PGE_ERROR_NESTED
} PgeError;

PGE_AVAILABLE_IN_1_0 GQuark      pge_error_quark        (void);
PGE_AVAILABLE_IN_1_0 const char *pge_error_get_sqlstate (const GError *error);

G_END_DECLS
