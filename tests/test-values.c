/* test-values.c — typed values, strictly: every pge_params_add_* through
 * the real server and back through the matching pge_result_read_*, and
 * every getter on NULL, on a column of another type, on a value that does
 * not fit, on a cell out of range and on an unknown column name.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <float.h>
#include <math.h>
#include <string.h>

#include "fixture.h"

TestSuite (values, .init = pge_test_engine_up, .fini = pge_test_engine_down);

static PgeResult *
query (const char *sql, PgeParams *params)
{
  g_autoptr(GError) error = NULL;
  PgeResult *result = pge_engine_query_sync (test_engine, sql, params, &error);

  cr_assert_null (error, "%s: %s", sql, error ? error->message : "");
  cr_assert_not_null (result, "%s gave no result", sql);
  return result;
}

static PgeResult *
tx_query (PgeTransaction *tx, const char *sql)
{
  g_autoptr(GError) error = NULL;
  PgeResult *result = pge_transaction_query_sync (tx, sql, NULL, &error);

  cr_assert_null (error, "%s: %s", sql, error ? error->message : "");
  return result;
}

/* The server's error for @sql with @params (asserts there is one). */
static GError *
query_error (const char *sql, PgeParams *params)
{
  GError *error = NULL;
  g_autoptr(PgeResult) result = pge_engine_query_sync (test_engine, sql, params, &error);

  cr_assert_null (result, "%s should fail", sql);
  cr_assert_not_null (error, "%s should fail", sql);
  return error;
}

static void
assert_message_has (const GError *error, const char *part)
{
  cr_assert_not_null (strstr (error->message, part), "'%s' not in: %s", part, error->message);
}

/* ------------------------------------------------------------ integers */

Test (values, integers_round_trip_at_their_limits)
{
  g_autoptr(PgeResult) insert = NULL;
  g_autoptr(PgeResult) result = NULL;
  g_autoptr(GError) error = NULL;
  gint16 small = 0;
  gint32 medium = 0;
  gint64 large = 0;

  g_autoptr(PgeResult) create = query ("CREATE TABLE ints (s int2, m int4, l int8)", NULL);
  for (int i = 0; i < 2; i++)
    {
      g_autoptr(PgeParams) row = pge_params_new ();

      pge_params_add_int16 (row, i ? G_MININT16 : G_MAXINT16);
      pge_params_add_int32 (row, i ? G_MININT32 : G_MAXINT32);
      pge_params_add_int64 (row, i ? G_MININT64 : G_MAXINT64);
      g_clear_pointer (&insert, pge_result_unref);
      insert = query ("INSERT INTO ints VALUES ($1, $2, $3)", row);
    }
  result = query ("SELECT s, m, l FROM ints ORDER BY s DESC", NULL);
  cr_assert (pge_result_read_int16 (result, 0, 0, &small, &error));
  cr_assert (pge_result_read_int32 (result, 0, 1, &medium, &error));
  cr_assert (pge_result_read_int64 (result, 0, 2, &large, &error));
  cr_assert_null (error);
  cr_assert_eq (small, G_MAXINT16);
  cr_assert_eq (medium, G_MAXINT32);
  cr_assert_eq (large, G_MAXINT64);
  cr_assert (pge_result_read_int16_by_name (result, 1, "s", &small, &error));
  cr_assert (pge_result_read_int32_by_name (result, 1, "m", &medium, &error));
  cr_assert (pge_result_read_int64_by_name (result, 1, "l", &large, &error));
  cr_assert_eq (small, G_MININT16);
  cr_assert_eq (medium, G_MININT32);
  cr_assert_eq (large, G_MININT64);
  /* Narrower columns widen: an int2 reads as an int64. */
  cr_assert (pge_result_read_int64 (result, 1, 0, &large, &error));
  cr_assert_eq (large, G_MININT16);
}

Test (values, int16_param_is_sent_as_int2)
{
  g_autoptr(PgeParams) params = pge_params_new ();
  g_autoptr(PgeResult) result = NULL;

  pge_params_add_int16 (params, -7);
  result = query ("SELECT pg_typeof($1)::text, $1", params);
  cr_assert_str_eq (pge_result_get_value (result, 0, 0), "smallint");
  cr_assert_str_eq (pge_result_get_value (result, 0, 1), "-7");
}

