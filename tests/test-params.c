/* test-params.c — PgeParams: every adder round-trips through the server,
 * the GVariant constructor, and copying at submit.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <math.h>
#include <string.h>

#include "fixture.h"

TestSuite (params, .init = pge_test_engine_up, .fini = pge_test_engine_down);

/* `SELECT $1` (or @sql) with @params; asserts success. */
static PgeResult *
select_params (const char *sql, PgeParams *params)
{
  g_autoptr(GError) error = NULL;
  PgeResult *result = pge_engine_query_sync (test_engine, sql, params, &error);

  cr_assert_null (error, "%s: %s", sql, error ? error->message : "");
  cr_assert_not_null (result);
  return result;
}

/* Gate, gate_close () and gate_open () come from the fixture. */

Test (params, new_is_empty_and_counts_adds)
{
  g_autoptr(PgeParams) params = pge_params_new ();
  PgeParams *ref;

  cr_assert_eq (pge_params_get_length (params), 0);
  pge_params_add_null (params);
  pge_params_add_int32 (params, 1);
  pge_params_add_text (params, NULL);
  cr_assert_eq (pge_params_get_length (params), 3);
  ref = pge_params_ref (params);
  cr_assert_eq (ref, params);
  pge_params_unref (ref);
  cr_assert (G_TYPE_IS_BOXED (pge_params_get_type ()));
}

Test (params, int32_extremes_round_trip_as_int4)
{
  g_autoptr(PgeParams) params = pge_params_new ();
  g_autoptr(PgeResult) result = NULL;

  pge_params_add_int32 (params, G_MININT32);
  pge_params_add_int32 (params, G_MAXINT32);
  pge_params_add_int32 (params, 0);
  result = select_params ("SELECT $1, $2, $3", params);
  cr_assert_eq (pge_result_get_column_type (result, 0), 23);
  cr_assert_eq (pge_result_get_int64 (result, 0, 0), G_MININT32);
  cr_assert_eq (pge_result_get_int64 (result, 0, 1), G_MAXINT32);
  cr_assert_str_eq (pge_result_get_value (result, 0, 2), "0");
}

Test (params, int64_extremes_round_trip_as_int8)
{
  g_autoptr(PgeParams) params = pge_params_new ();
  g_autoptr(PgeResult) result = NULL;

  pge_params_add_int64 (params, G_MININT64);
  pge_params_add_int64 (params, G_MAXINT64);
  result = select_params ("SELECT $1, $2", params);
  cr_assert_eq (pge_result_get_column_type (result, 0), 20);
  cr_assert_eq (pge_result_get_int64 (result, 0, 0), G_MININT64);
  cr_assert_eq (pge_result_get_int64 (result, 0, 1), G_MAXINT64);
  cr_assert_str_eq (pge_result_get_value (result, 0, 0), "-9223372036854775808");
}

Test (params, int64_plus_one_needs_no_cast)
{
  g_autoptr(PgeParams) params = pge_params_new ();
  g_autoptr(PgeResult) result = NULL;

  pge_params_add_int64 (params, G_GINT64_CONSTANT (1) << 40);
  result = select_params ("SELECT $1 + 1", params);
  cr_assert_eq (pge_result_get_column_type (result, 0), 20);
  cr_assert_eq (pge_result_get_int64 (result, 0, 0), (G_GINT64_CONSTANT (1) << 40) + 1);
}

Test (params, doubles_round_trip_exactly)
{
  const double values[] = { 0.1, 1e308, -1e308, 4.9e-324, -0.5, 123456789.123456789, 0.0 };
  g_autoptr(PgeParams) params = pge_params_new ();
  g_autoptr(PgeResult) result = NULL;

  for (guint i = 0; i < G_N_ELEMENTS (values); i++)
    pge_params_add_double (params, values[i]);
  result = select_params ("SELECT $1, $2, $3, $4, $5, $6, $7", params);
  for (guint i = 0; i < G_N_ELEMENTS (values); i++)
    {
      cr_assert_eq (pge_result_get_column_type (result, i), 701);
      cr_assert_eq (pge_result_get_double (result, 0, i), values[i], "value %u: %s", i,
                    pge_result_get_value (result, 0, i));
    }
}

