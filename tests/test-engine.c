/* test-engine.c — PgeEngine: start, queries, routing, stats, close.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "fixture.h"

TestSuite (engine, .init = pge_test_engine_up, .fini = pge_test_engine_down, .timeout = 60);

Test (engine, select_one_returns_one_row)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PgeResult) result = pge_engine_query_sync (test_engine, "SELECT 1 AS one", NULL, &error);

  cr_assert_null (error);
  cr_assert_eq (pge_result_get_n_rows (result), 1);
  cr_assert_eq (pge_result_get_int64 (result, 0, 0), 1);
  cr_assert_str_eq (pge_result_get_column_name (result, 0), "one");
}