Test (values, int_that_does_not_fit_is_a_conversion_error)
{
  g_autoptr(PgeResult) result = query ("SELECT 8000000000::int8, 40000::int4, (-2147483648)::int8", NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(GError) small_error = NULL;
  gint32 medium = 99;
  gint16 small = 99;

  cr_assert_not (pge_result_read_int32 (result, 0, 0, &medium, &error));
  pge_assert_error (error, PGE_ERROR, PGE_ERROR_CONVERSION);
  assert_message_has (error, "8000000000");
  cr_assert_eq (medium, 0, "a failed read leaves 0, not a truncated number");
  cr_assert_not (pge_result_read_int16 (result, 0, 1, &small, &small_error));
  pge_assert_error (small_error, PGE_ERROR, PGE_ERROR_CONVERSION);
  cr_assert_eq (small, 0);
  /* The limit itself fits. */
  cr_assert (pge_result_read_int32 (result, 0, 2, &medium, NULL));
  cr_assert_eq (medium, G_MININT32);
}

Test (values, int_of_text_is_a_conversion_error_not_zero)
{
  g_autoptr(PgeResult) result = query ("SELECT 'abc'::text AS word, '12'::text AS digits", NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(GError) digits_error = NULL;
  gint32 value = 5;

  cr_assert_not (pge_result_read_int32 (result, 0, 0, &value, &error));
  pge_assert_error (error, PGE_ERROR, PGE_ERROR_CONVERSION);
  assert_message_has (error, "(\"word\") is text");
  cr_assert_eq (value, 0);
  /* Strict on the type: text that happens to be digits is still text. */
  cr_assert_not (pge_result_read_int32_by_name (result, 0, "digits", &value, &digits_error));
  pge_assert_error (digits_error, PGE_ERROR, PGE_ERROR_CONVERSION);
  /* The lax getter keeps its documented behaviour. */
  cr_assert_eq (pge_result_get_int64 (result, 0, 0), 0);
}

/* -------------------------------------------------------------- floats */

Test (values, floats_round_trip_exactly_with_specials)
{
  static const float floats[] = { 1.1f, FLT_MAX, -FLT_MIN, 0.0f, INFINITY, -INFINITY };
  static const double doubles[] = { 0.1, DBL_MAX, 5e-324, -1.0 / 3.0, INFINITY, -INFINITY };
  g_autoptr(PgeResult) create = query ("CREATE TABLE floats (i int, f float4, d float8)", NULL);

  for (guint i = 0; i < G_N_ELEMENTS (floats); i++)
    {
      g_autoptr(PgeParams) params = pge_params_new ();
      g_autoptr(PgeResult) insert = NULL;

      pge_params_add_int32 (params, (gint32) i);
      pge_params_add_float (params, floats[i]);
      pge_params_add_double (params, doubles[i]);
      insert = query ("INSERT INTO floats VALUES ($1, $2, $3)", params);
    }
  {
    g_autoptr(PgeResult) result = query ("SELECT f, d FROM floats ORDER BY i", NULL);

    for (guint i = 0; i < G_N_ELEMENTS (floats); i++)
      {
        g_autoptr(GError) error = NULL;
        float f = 0;
        double d = 0;

        cr_assert (pge_result_read_float (result, i, 0, &f, &error), "%s", error ? error->message : "");
        cr_assert (pge_result_read_double_by_name (result, i, "d", &d, &error));
        cr_assert (f == floats[i], "float %u: %.9g != %.9g", i, f, floats[i]);
        cr_assert (d == doubles[i], "double %u: %.17g != %.17g", i, d, doubles[i]);
      }
  }
}

Test (values, nan_is_a_value_not_an_error)
{
  g_autoptr(PgeParams) params = pge_params_new ();
  g_autoptr(PgeResult) result = NULL;
  g_autoptr(GError) error = NULL;
  float f = 0;
  double d = 0, n = 0;

  pge_params_add_float (params, NAN);
  pge_params_add_double (params, NAN);
  result = query ("SELECT $1, $2, 'NaN'::numeric", params);
  cr_assert (pge_result_read_float (result, 0, 0, &f, &error));
  cr_assert (pge_result_read_double (result, 0, 1, &d, &error));
  cr_assert (pge_result_read_double (result, 0, 2, &n, &error));
  cr_assert (isnan (f) && isnan (d) && isnan (n));
}

Test (values, float_getter_refuses_float8_and_text)
{
  g_autoptr(PgeResult) result = query ("SELECT 1.5::float8, 'NaN'::text, 2::int2", NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(GError) text_error = NULL;
  float f = 1;
  double d = 1;

  cr_assert_not (pge_result_read_float (result, 0, 0, &f, &error));
  pge_assert_error (error, PGE_ERROR, PGE_ERROR_CONVERSION);
  cr_assert_eq (f, 0);
  cr_assert_not (pge_result_read_double (result, 0, 1, &d, &text_error));
  pge_assert_error (text_error, PGE_ERROR, PGE_ERROR_CONVERSION);
  cr_assert_eq (d, 0);
  cr_assert (pge_result_read_float (result, 0, 2, &f, NULL));
  cr_assert_eq (f, 2.0f);
}

/* ------------------------------------------------------------- numeric */

Test (values, numeric_round_trips_as_text_every_digit)
{
  static const char *digits = "-12345678901234567890.123456789012345678900";
  g_autoptr(PgeParams) params = pge_params_new ();
  g_autoptr(PgeResult) result = NULL;
  g_autoptr(GError) error = NULL;
  double d = 0;

  pge_params_add_numeric (params, digits);
  pge_params_add_numeric (params, NULL);
  result = query ("SELECT $1, pg_typeof($1)::text, $2::numeric IS NULL, 42::int8", params);
  cr_assert_str_eq (pge_result_read_numeric (result, 0, 0, &error), digits);
  cr_assert_str_eq (pge_result_get_value (result, 0, 1), "numeric");
  cr_assert_str_eq (pge_result_get_value (result, 0, 2), "t");
  cr_assert (pge_result_read_double (result, 0, 0, &d, &error));
  cr_assert_float_eq (d, -12345678901234567890.123456789, 1e4);
  cr_assert_str_eq (pge_result_read_numeric (result, 0, 3, &error), "42");
  cr_assert_null (error);
}

Test (values, numeric_as_double_fails_when_it_does_not_fit)
{
  g_autoptr(PgeResult) result = query ("SELECT ('1' || repeat('0', 400))::numeric AS huge, "
                                       "('0.' || repeat('0', 400) || '1')::numeric AS tiny, "
                                       "0.000::numeric AS zero, 'Infinity'::numeric AS inf", NULL);
  g_autoptr(GError) huge = NULL;
  g_autoptr(GError) tiny = NULL;
  g_autoptr(GError) error = NULL;
  double d = 1;

  cr_assert_not (pge_result_read_double_by_name (result, 0, "huge", &d, &huge));
  pge_assert_error (huge, PGE_ERROR, PGE_ERROR_CONVERSION);
  assert_message_has (huge, "overflows");
  cr_assert_not (pge_result_read_double_by_name (result, 0, "tiny", &d, &tiny));
  pge_assert_error (tiny, PGE_ERROR, PGE_ERROR_CONVERSION);
  assert_message_has (tiny, "underflows");
  cr_assert (pge_result_read_double_by_name (result, 0, "zero", &d, &error));
  cr_assert_eq (d, 0.0);
  cr_assert (pge_result_read_double_by_name (result, 0, "inf", &d, &error));
  cr_assert (isinf (d) && d > 0);
}

Test (values, int8_beyond_2_53_does_not_become_another_double)
{
  g_autoptr(PgeResult) result = query ("SELECT 9007199254740993::int8, 9007199254740992::int8", NULL);
  g_autoptr(GError) error = NULL;
  double d = 1;

  cr_assert_not (pge_result_read_double (result, 0, 0, &d, &error));
  pge_assert_error (error, PGE_ERROR, PGE_ERROR_CONVERSION);
  cr_assert (pge_result_read_double (result, 0, 1, &d, NULL));
  cr_assert_eq (d, 9007199254740992.0);
}

Test (values, malformed_numeric_param_is_the_servers_error)
{
  g_autoptr(PgeParams) params = pge_params_new ();
  g_autoptr(GError) error = NULL;

  pge_params_add_numeric (params, "12abc");
  error = query_error ("SELECT $1", params);
  pge_assert_error (error, PGE_ERROR, PGE_ERROR_QUERY);
  cr_assert_str_eq (pge_error_get_sqlstate (error), "22P02");
}

/* ------------------------------------------------ text, bytea, boolean */

Test (values, text_bytea_and_boolean_round_trip)
{
  static const guint8 bytes[] = { 0, 1, 0xff, '\\', 'x', 0, '\'' };
  g_autoptr(PgeParams) params = pge_params_new ();
  g_autoptr(PgeResult) result = NULL;
  g_autoptr(GBytes) read = NULL;
  g_autoptr(GBytes) empty = NULL;
  g_autoptr(GError) error = NULL;
  gboolean yes = FALSE, no = TRUE;

  pge_params_add_text (params, "héllo 'world' \\");
  pge_params_add_bytea (params, bytes, sizeof bytes);
  pge_params_add_bytea (params, NULL, 0);
  pge_params_add_boolean (params, TRUE);
  pge_params_add_boolean (params, FALSE);
  result = query ("SELECT $1::text AS t, $2 AS b, $3 AS e, $4 AS yes, $5 AS no", params);
  cr_assert_str_eq (pge_result_read_text_by_name (result, 0, "t", &error), "héllo 'world' \\");
  read = pge_result_read_bytes_by_name (result, 0, "b", &error);
  cr_assert_not_null (read, "%s", error ? error->message : "");
  cr_assert_eq (g_bytes_get_size (read), sizeof bytes);
  cr_assert_arr_eq (g_bytes_get_data (read, NULL), bytes, sizeof bytes);
  empty = pge_result_read_bytes (result, 0, 2, &error);
  cr_assert_not_null (empty);
  cr_assert_eq (g_bytes_get_size (empty), 0);
  cr_assert (pge_result_read_boolean_by_name (result, 0, "yes", &yes, &error));
  cr_assert (pge_result_read_boolean (result, 0, 4, &no, &error));
  cr_assert (yes);
  cr_assert_not (no);
  cr_assert_null (error);
}

Test (values, bytea_param_is_sent_in_binary)
{
  g_autoptr(PgeParams) params = pge_params_new ();
  g_autoptr(PgeResult) result = NULL;

  pge_params_add_bytea (params, (const guint8 *) "\0\1", 2);
  result = query ("SELECT length($1), $1 = '\\x0001'::bytea", params);
  cr_assert_str_eq (pge_result_get_value (result, 0, 0), "2");
  cr_assert_str_eq (pge_result_get_value (result, 0, 1), "t");
}

Test (values, bytea_reads_in_escape_output_too)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PgeTransaction) tx = pge_engine_transaction (test_engine, PGE_TRANSACTION_DEFAULT, &error);
  g_autoptr(PgeResult) set = NULL;
  g_autoptr(PgeResult) result = NULL;
  g_autoptr(GBytes) bytes = NULL;

  cr_assert_not_null (tx);
  set = tx_query (tx, "SET LOCAL bytea_output = 'escape'");
  result = tx_query (tx, "SELECT '\\x00ff5c41'::bytea");
  cr_assert_str_neq (pge_result_get_value (result, 0, 0), "\\x00ff5c41");
  bytes = pge_result_read_bytes (result, 0, 0, &error);
  cr_assert_not_null (bytes, "%s", error ? error->message : "");
  cr_assert_eq (g_bytes_get_size (bytes), 4);
  cr_assert_arr_eq (g_bytes_get_data (bytes, NULL), "\x00\xff\x5c\x41", 4);
  cr_assert (pge_transaction_rollback (tx, NULL));
}

Test (values, text_getter_refuses_bytea_and_reads_other_types)
{
  g_autoptr(PgeResult) result = query ("SELECT '\\x01'::bytea, 42::int4, 'x'::varchar", NULL);
  g_autoptr(GError) error = NULL;

  cr_assert_null (pge_result_read_text (result, 0, 0, &error));
  pge_assert_error (error, PGE_ERROR, PGE_ERROR_CONVERSION);
  assert_message_has (error, "pge_result_read_bytes");
  cr_assert_str_eq (pge_result_read_text (result, 0, 1, NULL), "42");
  cr_assert_str_eq (pge_result_read_text (result, 0, 2, NULL), "x");
}

/* ---------------------------------------------------- dates and times */

static GDateTime *
utc (int year, int month, int day, int hour, int minute, int second, int usec)
{
  g_autoptr(GTimeZone) zone = g_time_zone_new_utc ();
  g_autoptr(GDateTime) whole = g_date_time_new (zone, year, month, day, hour, minute, second);

  return g_date_time_add (whole, usec);
}

static void
assert_same_instant (GDateTime *a, GDateTime *b)
{
  g_autofree char *sa = g_date_time_format_iso8601 (a);
  g_autofree char *sb = g_date_time_format_iso8601 (b);

  cr_assert_not_null (a);
  cr_assert_not_null (b);
  cr_assert (g_date_time_equal (a, b), "%s != %s", sa, sb);
}

Test (values, dates_round_trip_at_midnight_utc)
{
  g_autoptr(GDateTime) leap = utc (2024, 2, 29, 0, 0, 0, 0);
  g_autoptr(GDateTime) first = utc (1, 1, 1, 0, 0, 0, 0);
  g_autoptr(GDateTime) last = utc (9999, 12, 31, 0, 0, 0, 0);
  g_autoptr(GTimeZone) east = g_time_zone_new_offset (14 * 3600);
  /* Late on the 1st in UTC+14 is still the 1st there: the day is read in
   * the GDateTime's own zone. */
  g_autoptr(GDateTime) local = g_date_time_new (east, 2020, 3, 1, 23, 30, 0);
  g_autoptr(GDateTime) local_day = utc (2020, 3, 1, 0, 0, 0, 0);
  g_autoptr(PgeParams) params = pge_params_new ();
  g_autoptr(PgeResult) result = NULL;
  g_autoptr(GError) error = NULL;

  pge_params_add_date (params, leap);
  pge_params_add_date (params, first);
  pge_params_add_date (params, last);
  pge_params_add_date (params, local);
  pge_params_add_date (params, NULL);
  result = query ("SELECT $1 AS leap, $2, $3, $4, $5::date IS NULL, pg_typeof($1)::text", params);
  cr_assert_str_eq (pge_result_get_value (result, 0, 0), "2024-02-29");
  cr_assert_str_eq (pge_result_get_value (result, 0, 5), "date");
  {
    g_autoptr(GDateTime) a = pge_result_read_date_by_name (result, 0, "leap", &error);
    g_autoptr(GDateTime) b = pge_result_read_date (result, 0, 1, &error);
    g_autoptr(GDateTime) c = pge_result_read_date (result, 0, 2, &error);
    g_autoptr(GDateTime) d = pge_result_read_date (result, 0, 3, &error);

    cr_assert_null (error);
    assert_same_instant (a, leap);
    assert_same_instant (b, first);
    assert_same_instant (c, last);
    assert_same_instant (d, local_day);
    cr_assert_eq (g_date_time_get_utc_offset (a), 0);
  }
  cr_assert_str_eq (pge_result_get_value (result, 0, 4), "t");
}

Test (values, infinite_and_bc_dates_are_conversion_errors)
{
  g_autoptr(PgeResult) result = query ("SELECT 'infinity'::date, '-infinity'::timestamp, "
                                       "'infinity'::timestamptz, '0044-03-15 BC'::date, "
                                       "'10000-01-01'::date", NULL);

  for (guint column = 0; column < 5; column++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GDateTime) value = column == 1 ? pge_result_read_timestamp (result, 0, column, &error)
                                   : column == 2 ? pge_result_read_timestamptz (result, 0, column, &error)
                                   : pge_result_read_date (result, 0, column, &error);

      cr_assert_null (value, "column %u", column);
      pge_assert_error (error, PGE_ERROR, PGE_ERROR_CONVERSION);
    }
}

