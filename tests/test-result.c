/* test-result.c — PgeResult: shape, columns, values, conversions, command
 * tags, and out-of-range access that must not crash.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <math.h>
#include <string.h>

#include "fixture.h"

TestSuite (result, .init = pge_test_engine_up, .fini = pge_test_engine_down);

static PgeResult *
query (const char *sql)
{
  g_autoptr(GError) error = NULL;
  PgeResult *result = pge_engine_query_sync (test_engine, sql, NULL, &error);

  cr_assert_null (error, "%s: %s", sql, error ? error->message : "");
  cr_assert_not_null (result, "%s gave no result", sql);
  return result;
}

#define TYPED_ROW                                                             \
  "SELECT 7::int4 AS \"Int\", 8000000000::int8 AS big, 'hello'::text AS t, " \
  "true AS b, 1.5::float8 AS d, NULL::int4 AS n"

Test (result, counts_rows_and_columns)
{
  g_autoptr(PgeResult) result = query ("SELECT g, g * 2 FROM generate_series(1, 5) g");
  g_autoptr(PgeResult) empty = query ("SELECT 1 WHERE false");

  cr_assert_eq (pge_result_get_n_rows (result), 5);
  cr_assert_eq (pge_result_get_n_columns (result), 2);
  cr_assert_eq (pge_result_get_int64 (result, 4, 1), 10);
  cr_assert_eq (pge_result_get_n_rows (empty), 0);
  cr_assert_eq (pge_result_get_n_columns (empty), 1);
}

Test (result, column_names_and_case_sensitive_index)
{
  g_autoptr(PgeResult) result = query (TYPED_ROW);

  cr_assert_str_eq (pge_result_get_column_name (result, 0), "Int");
  cr_assert_str_eq (pge_result_get_column_name (result, 1), "big");
  cr_assert_eq (pge_result_get_column_index (result, "Int"), 0);
  cr_assert_eq (pge_result_get_column_index (result, "int"), -1);
  cr_assert_eq (pge_result_get_column_index (result, "\"Int\""), -1);
  cr_assert_eq (pge_result_get_column_index (result, "n"), 5);
  cr_assert_eq (pge_result_get_column_index (result, "absent"), -1);
  cr_assert_eq (pge_result_get_column_index (result, ""), -1);
}

Test (result, duplicate_column_names_give_the_first_index)
{
  g_autoptr(PgeResult) result = query ("SELECT 1 AS x, 2 AS x");

  cr_assert_eq (pge_result_get_column_index (result, "x"), 0);
}

Test (result, column_types_are_oids)
{
  g_autoptr(PgeResult) result = query (TYPED_ROW);

  cr_assert_eq (pge_result_get_column_type (result, 0), 23);
  cr_assert_eq (pge_result_get_column_type (result, 1), 20);
  cr_assert_eq (pge_result_get_column_type (result, 2), 25);
  cr_assert_eq (pge_result_get_column_type (result, 3), 16);
  cr_assert_eq (pge_result_get_column_type (result, 4), 701);
  cr_assert_eq (pge_result_get_column_type (result, 5), 23);
}

Test (result, values_are_text_and_null_is_null)
{
  g_autoptr(PgeResult) result = query (TYPED_ROW);

  cr_assert_str_eq (pge_result_get_value (result, 0, 0), "7");
  cr_assert_str_eq (pge_result_get_value (result, 0, 1), "8000000000");
  cr_assert_str_eq (pge_result_get_value (result, 0, 2), "hello");
  cr_assert_str_eq (pge_result_get_value (result, 0, 3), "t");
  cr_assert_str_eq (pge_result_get_value (result, 0, 4), "1.5");
  cr_assert_null (pge_result_get_value (result, 0, 5));
  cr_assert (pge_result_is_null (result, 0, 5));
  cr_assert_not (pge_result_is_null (result, 0, 0));
}

Test (result, empty_string_is_not_null)
{
  g_autoptr(PgeResult) result = query ("SELECT ''::text");

  cr_assert_not (pge_result_is_null (result, 0, 0));
  cr_assert_str_eq (pge_result_get_value (result, 0, 0), "");
}

Test (result, typed_getters_convert)
{
  g_autoptr(PgeResult) result = query (TYPED_ROW);

  cr_assert_eq (pge_result_get_int64 (result, 0, 0), 7);
  cr_assert_eq (pge_result_get_int64 (result, 0, 1), G_GINT64_CONSTANT (8000000000));
  cr_assert_eq (pge_result_get_double (result, 0, 4), 1.5);
  cr_assert_eq (pge_result_get_double (result, 0, 0), 7.0);
  cr_assert (pge_result_get_boolean (result, 0, 3));
}

Test (result, typed_getters_give_defaults_for_null)
{
  g_autoptr(PgeResult) result = query ("SELECT NULL::int8, NULL::float8, NULL::bool");

  cr_assert_eq (pge_result_get_int64 (result, 0, 0), 0);
  cr_assert_eq (pge_result_get_double (result, 0, 1), 0.0);
  cr_assert_not (pge_result_get_boolean (result, 0, 2));
}

Test (result, int64_of_non_integer_text_is_zero)
{
  g_autoptr(PgeResult) result = query ("SELECT 'abc'::text, 1.5::numeric, '99999999999999999999'::numeric");

  cr_assert_eq (pge_result_get_int64 (result, 0, 0), 0);
  cr_assert_eq (pge_result_get_int64 (result, 0, 1), 0);
  cr_assert_eq (pge_result_get_int64 (result, 0, 2), 0);
}

/* The lax getters read a cell with the strict readers' parsers: text the
 * strict reader would refuse gives the default, never a part of it. */
