/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "pgengine.h"

G_BEGIN_DECLS

G_GNUC_INTERNAL PgeResult *pge_result_new_take (PGresult *res);

G_END_DECLS