Test (values, timestamp_keeps_the_wall_clock_fields)
{
  g_autoptr(GTimeZone) india = g_time_zone_new_offset (5 * 3600 + 1800);
  g_autoptr(GDateTime) base = g_date_time_new (india, 2023, 7, 14, 9, 41, 7);
  g_autoptr(GDateTime) there = g_date_time_add (base, 123456);
  g_autoptr(GDateTime) fields = utc (2023, 7, 14, 9, 41, 7, 123456);
  g_autoptr(GDateTime) old = utc (1901, 12, 13, 20, 45, 52, 1);
  g_autoptr(PgeParams) params = pge_params_new ();
  g_autoptr(PgeResult) result = NULL;
  g_autoptr(GError) error = NULL;

  pge_params_add_timestamp (params, there);
  pge_params_add_timestamp (params, old);
  result = query ("SELECT $1 AS t, $2, pg_typeof($1)::text", params);
  cr_assert_str_eq (pge_result_get_value (result, 0, 0), "2023-07-14 09:41:07.123456");
  cr_assert_str_eq (pge_result_get_value (result, 0, 2), "timestamp without time zone");
  {
    g_autoptr(GDateTime) a = pge_result_read_timestamp_by_name (result, 0, "t", &error);
    g_autoptr(GDateTime) b = pge_result_read_timestamp (result, 0, 1, &error);

    cr_assert_null (error);
    assert_same_instant (a, fields);
    assert_same_instant (b, old);
  }
}

/* The same instant read under two session time zones, on one connection
 * (a transaction), including an offset with seconds (local mean time). */
Test (values, timestamptz_is_the_same_instant_in_any_session_zone)
{
  g_autoptr(GDateTime) instant = utc (2024, 1, 15, 12, 0, 0, 654321);
  g_autoptr(GDateTime) early = utc (1900, 1, 1, 0, 0, 0, 0);
  g_autoptr(PgeParams) params = pge_params_new ();
  g_autoptr(PgeResult) create = query ("CREATE TABLE stamps (i int, t timestamptz)", NULL);
  g_autoptr(PgeResult) insert = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(PgeTransaction) tx = NULL;
  static const struct { const char *zone; GTimeSpan offset; GTimeSpan early_offset; } zones[] = {
    { "America/New_York", -5 * G_TIME_SPAN_HOUR, -5 * G_TIME_SPAN_HOUR },
    /* Before 1942 Kolkata kept Madras time, +05:21:10. */
    { "Asia/Kolkata", 5 * G_TIME_SPAN_HOUR + 30 * G_TIME_SPAN_MINUTE,
      5 * G_TIME_SPAN_HOUR + 21 * G_TIME_SPAN_MINUTE + 10 * G_TIME_SPAN_SECOND },
  };

  pge_params_add_timestamptz (params, instant);
  pge_params_add_timestamptz (params, early);
  insert = query ("INSERT INTO stamps VALUES (1, $1), (2, $2)", params);
  tx = pge_engine_transaction (test_engine, PGE_TRANSACTION_DEFAULT, &error);
  cr_assert_not_null (tx);
  for (guint z = 0; z < G_N_ELEMENTS (zones); z++)
    {
      g_autofree char *set_sql = g_strdup_printf ("SET LOCAL TimeZone = '%s'", zones[z].zone);
      g_autoptr(PgeResult) set = tx_query (tx, set_sql);
      g_autoptr(PgeResult) result = tx_query (tx, "SELECT t FROM stamps ORDER BY i");
      g_autoptr(GDateTime) a = pge_result_read_timestamptz (result, 0, 0, &error);
      g_autoptr(GDateTime) b = pge_result_read_timestamptz_by_name (result, 1, "t", &error);

      cr_assert_null (error, "%s: %s", zones[z].zone, error ? error->message : "");
      assert_same_instant (a, instant);
      assert_same_instant (b, early);
      cr_assert_eq (g_date_time_get_utc_offset (a), zones[z].offset, "%s: %s", zones[z].zone,
                    pge_result_get_value (result, 0, 0));
      cr_assert_eq (g_date_time_get_utc_offset (b), zones[z].early_offset, "%s: %s", zones[z].zone,
                    pge_result_get_value (result, 1, 0));
    }
  cr_assert (pge_transaction_rollback (tx, NULL));
}