Test (params, nan_and_infinities_round_trip)
{
  g_autoptr(PgeParams) params = pge_params_new ();
  g_autoptr(PgeResult) result = NULL;

  pge_params_add_double (params, NAN);
  pge_params_add_double (params, INFINITY);
  pge_params_add_double (params, -INFINITY);
  result = select_params ("SELECT $1, $2, $3, $1 = 'NaN'::float8", params);
  cr_assert_str_eq (pge_result_get_value (result, 0, 0), "NaN");
  cr_assert_str_eq (pge_result_get_value (result, 0, 1), "Infinity");
  cr_assert_str_eq (pge_result_get_value (result, 0, 2), "-Infinity");
  cr_assert (isnan (pge_result_get_double (result, 0, 0)));
  cr_assert (isinf (pge_result_get_double (result, 0, 1)) && pge_result_get_double (result, 0, 1) > 0);
  cr_assert (isinf (pge_result_get_double (result, 0, 2)) && pge_result_get_double (result, 0, 2) < 0);
  cr_assert (pge_result_get_boolean (result, 0, 3));
}

Test (params, booleans_round_trip_as_bool)
{
  g_autoptr(PgeParams) params = pge_params_new ();
  g_autoptr(PgeResult) result = NULL;

  pge_params_add_boolean (params, TRUE);
  pge_params_add_boolean (params, FALSE);
  pge_params_add_boolean (params, 42);   /* any non-zero is TRUE */
  result = select_params ("SELECT $1, $2, $3, NOT $1", params);
  cr_assert_eq (pge_result_get_column_type (result, 0), 16);
  cr_assert (pge_result_get_boolean (result, 0, 0));
  cr_assert_not (pge_result_get_boolean (result, 0, 1));
  cr_assert (pge_result_get_boolean (result, 0, 2));
  cr_assert_not (pge_result_get_boolean (result, 0, 3));
}

Test (params, nulls_round_trip_as_sql_null)
{
  g_autoptr(PgeParams) params = pge_params_new ();
  g_autoptr(PgeResult) result = NULL;

  pge_params_add_null (params);
  pge_params_add_text (params, NULL);
  pge_params_add_typed (params, 1184, NULL);
  result = select_params ("SELECT $1::int IS NULL, $2::text IS NULL, $3, $2", params);
  cr_assert (pge_result_get_boolean (result, 0, 0));
  cr_assert (pge_result_get_boolean (result, 0, 1));
  cr_assert (pge_result_is_null (result, 0, 2));
  cr_assert_eq (pge_result_get_column_type (result, 2), 1184);
  cr_assert (pge_result_is_null (result, 0, 3));
  cr_assert_null (pge_result_get_value (result, 0, 3));
}

Test (params, text_with_quotes_and_unicode_round_trips)
{
  const char *text = "it's \"quoted\"; -- not a comment \\ $1 — ünïcødé ✓ 😀";
  g_autoptr(PgeParams) params = pge_params_new ();
  g_autoptr(PgeResult) result = NULL;

  pge_params_add_text (params, text);
  pge_params_add_text (params, "");
  result = select_params ("SELECT $1::text, length($1::text), $2::text, $2::text IS NULL", params);
  cr_assert_str_eq (pge_result_get_value (result, 0, 0), text);
  cr_assert_eq (pge_result_get_int64 (result, 0, 1), g_utf8_strlen (text, -1));
  cr_assert_str_eq (pge_result_get_value (result, 0, 2), "");
  cr_assert_not (pge_result_get_boolean (result, 0, 3));
}

