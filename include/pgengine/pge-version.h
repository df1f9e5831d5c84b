/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined(PGE_INSIDE_PGENGINE_H) && !defined(PGE_COMPILATION)
#error "Only <pgengine.h> can be included directly."
#endif

/**
 * PGE_MAJOR_VERSION:
 *
 * The major version of the pgengine headers in use; the `1` of `pgengine-1`.
 */
#define PGE_MAJOR_VERSION 1
/**
 * PGE_MINOR_VERSION:
 *
 * The minor version of the pgengine headers in use.
 */
#define PGE_MINOR_VERSION 0