Test (values, timestamptz_param_ignores_the_session_zone)
{
  g_autoptr(GTimeZone) zone = g_time_zone_new_offset (-3 * 3600);
  g_autoptr(GDateTime) instant = g_date_time_new (zone, 2022, 6, 1, 8, 0, 0);
  g_autoptr(GError) error = NULL;
  g_autoptr(PgeTransaction) tx = pge_engine_transaction (test_engine, PGE_TRANSACTION_DEFAULT, &error);
  g_autoptr(PgeParams) params = pge_params_new ();
  g_autoptr(PgeResult) set = NULL;
  g_autoptr(PgeResult) result = NULL;

  cr_assert_not_null (tx);
  set = tx_query (tx, "SET LOCAL TimeZone = 'Pacific/Auckland'");
  pge_params_add_timestamptz (params, instant);
  result = pge_transaction_query_sync (tx, "SELECT $1 = '2022-06-01 11:00:00+00'::timestamptz", params,
                                       &error);
  cr_assert_not_null (result, "%s", error ? error->message : "");
  cr_assert_str_eq (pge_result_get_value (result, 0, 0), "t");
  cr_assert (pge_transaction_rollback (tx, NULL));
}

Test (values, another_datestyle_is_named_in_the_error)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GError) date_error = NULL;
  g_autoptr(PgeTransaction) tx = pge_engine_transaction (test_engine, PGE_TRANSACTION_DEFAULT, &error);
  g_autoptr(PgeResult) set = NULL;
  g_autoptr(PgeResult) result = NULL;
  g_autoptr(GDateTime) date = NULL;

  cr_assert_not_null (tx);
  set = tx_query (tx, "SET LOCAL DateStyle = 'SQL, DMY'");
  result = tx_query (tx, "SELECT '2024-05-06'::date");
  date = pge_result_read_date (result, 0, 0, &date_error);
  cr_assert_null (date);
  pge_assert_error (date_error, PGE_ERROR, PGE_ERROR_CONVERSION);
  assert_message_has (date_error, "DateStyle");
  cr_assert (pge_transaction_rollback (tx, NULL));
}

/* ----------------------------------------------------------- intervals */

Test (values, intervals_round_trip_field_for_field)
{
  static const PgeInterval intervals[] = {
    { 14, -3, G_GINT64_CONSTANT (14706500000) },
    { 0, 0, 0 },
    { -1, 1, -1 },
    { G_MAXINT32, G_MININT32, G_MAXINT64 },
    { G_MININT32, G_MAXINT32, G_MININT64 + 1 },
  };
  g_autoptr(PgeResult) create = query ("CREATE TABLE spans (i int, s interval)", NULL);

  for (guint i = 0; i < G_N_ELEMENTS (intervals); i++)
    {
      g_autoptr(PgeParams) params = pge_params_new ();
      g_autoptr(PgeResult) insert = NULL;

      pge_params_add_int32 (params, (gint32) i);
      pge_params_add_interval (params, &intervals[i]);
      insert = query ("INSERT INTO spans VALUES ($1, $2)", params);
    }
  {
    g_autoptr(PgeResult) result = query ("SELECT s FROM spans ORDER BY i", NULL);

    for (guint i = 0; i < G_N_ELEMENTS (intervals); i++)
      {
        g_autoptr(GError) error = NULL;
        PgeInterval value;

        cr_assert (pge_result_read_interval_by_name (result, i, "s", &value, &error),
                   "%s: %s", pge_result_get_value (result, i, 0), error ? error->message : "");
        cr_assert (value.months == intervals[i].months && value.days == intervals[i].days &&
                   value.microseconds == intervals[i].microseconds,
                   "%s read as { %d, %d, %" G_GINT64_FORMAT " }", pge_result_get_value (result, i, 0),
                   value.months, value.days, value.microseconds);
      }
  }
}

Test (values, interval_literals_read_as_months_days_microseconds)
{
  g_autoptr(PgeResult) result = query ("SELECT '1 year 2 mons -3 days 04:05:06.5'::interval, "
                                       "'-00:00:00.000001'::interval, '-1 year -1 day'::interval, "
                                       "'100 hours'::interval", NULL);
  static const PgeInterval expected[] = {
    { 14, -3, G_GINT64_CONSTANT (14706500000) },
    { 0, 0, -1 },
    { -12, -1, 0 },
    { 0, 0, G_GINT64_CONSTANT (360000000000) },
  };

  for (guint i = 0; i < G_N_ELEMENTS (expected); i++)
    {
      g_autoptr(GError) error = NULL;
      PgeInterval value;

      cr_assert (pge_result_read_interval (result, 0, i, &value, &error), "%s", error ? error->message : "");
      cr_assert (value.months == expected[i].months && value.days == expected[i].days &&
                 value.microseconds == expected[i].microseconds, "%s", pge_result_get_value (result, 0, i));
    }
}

Test (values, another_intervalstyle_is_a_conversion_error)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GError) read_error = NULL;
  g_autoptr(PgeTransaction) tx = pge_engine_transaction (test_engine, PGE_TRANSACTION_DEFAULT, &error);
  g_autoptr(PgeResult) set = NULL;
  g_autoptr(PgeResult) result = NULL;
  PgeInterval value = { 1, 1, 1 };

  cr_assert_not_null (tx);
  set = tx_query (tx, "SET LOCAL IntervalStyle = 'iso_8601'");
  result = tx_query (tx, "SELECT '1 day 2 hours'::interval");
  cr_assert_not (pge_result_read_interval (result, 0, 0, &value, &read_error));
  pge_assert_error (read_error, PGE_ERROR, PGE_ERROR_CONVERSION);
  assert_message_has (read_error, "IntervalStyle");
  cr_assert (value.months == 0 && value.days == 0 && value.microseconds == 0);
  cr_assert (pge_transaction_rollback (tx, NULL));
}

/* ------------------------------------------------------- uuid and json */

Test (values, uuid_round_trips_and_bad_uuid_is_the_servers_error)
{
  static const char *id = "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11";
  g_autoptr(PgeParams) params = pge_params_new ();
  g_autoptr(PgeParams) bad = pge_params_new ();
  g_autoptr(PgeResult) result = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GError) text_error = NULL;

  pge_params_add_uuid (params, "A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11");
  result = query ("SELECT $1 AS id, pg_typeof($1)::text, $1::text AS t", params);
  cr_assert_str_eq (pge_result_read_uuid_by_name (result, 0, "id", &error), id);
  cr_assert_str_eq (pge_result_get_value (result, 0, 1), "uuid");
  cr_assert_null (pge_result_read_uuid_by_name (result, 0, "t", &text_error));
  pge_assert_error (text_error, PGE_ERROR, PGE_ERROR_CONVERSION);
  pge_params_add_uuid (bad, "not-a-uuid");
  g_clear_error (&error);
  error = query_error ("SELECT $1", bad);
  cr_assert_str_eq (pge_error_get_sqlstate (error), "22P02");
}

Test (values, json_and_jsonb_round_trip_as_text)
{
  g_autoptr(PgeParams) params = pge_params_new ();
  g_autoptr(PgeParams) bad = pge_params_new ();
  g_autoptr(PgeResult) result = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GError) null_error = NULL;

  pge_params_add_json (params, "{\"b\": [1,  2], \"a\": null}");
  pge_params_add_jsonb (params, "{\"b\": [1,  2], \"a\": null}");
  pge_params_add_jsonb (params, "null");
  pge_params_add_json (params, NULL);
  result = query ("SELECT $1 AS j, $2 AS jb, $3, $4::json, pg_typeof($2)::text", params);
  /* json keeps the text as written; jsonb normalizes it. */
  cr_assert_str_eq (pge_result_read_json_by_name (result, 0, "j", &error), "{\"b\": [1,  2], \"a\": null}");
  cr_assert_str_eq (pge_result_read_json_by_name (result, 0, "jb", &error), "{\"a\": null, \"b\": [1, 2]}");
  cr_assert_str_eq (pge_result_read_json (result, 0, 2, &error), "null");
  cr_assert_null (error);
  cr_assert_null (pge_result_read_json (result, 0, 3, &null_error));
  pge_assert_error (null_error, PGE_ERROR, PGE_ERROR_NULL_VALUE);
  cr_assert_str_eq (pge_result_get_value (result, 0, 4), "jsonb");
  pge_params_add_jsonb (bad, "{oops");
  error = query_error ("SELECT $1", bad);
  cr_assert_str_eq (pge_error_get_sqlstate (error), "22P02");
}