Test (params, text_is_inferred_by_the_placeholder)
{
  g_autoptr(PgeParams) params = pge_params_new ();
  g_autoptr(PgeResult) result = NULL;

  pge_params_add_text (params, "41");
  pge_params_add_text (params, "2024-02-29");
  result = select_params ("SELECT $1::int + 1, $2::date + 1", params);
  cr_assert_eq (pge_result_get_int64 (result, 0, 0), 42);
  cr_assert_str_eq (pge_result_get_value (result, 0, 1), "2024-03-01");
}

Test (params, bytea_with_nul_bytes_round_trips)
{
  const guint8 data[] = { 'a', 0, 'b', 0, 0xff, 0x27, 0x5c };
  g_autoptr(PgeParams) params = pge_params_new ();
  g_autoptr(PgeResult) result = NULL;

  pge_params_add_bytea (params, data, sizeof data);
  pge_params_add_bytea (params, NULL, 0);
  result = select_params ("SELECT length($1), encode($1, 'hex'), length($2), $2 IS NULL", params);
  cr_assert_eq (pge_result_get_int64 (result, 0, 0), 7);
  cr_assert_str_eq (pge_result_get_value (result, 0, 1), "61006200ff275c");
  cr_assert_eq (pge_result_get_int64 (result, 0, 2), 0);
  cr_assert_not (pge_result_get_boolean (result, 0, 3));
}

Test (params, bytea_is_typed_bytea)
{
  const guint8 data[] = { 1, 2, 3 };
  g_autoptr(PgeParams) params = pge_params_new ();
  g_autoptr(PgeResult) result = NULL;

  pge_params_add_bytea (params, data, sizeof data);
  result = select_params ("SELECT $1", params);
  cr_assert_eq (pge_result_get_column_type (result, 0), 17);
  cr_assert_str_eq (pge_result_get_value (result, 0, 0), "\\x010203");
}

Test (params, typed_timestamptz_round_trips)
{
  g_autoptr(PgeParams) params = pge_params_new ();
  g_autoptr(PgeResult) result = NULL;

  pge_params_add_typed (params, 1184, "2024-01-01 00:00:00+00");
  pge_params_add_typed (params, 0, "7");
  result = select_params ("SELECT $1, extract(epoch FROM $1)::int8, $2::int * 6", params);
  cr_assert_eq (pge_result_get_column_type (result, 0), 1184);
  cr_assert_eq (pge_result_get_int64 (result, 0, 1), 1704067200);
  cr_assert_eq (pge_result_get_int64 (result, 0, 2), 42);
}

Test (params, typed_with_bad_text_is_query_error)
{
  g_autoptr(PgeParams) params = pge_params_new ();
  g_autoptr(GError) error = NULL;
  g_autoptr(PgeResult) result = NULL;

  pge_params_add_typed (params, 1184, "not a timestamp");
  result = pge_engine_query_sync (test_engine, "SELECT $1", params, &error);
  cr_assert_null (result);
  pge_assert_error (error, PGE_ERROR, PGE_ERROR_QUERY);
  cr_assert_str_eq (pge_error_get_sqlstate (error), "22007");
}

Test (params, int32_out_of_range_for_smallint_is_query_error)
{
  g_autoptr(PgeParams) params = pge_params_new ();
  g_autoptr(GError) error = NULL;
  g_autoptr(PgeResult) result = NULL;

  pge_params_add_int32 (params, 70000);
  result = pge_engine_query_sync (test_engine, "SELECT $1::int2", params, &error);
  pge_assert_error (error, PGE_ERROR, PGE_ERROR_QUERY);
  cr_assert_str_eq (pge_error_get_sqlstate (error), "22003");
}