Test (result, lax_getters_refuse_what_the_strict_readers_refuse)
{
  g_autoptr(PgeResult) result = query ("SELECT '12abc'::text, ' 7'::text, 'true'::text, '1.5'::text, "
                                       "'t'::text, '1e400'::numeric, 9007199254740993::int8");
  g_autoptr(GError) error = NULL;
  double value;

  cr_assert_eq (pge_result_get_double (result, 0, 0), 0.0);
  cr_assert_eq (pge_result_get_int64 (result, 0, 0), 0);
  cr_assert_eq (pge_result_get_double (result, 0, 1), 0.0);
  cr_assert_eq (pge_result_get_int64 (result, 0, 1), 0);
  cr_assert_not (pge_result_get_boolean (result, 0, 2));
  cr_assert_eq (pge_result_get_double (result, 0, 3), 1.5);
  cr_assert (pge_result_get_boolean (result, 0, 4));
  /* Where the strict reader reads the column, it refuses the same cells. */
  cr_assert_not (pge_result_read_double (result, 0, 5, &value, &error));
  pge_assert_error (error, PGE_ERROR, PGE_ERROR_CONVERSION);
  g_clear_error (&error);
  cr_assert_eq (pge_result_get_double (result, 0, 5), 0.0);
  cr_assert_not (pge_result_read_double (result, 0, 6, &value, &error));
  pge_assert_error (error, PGE_ERROR, PGE_ERROR_CONVERSION);
  g_clear_error (&error);
  cr_assert_eq (pge_result_get_double (result, 0, 6), 0.0);
}

Test (result, boolean_false_and_double_specials)
{
  g_autoptr(PgeResult) result = query ("SELECT false, 'NaN'::float8, '-Infinity'::float8, 2.5::numeric");

  cr_assert_not (pge_result_get_boolean (result, 0, 0));
  cr_assert (isnan (pge_result_get_double (result, 0, 1)));
  cr_assert (isinf (pge_result_get_double (result, 0, 2)));
  cr_assert_eq (pge_result_get_double (result, 0, 3), 2.5);
}