/* -------------------------------------------------------------- arrays */

Test (values, text_array_round_trips_quotes_escapes_and_nulls)
{
  static const char *const elements[] = {
    "plain", "a,b", "with \"quotes\"", "back\\slash", "NULL", NULL, "", " spaced ", "{braces}", "tab\tnew\nline", "ünï",
  };
  g_autoptr(PgeParams) params = pge_params_new ();
  g_autoptr(PgeResult) result = NULL;
  g_autoptr(GPtrArray) read = NULL;
  g_autoptr(GError) error = NULL;

  pge_params_add_text_array (params, elements, G_N_ELEMENTS (elements));
  result = query ("SELECT $1 AS a, pg_typeof($1)::text, array_length($1, 1), $1[6] IS NULL", params);
  cr_assert_str_eq (pge_result_get_value (result, 0, 1), "text[]");
  cr_assert_str_eq (pge_result_get_value (result, 0, 2), "11");
  cr_assert_str_eq (pge_result_get_value (result, 0, 3), "t");
  read = pge_result_read_text_array_by_name (result, 0, "a", &error);
  cr_assert_not_null (read, "%s", error ? error->message : "");
  cr_assert_eq (read->len, G_N_ELEMENTS (elements));
  for (guint i = 0; i < read->len; i++)
    cr_assert (g_strcmp0 (g_ptr_array_index (read, i), elements[i]) == 0, "element %u: '%s' != '%s'", i,
               (char *) g_ptr_array_index (read, i), elements[i]);
}

Test (values, strv_and_empty_arrays)
{
  const char *strv[] = { "x", "y", NULL };
  g_autoptr(PgeParams) params = pge_params_new ();
  g_autoptr(PgeResult) result = NULL;
  g_autoptr(GPtrArray) two = NULL;
  g_autoptr(GPtrArray) none = NULL;
  g_autoptr(GArray) no_ints = NULL;
  g_autoptr(GError) error = NULL;

  pge_params_add_text_array (params, strv, -1);
  pge_params_add_text_array (params, NULL, 0);
  pge_params_add_int64_array (params, NULL, 0);
  result = query ("SELECT $1, $2, $3", params);
  two = pge_result_read_text_array (result, 0, 0, &error);
  none = pge_result_read_text_array (result, 0, 1, &error);
  no_ints = pge_result_read_int64_array (result, 0, 2, &error);
  cr_assert_null (error);
  cr_assert_eq (two->len, 2);
  cr_assert_str_eq (g_ptr_array_index (two, 1), "y");
  cr_assert_eq (none->len, 0);
  cr_assert_eq (no_ints->len, 0);
}

Test (values, number_and_boolean_arrays_round_trip)
{
  static const gint32 ints[] = { G_MININT32, -1, 0, G_MAXINT32 };
  static const gint64 longs[] = { G_MININT64, 42, G_MAXINT64 };
  static const double doubles[] = { 0.1, -INFINITY, 5e-324, DBL_MAX };
  static const gboolean bools[] = { TRUE, FALSE, TRUE };
  g_autoptr(PgeParams) params = pge_params_new ();
  g_autoptr(PgeResult) result = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GArray) i32 = NULL;
  g_autoptr(GArray) i64 = NULL;
  g_autoptr(GArray) dbl = NULL;
  g_autoptr(GArray) bln = NULL;
  g_autoptr(GArray) widened = NULL;

  pge_params_add_int32_array (params, ints, G_N_ELEMENTS (ints));
  pge_params_add_int64_array (params, longs, G_N_ELEMENTS (longs));
  pge_params_add_double_array (params, doubles, G_N_ELEMENTS (doubles));
  pge_params_add_boolean_array (params, bools, G_N_ELEMENTS (bools));
  result = query ("SELECT $1 AS i, $2 AS l, $3 AS d, $4 AS b, "
                  "pg_typeof($1)::text || pg_typeof($2)::text || pg_typeof($3)::text || pg_typeof($4)::text",
                  params);
  cr_assert_str_eq (pge_result_get_value (result, 0, 4), "integer[]bigint[]double precision[]boolean[]");
  i32 = pge_result_read_int32_array_by_name (result, 0, "i", &error);
  i64 = pge_result_read_int64_array_by_name (result, 0, "l", &error);
  dbl = pge_result_read_double_array_by_name (result, 0, "d", &error);
  bln = pge_result_read_boolean_array_by_name (result, 0, "b", &error);
  widened = pge_result_read_int64_array (result, 0, 0, &error);
  cr_assert_null (error, "%s", error ? error->message : "");
  cr_assert_eq (i32->len, G_N_ELEMENTS (ints));
  cr_assert_arr_eq (i32->data, ints, sizeof ints);
  cr_assert_eq (i64->len, G_N_ELEMENTS (longs));
  cr_assert_arr_eq (i64->data, longs, sizeof longs);
  cr_assert_eq (dbl->len, G_N_ELEMENTS (doubles));
  for (guint i = 0; i < dbl->len; i++)
    cr_assert (g_array_index (dbl, double, i) == doubles[i], "double %u", i);
  cr_assert_eq (bln->len, G_N_ELEMENTS (bools));
  cr_assert_arr_eq (bln->data, bools, sizeof bools);
  cr_assert_eq (g_array_index (widened, gint64, 0), G_MININT32);
}