Test (params, too_few_parameters_is_query_error_08P01)
{
  g_autoptr(PgeParams) params = pge_params_new ();
  g_autoptr(GError) error = NULL;
  g_autoptr(PgeResult) result = NULL;
  g_autoptr(PgeResult) after = NULL;

  pge_params_add_int32 (params, 1);
  result = pge_engine_query_sync (test_engine, "SELECT $1, $2", params, &error);
  cr_assert_null (result);
  pge_assert_error (error, PGE_ERROR, PGE_ERROR_QUERY);
  cr_assert_str_eq (pge_error_get_sqlstate (error), "08P01");
  g_clear_error (&error);
  after = pge_engine_query_sync (test_engine, "SELECT 1", NULL, &error);
  cr_assert_null (error);
}

Test (params, extra_untyped_parameter_is_query_error)
{
  g_autoptr(PgeParams) params = pge_params_new ();
  g_autoptr(GError) error = NULL;
  g_autoptr(PgeResult) result = NULL;

  /* A typed extra parameter is legal in PostgreSQL (it is declared, just
   * unused); an untyped one has no type the server could infer. */
  pge_params_add_text (params, "1");
  pge_params_add_text (params, "2");
  result = pge_engine_query_sync (test_engine, "SELECT $1::int", params, &error);
  cr_assert_null (result);
  pge_assert_error (error, PGE_ERROR, PGE_ERROR_QUERY);
  cr_assert_str_eq (pge_error_get_sqlstate (error), "42P18");
}

Test (params, are_copied_when_submitted)
{
  g_autoptr(PgeEngine) engine = pge_test_new_engine (1);
  Gate gate = { 0 };
  g_autoptr(PgeFuture) blocker = gate_close (engine, &gate);
  PgeParams *params = pge_params_new ();
  g_autoptr(PgeFuture) future = NULL;
  g_autoptr(PgeResult) result = NULL;
  g_autoptr(GError) error = NULL;

  pge_params_add_text (params, "before");
  pge_params_add_int64 (params, 5);
  /* Queued behind the gate: the job cannot have read anything yet. */
  future = pge_engine_query (engine, "SELECT $1::text, $2", params);
  pge_params_add_text (params, "extra");
  pge_params_unref (params);
  cr_assert_not (pge_future_is_done (future));
  gate_open (&gate);
  result = pge_future_wait (future, &error);
  cr_assert_null (error, "%s", error ? error->message : "");
  cr_assert_str_eq (pge_result_get_value (result, 0, 0), "before");
  cr_assert_eq (pge_result_get_int64 (result, 0, 1), 5);
}

/* A queued query sees the list as it was, even when the caller's list
 * then grows out of its first arrays (the queued one reads the old ones)
 * and gets a second, longer query of its own. */
Test (params, a_queued_query_keeps_its_values_while_the_list_grows)
{
  g_autoptr(PgeEngine) engine = pge_test_new_engine (1);
  Gate gate = { 0 };
  g_autoptr(PgeFuture) blocker = gate_close (engine, &gate);
  g_autoptr(PgeParams) params = pge_params_new ();
  g_autofree char *long_text = g_strnfill (300, 'x');
  g_autoptr(PgeFuture) first = NULL;
  g_autoptr(PgeFuture) second = NULL;
  g_autoptr(PgeResult) r1 = NULL;
  g_autoptr(PgeResult) r2 = NULL;
  g_autoptr(GError) error = NULL;

  pge_params_add_int32 (params, -2147483647 - 1);
  pge_params_add_text (params, long_text);
  pge_params_add_text (params, "short");
  first = pge_engine_query (engine, "SELECT $1::int4, length($2), $3::text", params);
  for (gint64 i = 0; i < 40; i++)
    pge_params_add_int64 (params, G_MAXINT64 - i);
  second = pge_engine_query (engine, "SELECT $43::int8, $3::text, $1::int4, length($2)", params);
  gate_open (&gate);
  r1 = pge_future_wait (first, &error);
  cr_assert_null (error, "%s", error ? error->message : "");
  cr_assert_eq (pge_result_get_int64 (r1, 0, 0), G_MININT32);
  cr_assert_eq (pge_result_get_int64 (r1, 0, 1), 300);
  cr_assert_str_eq (pge_result_get_value (r1, 0, 2), "short");
  r2 = pge_future_wait (second, &error);
  cr_assert_null (error, "%s", error ? error->message : "");
  cr_assert_eq (pge_result_get_int64 (r2, 0, 0), G_MAXINT64 - 39);
  cr_assert_str_eq (pge_result_get_value (r2, 0, 1), "short");
  cr_assert_eq (pge_result_get_int64 (r2, 0, 2), G_MININT32);
}