Test (result, command_tags_and_rows_affected)
{
  g_autoptr(PgeResult) create = query ("CREATE TABLE items (id int, v text)");
  g_autoptr(PgeResult) insert = query ("INSERT INTO items SELECT g, 'x' FROM generate_series(1, 3) g");
  g_autoptr(PgeResult) update = query ("UPDATE items SET v = 'y' WHERE id >= 2");
  g_autoptr(PgeResult) select = query ("SELECT * FROM items");
  g_autoptr(PgeResult) delete = query ("DELETE FROM items WHERE id = 1");
  g_autoptr(PgeResult) returning = query ("INSERT INTO items VALUES (9, 'z') RETURNING id");

  cr_assert_str_eq (pge_result_get_command_tag (create), "CREATE TABLE");
  cr_assert_eq (pge_result_get_rows_affected (create), 0);
  cr_assert_str_eq (pge_result_get_command_tag (insert), "INSERT 0 3");
  cr_assert_eq (pge_result_get_rows_affected (insert), 3);
  cr_assert_eq (pge_result_get_n_rows (insert), 0);
  cr_assert_str_eq (pge_result_get_command_tag (update), "UPDATE 2");
  cr_assert_eq (pge_result_get_rows_affected (update), 2);
  cr_assert_str_eq (pge_result_get_command_tag (select), "SELECT 3");
  cr_assert_eq (pge_result_get_rows_affected (select), 3);
  cr_assert_str_eq (pge_result_get_command_tag (delete), "DELETE 1");
  cr_assert_eq (pge_result_get_rows_affected (delete), 1);
  cr_assert_eq (pge_result_get_n_rows (returning), 1);
  cr_assert_eq (pge_result_get_int64 (returning, 0, 0), 9);
  cr_assert_eq (pge_result_get_rows_affected (returning), 1);
}

Test (result, pgresult_is_the_underlying_result)
{
  g_autoptr(PgeResult) result = query ("SELECT 1 AS a FROM generate_series(1, 3)");
  const PGresult *res = pge_result_get_pgresult (result);

  cr_assert_not_null (res);
  cr_assert_eq (PQresultStatus (res), PGRES_TUPLES_OK);
  cr_assert_eq (PQntuples (res), 3);
  cr_assert_str_eq (PQfname (res, 0), "a");
}

Test (result, ref_returns_same_and_outlives_the_future)
{
  g_autoptr(GError) error = NULL;
  PgeFuture *future = pge_engine_query (test_engine, "SELECT 'kept'", NULL);
  PgeResult *result = pge_future_wait (future, &error);
  PgeResult *ref;

  pge_future_unref (future);
  cr_assert_null (error);
  ref = pge_result_ref (result);
  cr_assert_eq (ref, result);
  pge_result_unref (result);
  cr_assert_str_eq (pge_result_get_value (ref, 0, 0), "kept");
  pge_result_unref (ref);
  cr_assert (G_TYPE_IS_BOXED (pge_result_get_type ()));
}

Test (result, out_of_range_access_returns_null_or_zero)
{
  /* These emit g_critical (a programmer error) but must not crash. */
  g_autoptr(PgeResult) result = query ("SELECT 1 AS a, NULL::int AS b");

  cr_assert_null (pge_result_get_column_name (result, 2));
  cr_assert_eq (pge_result_get_column_type (result, 2), 0);
  cr_assert_null (pge_result_get_value (result, 1, 0));
  cr_assert_null (pge_result_get_value (result, 0, 2));
  cr_assert_null (pge_result_get_value (result, G_MAXUINT, G_MAXUINT));
  cr_assert (pge_result_is_null (result, 5, 0));
  cr_assert_eq (pge_result_get_int64 (result, 1, 0), 0);
  cr_assert_eq (pge_result_get_double (result, 0, 7), 0.0);
  cr_assert_not (pge_result_get_boolean (result, 3, 3));
  /* The in-range cells are untouched. */
  cr_assert_eq (pge_result_get_int64 (result, 0, 0), 1);
}

Test (result, null_result_argument_does_not_crash)
{
  cr_assert_eq (pge_result_get_n_rows (NULL), 0);
  cr_assert_eq (pge_result_get_n_columns (NULL), 0);
  cr_assert_null (pge_result_get_value (NULL, 0, 0));
  cr_assert_eq (pge_result_get_column_index (NULL, "a"), -1);
  cr_assert_null (pge_result_get_pgresult (NULL));
}