Test (values, typed_array_with_a_null_element_names_it)
{
  g_autoptr(PgeResult) result = query ("SELECT ARRAY[1, NULL, 3]::int4[], ARRAY[true, NULL], "
                                       "ARRAY[1.5, NULL]::float8[]", NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(GError) bool_error = NULL;
  g_autoptr(GError) double_error = NULL;
  g_autoptr(GArray) ints = pge_result_read_int32_array (result, 0, 0, &error);
  g_autoptr(GArray) bools = pge_result_read_boolean_array (result, 0, 1, &bool_error);
  g_autoptr(GArray) doubles = pge_result_read_double_array (result, 0, 2, &double_error);
  g_autoptr(GPtrArray) texts = pge_result_read_text_array (result, 0, 0, NULL);

  cr_assert_null (ints);
  pge_assert_error (error, PGE_ERROR, PGE_ERROR_NULL_VALUE);
  assert_message_has (error, "element 1");
  cr_assert_null (bools);
  pge_assert_error (bool_error, PGE_ERROR, PGE_ERROR_NULL_VALUE);
  cr_assert_null (doubles);
  pge_assert_error (double_error, PGE_ERROR, PGE_ERROR_NULL_VALUE);
  /* The text form shows where the NULL is. */
  cr_assert_eq (texts->len, 3);
  cr_assert_null (g_ptr_array_index (texts, 1));
  cr_assert_str_eq (g_ptr_array_index (texts, 2), "3");
}

Test (values, multi_dimensional_arrays_are_refused_and_bounds_are_skipped)
{
  g_autoptr(PgeResult) result = query ("SELECT '{{1,2},{3,4}}'::int4[], '[0:2]={7,8,9}'::int4[], "
                                       "'{{a}}'::text[], '[1:1][1:1]={{x}}'::text[]", NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(GArray) shifted = NULL;

  for (guint column = 0; column < 4; column += column == 0 ? 2 : 1)
    {
      g_autoptr(GError) dims = NULL;
      g_autoptr(GPtrArray) texts = pge_result_read_text_array (result, 0, column, &dims);

      cr_assert_null (texts, "column %u", column);
      pge_assert_error (dims, PGE_ERROR, PGE_ERROR_CONVERSION);
      assert_message_has (dims, "dimension");
    }
  {
    g_autoptr(GError) dims = NULL;
    g_autoptr(GArray) ints = pge_result_read_int64_array (result, 0, 0, &dims);

    cr_assert_null (ints);
    pge_assert_error (dims, PGE_ERROR, PGE_ERROR_CONVERSION);
  }
  shifted = pge_result_read_int32_array (result, 0, 1, &error);
  cr_assert_not_null (shifted, "%s", error ? error->message : "");
  cr_assert_eq (shifted->len, 3);
  cr_assert_eq (g_array_index (shifted, gint32, 0), 7);
}

Test (values, int8_array_element_out_of_int32_range_is_an_error)
{
  g_autoptr(PgeResult) result = query ("SELECT ARRAY[1, 8000000000]::int8[]", NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(GArray) ints = pge_result_read_int32_array (result, 0, 0, &error);

  cr_assert_null (ints);
  pge_assert_error (error, PGE_ERROR, PGE_ERROR_CONVERSION);
  assert_message_has (error, "element 1");
}

Test (values, generic_arrays_of_uuid_numeric_jsonb_and_enum)
{
  static const char *const uuids[] = { "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", NULL };
  static const char *const numerics[] = { "1.50", "-0.000001", "NaN" };
  static const char *const docs[] = { "{\"a\": \"x,y\"}", "[1, 2]" };
  g_autoptr(PgeResult) create = query ("CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy go lucky')", NULL);
  g_autoptr(PgeParams) params = pge_params_new ();
  g_autoptr(PgeResult) result = NULL;
  g_autoptr(GError) error = NULL;

  pge_params_add_array (params, 2951, uuids, G_N_ELEMENTS (uuids));
  pge_params_add_array (params, 1231, numerics, G_N_ELEMENTS (numerics));
  pge_params_add_array (params, 3807, docs, G_N_ELEMENTS (docs));
  pge_params_add_array (params, 0, (const char *const[]) { "happy go lucky", "sad", NULL }, -1);
  result = query ("SELECT $1, $2, $3, $4::mood[]", params);
  for (guint column = 0; column < 4; column++)
    {
      g_autoptr(GPtrArray) read = pge_result_read_text_array (result, 0, column, &error);

      cr_assert_not_null (read, "column %u: %s", column, error ? error->message : "");
      if (column == 0)
        cr_assert (read->len == 2 && g_strcmp0 (g_ptr_array_index (read, 0), uuids[0]) == 0 &&
                   g_ptr_array_index (read, 1) == NULL);
      else if (column == 1)
        for (guint i = 0; i < 3; i++)
          cr_assert_str_eq (g_ptr_array_index (read, i), numerics[i]);
      else if (column == 2)
        for (guint i = 0; i < 2; i++)
          cr_assert_str_eq (g_ptr_array_index (read, i), docs[i]);
      else
        cr_assert (read->len == 2 && strcmp (g_ptr_array_index (read, 0), "happy go lucky") == 0);
    }
}

Test (values, datetime_and_bytes_arrays_keep_null_elements)
{
  g_autoptr(PgeResult) result = query ("SELECT ARRAY['2024-01-02', NULL]::date[], "
                                       "ARRAY['2024-01-02 03:04:05.5+02', NULL]::timestamptz[], "
                                       "ARRAY['2024-01-02 03:04:05', NULL]::timestamp[], "
                                       "ARRAY['\\x00ff'::bytea, NULL, '']", NULL);
  g_autoptr(GDateTime) day = utc (2024, 1, 2, 0, 0, 0, 0);
  g_autoptr(GDateTime) instant = utc (2024, 1, 2, 1, 4, 5, 500000);
  g_autoptr(GDateTime) wall = utc (2024, 1, 2, 3, 4, 5, 0);
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) dates = pge_result_read_datetime_array (result, 0, 0, &error);
  g_autoptr(GPtrArray) instants = pge_result_read_datetime_array (result, 0, 1, &error);
  g_autoptr(GPtrArray) walls = pge_result_read_datetime_array (result, 0, 2, &error);
  g_autoptr(GPtrArray) blobs = pge_result_read_bytes_array (result, 0, 3, &error);

  cr_assert_null (error, "%s", error ? error->message : "");
  assert_same_instant (g_ptr_array_index (dates, 0), day);
  assert_same_instant (g_ptr_array_index (instants, 0), instant);
  assert_same_instant (g_ptr_array_index (walls, 0), wall);
  cr_assert_null (g_ptr_array_index (dates, 1));
  cr_assert_null (g_ptr_array_index (instants, 1));
  cr_assert_null (g_ptr_array_index (walls, 1));
  cr_assert_eq (blobs->len, 3);
  cr_assert_eq (g_bytes_get_size (g_ptr_array_index (blobs, 0)), 2);
  cr_assert_arr_eq (g_bytes_get_data (g_ptr_array_index (blobs, 0), NULL), "\x00\xff", 2);
  cr_assert_null (g_ptr_array_index (blobs, 1));
  cr_assert_eq (g_bytes_get_size (g_ptr_array_index (blobs, 2)), 0);
}

/* ------------------------------------------- every getter, every failure */

typedef enum {
  G_TEXT, G_BYTES, G_INT16, G_INT32, G_INT64, G_FLOAT, G_DOUBLE, G_NUMERIC, G_BOOLEAN, G_DATE,
  G_TIMESTAMP, G_TIMESTAMPTZ, G_INTERVAL, G_UUID, G_JSON, G_TEXT_ARRAY, G_INT32_ARRAY,
  G_INT64_ARRAY, G_DOUBLE_ARRAY, G_BOOLEAN_ARRAY, G_DATETIME_ARRAY, G_BYTES_ARRAY, N_GETTERS
} Getter;

/* The SQL type each getter reads, for a NULL of that type. */
static const char *const getter_types[N_GETTERS] = {
  "text", "bytea", "int2", "int4", "int8", "float4", "float8", "numeric", "bool", "date",
  "timestamp", "timestamptz", "interval", "uuid", "json", "text[]", "int4[]", "int8[]",
  "float8[]", "bool[]", "date[]", "bytea[]",
};

/* Runs getter @g on a cell (by name when @name is set); returns whether
 * it succeeded. A failed scalar read must have left its value zeroed. */
static gboolean
run_getter (Getter g, PgeResult *result, guint row, guint column, const char *name, GError **error)
{
#define READ(fn, ...) (name ? pge_result_read_##fn##_by_name (result, row, name, __VA_ARGS__) \
                            : pge_result_read_##fn (result, row, column, __VA_ARGS__))
#define READ_PTR(fn, unref)                                                     \
  do {                                                                          \
    gpointer p = READ (fn, error);                                              \
    gboolean ok = p != NULL;                                                    \
    if (p != NULL)                                                              \
      unref (p);                                                                \
    return ok;                                                                  \
  } while (0)
#define READ_SCALAR(fn, type)                                                   \
  do {                                                                          \
    type value;                                                                 \
    memset (&value, 0x5a, sizeof value);                                        \
    if (READ (fn, &value, error))                                               \
      return TRUE;                                                              \
    static const type zero;                                                     \
    cr_assert (memcmp (&value, &zero, sizeof value) == 0, #fn " left a value"); \
    return FALSE;                                                               \
  } while (0)
  switch (g)
    {
    case G_TEXT: return READ (text, error) != NULL;
    case G_BYTES: READ_PTR (bytes, g_bytes_unref);
    case G_INT16: READ_SCALAR (int16, gint16);
    case G_INT32: READ_SCALAR (int32, gint32);
    case G_INT64: READ_SCALAR (int64, gint64);
    case G_FLOAT: READ_SCALAR (float, float);
    case G_DOUBLE: READ_SCALAR (double, double);
    case G_NUMERIC: return READ (numeric, error) != NULL;
    case G_BOOLEAN: READ_SCALAR (boolean, gboolean);
    case G_DATE: READ_PTR (date, g_date_time_unref);
    case G_TIMESTAMP: READ_PTR (timestamp, g_date_time_unref);
    case G_TIMESTAMPTZ: READ_PTR (timestamptz, g_date_time_unref);
    case G_INTERVAL: READ_SCALAR (interval, PgeInterval);
    case G_UUID: return READ (uuid, error) != NULL;
    case G_JSON: return READ (json, error) != NULL;
    case G_TEXT_ARRAY: READ_PTR (text_array, g_ptr_array_unref);
    case G_INT32_ARRAY: READ_PTR (int32_array, g_array_unref);
    case G_INT64_ARRAY: READ_PTR (int64_array, g_array_unref);
    case G_DOUBLE_ARRAY: READ_PTR (double_array, g_array_unref);
    case G_BOOLEAN_ARRAY: READ_PTR (boolean_array, g_array_unref);
    case G_DATETIME_ARRAY: READ_PTR (datetime_array, g_ptr_array_unref);
    case G_BYTES_ARRAY: READ_PTR (bytes_array, g_ptr_array_unref);
    case N_GETTERS: break;
    }
#undef READ
#undef READ_PTR
#undef READ_SCALAR
  g_assert_not_reached ();
}

/* One row holding a NULL of each getter's own type. */
static PgeResult *
nulls_row (void)
{
  g_autoptr(GString) sql = g_string_new ("SELECT ");

  for (guint g = 0; g < N_GETTERS; g++)
    g_string_append_printf (sql, "%sNULL::%s AS c%u", g ? ", " : "", getter_types[g], g);
  return query (sql->str, NULL);
}

Test (values, every_getter_reports_null_by_index_and_by_name)
{
  g_autoptr(PgeResult) result = nulls_row ();

  for (guint g = 0; g < N_GETTERS; g++)
    {
      g_autofree char *name = g_strdup_printf ("c%u", g);
      g_autoptr(GError) error = NULL;
      g_autoptr(GError) named_error = NULL;

      cr_assert_not (run_getter (g, result, 0, g, NULL, &error), "getter %u read a NULL", g);
      pge_assert_error (error, PGE_ERROR, PGE_ERROR_NULL_VALUE);
      assert_message_has (error, name);
      cr_assert_not (run_getter (g, result, 0, 0, name, &named_error));
      pge_assert_error (named_error, PGE_ERROR, PGE_ERROR_NULL_VALUE);
    }
}

/* A column no getter but text reads: every other getter names the type. */
Test (values, every_getter_refuses_a_column_of_another_type)
{
  g_autoptr(PgeResult) result = query ("SELECT 'abc'::text AS word, 'abc'::text AS alias", NULL);

  for (guint g = G_BYTES; g < N_GETTERS; g++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GError) named_error = NULL;

      cr_assert_not (run_getter (g, result, 0, 0, NULL, &error), "getter %u read text 'abc'", g);
      pge_assert_error (error, PGE_ERROR, PGE_ERROR_CONVERSION);
      assert_message_has (error, "is text");
      cr_assert_not (run_getter (g, result, 0, 0, "alias", &named_error));
      pge_assert_error (named_error, PGE_ERROR, PGE_ERROR_CONVERSION);
    }
}

/* A wrong type is reported even on NULL: the mistake shows on every row. */
Test (values, wrong_type_wins_over_null)
{
  g_autoptr(PgeResult) result = query ("SELECT NULL::text", NULL);
  g_autoptr(GError) error = NULL;
  gint64 value;

  cr_assert_not (pge_result_read_int64 (result, 0, 0, &value, &error));
  pge_assert_error (error, PGE_ERROR, PGE_ERROR_CONVERSION);
}

Test (values, every_getter_reports_a_cell_out_of_range)
{
  g_autoptr(PgeResult) result = nulls_row ();
  g_autoptr(PgeResult) empty = query ("SELECT 1::int4 WHERE false", NULL);

  for (guint g = 0; g < N_GETTERS; g++)
    {
      g_autoptr(GError) row_error = NULL;
      g_autoptr(GError) column_error = NULL;
      g_autoptr(GError) empty_error = NULL;

      cr_assert_not (run_getter (g, result, 1, g, NULL, &row_error));
      pge_assert_error (row_error, PGE_ERROR, PGE_ERROR_INVALID_ARGUMENT);
      assert_message_has (row_error, "out of range");
      cr_assert_not (run_getter (g, result, 0, G_MAXUINT, NULL, &column_error));
      pge_assert_error (column_error, PGE_ERROR, PGE_ERROR_INVALID_ARGUMENT);
      cr_assert_not (run_getter (g, empty, 0, 0, NULL, &empty_error));
      pge_assert_error (empty_error, PGE_ERROR, PGE_ERROR_INVALID_ARGUMENT);
    }
}

Test (values, every_by_name_getter_reports_an_unknown_name)
{
  g_autoptr(PgeResult) result = query ("SELECT 1::int4 AS \"Id\"", NULL);

  for (guint g = 0; g < N_GETTERS; g++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GError) case_error = NULL;

      cr_assert_not (run_getter (g, result, 0, 0, "no_such_column", &error));
      pge_assert_error (error, PGE_ERROR, PGE_ERROR_INVALID_ARGUMENT);
      assert_message_has (error, "no_such_column");
      /* Names are case-sensitive, as the server reports them. */
      cr_assert_not (run_getter (g, result, 0, 0, "id", &case_error));
      pge_assert_error (case_error, PGE_ERROR, PGE_ERROR_INVALID_ARGUMENT);
    }
}

Test (values, by_name_reads_the_right_column_and_accepts_null_error)
{
  g_autoptr(PgeResult) result = query ("SELECT 1::int4 AS a, 2::int4 AS b", NULL);
  gint32 value = 0;

  cr_assert (pge_result_read_int32_by_name (result, 0, "b", &value, NULL));
  cr_assert_eq (value, 2);
  /* A caller that passes no GError still gets FALSE, never a guess. */
  cr_assert_not (pge_result_read_int32_by_name (result, 0, "c", &value, NULL));
  cr_assert_eq (value, 0);
  cr_assert_not (pge_result_read_int32 (result, 0, 5, &value, NULL));
}

Test (values, null_params_are_typed_sql_nulls)
{
  g_autoptr(PgeParams) params = pge_params_new ();
  g_autoptr(PgeResult) result = NULL;

  pge_params_add_timestamptz (params, NULL);
  pge_params_add_interval (params, NULL);
  pge_params_add_uuid (params, NULL);
  pge_params_add_jsonb (params, NULL);
  result = query ("SELECT pg_typeof($1)::text, pg_typeof($2)::text, pg_typeof($3)::text, "
                  "pg_typeof($4)::text, $1 IS NULL AND $2 IS NULL AND $3 IS NULL AND $4 IS NULL", params);
  cr_assert_str_eq (pge_result_get_value (result, 0, 0), "timestamp with time zone");
  cr_assert_str_eq (pge_result_get_value (result, 0, 1), "interval");
  cr_assert_str_eq (pge_result_get_value (result, 0, 2), "uuid");
  cr_assert_str_eq (pge_result_get_value (result, 0, 3), "jsonb");
  cr_assert_str_eq (pge_result_get_value (result, 0, 4), "t");
}

Test (values, array_adders_refuse_missing_elements_without_crashing)
{
  g_autoptr(PgeParams) params = pge_params_new ();

  /* Programmer errors: a critical, and nothing appended. */
  pge_params_add_int32_array (params, NULL, 3);
  pge_params_add_text_array (params, NULL, 2);
  pge_params_add_double_array (NULL, NULL, 0);
  cr_assert_eq (pge_params_get_length (params), 0);
}

/* ------------------------------------------- the parsers, on bad text
 *
 * engine/values.c is compiled into the test binary too (Makefile.am), so
 * the text the server would never send can be tried directly. */

#include "values-private.h"

Test (values, array_parser_refuses_malformed_text)
{
  static const char *const bad[] = {
    "", "{", "}", "{a", "{a,}", "{,a}", "{\"a}", "{\"a\"b}", "{a\"b}", "{a}x", "[1:2]{a}",
    "{a\\", "x{a}", "{{a},b}", "{a,{b}}", "{\"a\",}", "{ }", "[1:2]", "{a b\\}",
  };

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GPtrArray) elements = pge_value_parse_array (bad[i], &error);

      cr_assert_null (elements, "'%s' parsed", bad[i]);
      pge_assert_error (error, PGE_ERROR, PGE_ERROR_CONVERSION);
    }
}