Test (params, can_be_reused_for_several_queries)
{
  g_autoptr(PgeParams) params = pge_params_new ();
  g_autoptr(PgeFuture) first = NULL;
  g_autoptr(PgeFuture) second = NULL;
  g_autoptr(PgeResult) r1 = NULL;
  g_autoptr(PgeResult) r2 = NULL;
  g_autoptr(GError) error = NULL;

  pge_params_add_int32 (params, 10);
  first = pge_engine_query (test_engine, "SELECT $1 * 2", params);
  second = pge_engine_query (test_engine, "SELECT $1 * 3", params);
  r1 = pge_future_wait (first, &error);
  r2 = pge_future_wait (second, &error);
  cr_assert_null (error);
  cr_assert_eq (pge_result_get_int64 (r1, 0, 0), 20);
  cr_assert_eq (pge_result_get_int64 (r2, 0, 0), 30);
}

Test (params, from_variant_supports_every_basic_type)
{
  const guint8 bytes[] = { 0, 1, 0xfe };
  g_autoptr(GError) error = NULL;
  g_autoptr(PgeParams) params = pge_params_new_from_variant (
    g_variant_new ("(bnixds@ay)", TRUE, (gint16) -32768, (gint32) G_MININT32, (gint64) G_MAXINT64,
                   0.25, "text 'é'",
                   g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE, bytes, sizeof bytes, 1)),
    &error);
  g_autoptr(PgeResult) result = NULL;

  cr_assert_null (error, "%s", error ? error->message : "");
  cr_assert_eq (pge_params_get_length (params), 7);
  result = select_params ("SELECT $1, $2, $3, $4, $5, $6, encode($7, 'hex'), length($7)", params);
  cr_assert (pge_result_get_boolean (result, 0, 0));
  cr_assert_eq (pge_result_get_column_type (result, 1), 21);
  cr_assert_eq (pge_result_get_int64 (result, 0, 1), -32768);
  cr_assert_eq (pge_result_get_column_type (result, 2), 23);
  cr_assert_eq (pge_result_get_int64 (result, 0, 2), G_MININT32);
  cr_assert_eq (pge_result_get_column_type (result, 3), 20);
  cr_assert_eq (pge_result_get_int64 (result, 0, 3), G_MAXINT64);
  cr_assert_eq (pge_result_get_double (result, 0, 4), 0.25);
  cr_assert_str_eq (pge_result_get_value (result, 0, 5), "text 'é'");
  cr_assert_str_eq (pge_result_get_value (result, 0, 6), "0001fe");
  cr_assert_eq (pge_result_get_int64 (result, 0, 7), 3);
}

Test (params, from_variant_maybe_nothing_is_null_and_just_is_value)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PgeParams) params = pge_params_new_from_variant (
    g_variant_new ("(msmxmi)", NULL, FALSE, (gint64) 0, TRUE, (gint32) 5), &error);
  g_autoptr(PgeResult) result = NULL;

  cr_assert_null (error, "%s", error ? error->message : "");
  cr_assert_eq (pge_params_get_length (params), 3);
  result = select_params ("SELECT $1::text, $2::int8, $3", params);
  cr_assert (pge_result_is_null (result, 0, 0));
  cr_assert (pge_result_is_null (result, 0, 1));
  cr_assert_eq (pge_result_get_int64 (result, 0, 2), 5);
}