Test (values, array_parser_reads_what_the_server_may_write)
{
  static const struct { const char *text; guint n; const char *elements[4]; } good[] = {
    { "{}", 0, { NULL } },
    { "{ a , b }", 2, { "a", "b" } },
    { "{null,NULL,\"NULL\",\\NULL}", 4, { NULL, NULL, "NULL", "NULL" } },
    { "{\\\"x,\"\\\\\"}", 2, { "\"x", "\\" } },
    { "{\"\",\" \"}", 2, { "", " " } },
    { "[-3:-2]={1,2}", 2, { "1", "2" } },
    { "{a\\ }", 1, { "a " } },
  };

  for (guint i = 0; i < G_N_ELEMENTS (good); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GPtrArray) elements = pge_value_parse_array (good[i].text, &error);

      cr_assert_not_null (elements, "'%s': %s", good[i].text, error ? error->message : "");
      cr_assert_eq (elements->len, good[i].n, "'%s'", good[i].text);
      for (guint e = 0; e < good[i].n; e++)
        cr_assert (g_strcmp0 (g_ptr_array_index (elements, e), good[i].elements[e]) == 0,
                   "'%s' element %u: '%s'", good[i].text, e, (char *) g_ptr_array_index (elements, e));
    }
}

/* Whatever the elements hold, formatting then parsing gives them back. */
Test (values, array_format_then_parse_is_the_identity)
{
  static const char alphabet[] = "ab \"\\,{}NUL\tnul";
  g_autoptr(GRand) rand = g_rand_new_with_seed (12);

  for (guint round = 0; round < 2000; round++)
    {
      g_autoptr(GPtrArray) elements = g_ptr_array_new_with_free_func (g_free);
      g_autoptr(GPtrArray) parsed = NULL;
      g_autofree char *text = NULL;
      g_autoptr(GError) error = NULL;
      guint n = (guint) g_rand_int_range (rand, 0, 5);

      for (guint e = 0; e < n; e++)
        {
          GString *element = g_string_new (NULL);
          guint length = (guint) g_rand_int_range (rand, 0, 6);

          for (guint c = 0; c < length; c++)
            g_string_append_c (element, alphabet[g_rand_int_range (rand, 0, sizeof alphabet - 1)]);
          if (g_rand_int_range (rand, 0, 6) == 0)
            g_string_assign (element, g_rand_boolean (rand) ? "NULL" : "");
          g_ptr_array_add (elements, g_rand_int_range (rand, 0, 8) == 0
                                     ? (g_string_free (element, TRUE), NULL)
                                     : g_string_free (element, FALSE));
        }
      text = pge_value_format_array ((const char *const *) elements->pdata, elements->len);
      parsed = pge_value_parse_array (text, &error);
      cr_assert_not_null (parsed, "%s: %s", text, error ? error->message : "");
      cr_assert_eq (parsed->len, elements->len, "%s", text);
      for (guint e = 0; e < n; e++)
        cr_assert (g_strcmp0 (g_ptr_array_index (parsed, e), g_ptr_array_index (elements, e)) == 0,
                   "%s: element %u", text, e);
    }
}

Test (values, scalar_parsers_refuse_malformed_text)
{
  static const char *const intervals[] = {
    "", "1", "1 week", "01:02", "00:00:00 00:00:00", "P1D", "@ 1 day", "1 day  2 days",
    "1 day ago", "3000000000 days", "-00:00:00.1234567", "99999999999999999:00:00",
  };
  static const char *const stamps[] = {
    "2024-01-02", "2024-1-02 00:00:00", "2024-01-02 00:00:00+", "2024-01-02T00:00:00+00",
    "2024-02-30 00:00:00+00", "2024-01-02 00:00:00+00:0", "2024-01-02 25:00:00+00",
  };
  static const char *const numerics[] = { "", "-", "1.", ".5", "1e5", "+1", " 1", "nan", "1,5" };
  static const char *const uuids[] = {
    "", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a1", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a111",
    "a0eebc99x9c0b-4ef8-bb6d-6bb9bd380a11", "g0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
  };
  static const char *const byteas[] = { "\\x0", "\\xzz", "\\x0g" };
  PgeInterval interval;
  double d;

  for (guint i = 0; i < G_N_ELEMENTS (intervals); i++)
    cr_assert_not (pge_value_parse_interval (intervals[i], &interval, NULL), "'%s'", intervals[i]);
  for (guint i = 0; i < G_N_ELEMENTS (stamps); i++)
    {
      g_autoptr(GDateTime) t = pge_value_parse_timestamp (stamps[i], TRUE, NULL);
      cr_assert_null (t, "'%s'", stamps[i]);
    }
  for (guint i = 0; i < G_N_ELEMENTS (numerics); i++)
    cr_assert_not (pge_value_parse_numeric (numerics[i], &d, NULL), "'%s'", numerics[i]);
  for (guint i = 0; i < G_N_ELEMENTS (uuids); i++)
    cr_assert_not (pge_value_check_uuid (uuids[i], NULL), "'%s'", uuids[i]);
  for (guint i = 0; i < G_N_ELEMENTS (byteas); i++)
    {
      g_autoptr(GBytes) b = pge_value_parse_bytea (byteas[i], NULL);
      cr_assert_null (b, "'%s'", byteas[i]);
    }
  cr_assert_not (pge_value_parse_float ("1.5x", &d, NULL));
  cr_assert_not (pge_value_parse_float (" 1", &d, NULL));
  cr_assert_not (pge_value_parse_boolean ("true", &(gboolean) { 0 }, NULL));
}

/* Binary parameters (timestamptz, interval) travel the pipelined and
 * cursor paths too, not only a single query. */
Test (values, binary_params_work_in_atomic_and_batch)
{
  g_autoptr(GDateTime) instant = utc (2021, 3, 4, 5, 6, 7, 8);
  static const PgeInterval week = { 0, 7, 0 };
  g_autoptr(PgeResult) create = query ("CREATE TABLE log (t timestamptz, s interval)", NULL);
  g_autoptr(PgeAtomic) atomic = pge_engine_atomic (test_engine);
  g_autoptr(PgeBatch) batch = NULL;
  g_autoptr(PgeResult) rows = NULL;
  g_autoptr(PgeParams) filter = pge_params_new ();
  g_autoptr(GError) error = NULL;

  for (int i = 0; i < 3; i++)
    {
      g_autoptr(PgeParams) params = pge_params_new ();

      pge_params_add_timestamptz (params, instant);
      pge_params_add_interval (params, &week);
      pge_atomic_add (atomic, "INSERT INTO log VALUES ($1, $2)", params);
    }
  cr_assert (pge_atomic_run_sync (atomic, &error), "%s", error ? error->message : "");
  pge_params_add_timestamptz (filter, instant);
  pge_params_add_interval (filter, &week);
  batch = pge_engine_batch (test_engine, "SELECT t, s FROM log WHERE t = $1 AND s = $2", filter, 2, &error);
  cr_assert_not_null (batch, "%s", error ? error->message : "");
  rows = pge_batch_next (batch, &error);
  cr_assert_not_null (rows);
  cr_assert_eq (pge_result_get_n_rows (rows), 2);
  {
    g_autoptr(GDateTime) t = pge_result_read_timestamptz (rows, 1, 0, &error);
    PgeInterval s;

    assert_same_instant (t, instant);
    cr_assert (pge_result_read_interval (rows, 1, 1, &s, &error));
    cr_assert (s.months == 0 && s.days == 7 && s.microseconds == 0);
  }
  cr_assert (pge_batch_close (batch, &error));
}

/* The short-decimal fast path and GLib's parser agree on every edge:
 * what each accepts, the value, and the range. */
Test (values, int_parsing_agrees_with_glib_on_every_edge)
{
  static const char *const texts[] = {
    "0", "-0", "7", "007", "-42", "123456789012345678", "-123456789012345678",
    "999999999999999999", "1000000000000000000", "9223372036854775807",
    "-9223372036854775808", "9223372036854775808", "2147483647", "2147483648",
    "-2147483648", "-2147483649", "+5", " 5", "5 ", "", "-", "--1", "1e3", "12a",
    "0x10", "1.0",
  };
  static const gint64 bounds[][2] = { { G_MININT64, G_MAXINT64 }, { G_MININT32, G_MAXINT32 },
                                      { G_MININT16, G_MAXINT16 } };

  for (guint b = 0; b < G_N_ELEMENTS (bounds); b++)
    for (guint i = 0; i < G_N_ELEMENTS (texts); i++)
      {
        g_autoptr(GError) error = NULL;
        g_autoptr(GError) glib_error = NULL;
        gint64 ours = -1, theirs = -1;
        gboolean ok = pge_value_parse_int (texts[i], bounds[b][0], bounds[b][1], &ours, &error);
        gboolean glib_ok = g_ascii_string_to_signed (texts[i], 10, bounds[b][0], bounds[b][1],
                                                     &theirs, &glib_error);

        cr_assert_eq (ok, glib_ok, "'%s' in bounds %u", texts[i], b);
        if (ok)
          cr_assert_eq (ours, theirs, "'%s'", texts[i]);
        else
          pge_assert_error (error, PGE_ERROR, PGE_ERROR_CONVERSION);
      }
}