Test (params, from_variant_unwraps_variants)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PgeParams) params = pge_params_new_from_variant (
    g_variant_new ("(vv)", g_variant_new_int64 (99), g_variant_new_string ("x")), &error);
  g_autoptr(PgeResult) result = NULL;

  cr_assert_null (error);
  result = select_params ("SELECT $1, $2", params);
  cr_assert_eq (pge_result_get_column_type (result, 0), 20);
  cr_assert_eq (pge_result_get_int64 (result, 0, 0), 99);
  cr_assert_str_eq (pge_result_get_value (result, 0, 1), "x");
}

Test (params, from_variant_empty_tuple_gives_no_parameters)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PgeParams) params = pge_params_new_from_variant (g_variant_new ("()"), &error);

  cr_assert_null (error);
  cr_assert_not_null (params);
  cr_assert_eq (pge_params_get_length (params), 0);
}

Test (params, from_variant_rejects_null)
{
  g_autoptr(GError) error = NULL;

  cr_assert_null (pge_params_new_from_variant (NULL, &error));
  pge_assert_error (error, PGE_ERROR, PGE_ERROR_INVALID_ARGUMENT);
}

Test (params, from_variant_rejects_a_non_tuple)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) kept = g_variant_ref_sink (g_variant_new_int32 (5));

  /* A floating non-tuple is sunk and freed; a non-floating one is left alone. */
  cr_assert_null (pge_params_new_from_variant (g_variant_new_string ("abc"), &error));
  pge_assert_error (error, PGE_ERROR, PGE_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  cr_assert_null (pge_params_new_from_variant (kept, &error));
  pge_assert_error (error, PGE_ERROR, PGE_ERROR_INVALID_ARGUMENT);
  cr_assert_eq (g_variant_get_int32 (kept), 5);
}

Test (params, from_variant_rejects_unsupported_types)
{
  const char *types[] = { "(a{sv})", "(u)", "(t)", "(y)", "(q)", "(as)", "((i))", "(h)", "(mu)" };

  for (guint i = 0; i < G_N_ELEMENTS (types); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GVariant) value = NULL;

      if (strcmp (types[i], "(a{sv})") == 0)
        value = g_variant_ref_sink (g_variant_new_parsed ("(@a{sv} {'k': <1>},)"));
      else if (strcmp (types[i], "(as)") == 0)
        value = g_variant_ref_sink (g_variant_new_parsed ("(['a'],)"));
      else if (strcmp (types[i], "((i))") == 0)
        value = g_variant_ref_sink (g_variant_new ("((i))", 1));
      else if (strcmp (types[i], "(mu)") == 0)
        value = g_variant_ref_sink (g_variant_new ("(mu)", TRUE, 1u));
      else
        value = g_variant_ref_sink (g_variant_new (types[i], 1));
      cr_assert_null (pge_params_new_from_variant (value, &error), "%s", types[i]);
      pge_assert_error (error, PGE_ERROR, PGE_ERROR_INVALID_ARGUMENT);
    }
}

Test (params, from_variant_reports_the_bad_position)
{
  g_autoptr(GError) error = NULL;

  cr_assert_null (pge_params_new_from_variant (g_variant_new ("(iiu)", 1, 2, 3u), &error));
  pge_assert_error (error, PGE_ERROR, PGE_ERROR_INVALID_ARGUMENT);
  cr_assert_not_null (strstr (error->message, "3"), "%s", error->message);
}

Test (params, more_than_65535_is_invalid_argument)
{
  g_autoptr(PgeParams) params = pge_params_new ();
  g_autoptr(GError) error = NULL;
  g_autoptr(PgeResult) result = NULL;

  for (guint i = 0; i < 65536; i++)
    pge_params_add_int32 (params, 1);
  result = pge_engine_query_sync (test_engine, "SELECT $1", params, &error);
  cr_assert_null (result);
  pge_assert_error (error, PGE_ERROR, PGE_ERROR_INVALID_ARGUMENT);
}
