/* test-copy.c — COPY FROM STDIN and TO STDOUT: streams and callbacks, 1M
 * rows each way, server errors with their context line, failures of this
 * side, cancel and statement_timeout mid-COPY, transactions; after every
 * failure, the next statement on the same single connection works.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <string.h>

#include "fixture.h"

TestSuite (copy, .init = pge_test_engine_up, .fini = pge_test_engine_down);

/* ------------------------------------------------------------- helpers */

static void
exec_ok (PgeEngine *engine, const char *script)
{
  g_autoptr(GError) error = NULL;

  cr_assert (pge_engine_exec_sync (engine, script, &error), "%s: %s", script,
             error ? error->message : "");
}

static gint64
count_rows (PgeEngine *engine, const char *table)
{
  g_autofree char *sql = g_strdup_printf ("SELECT count(*) FROM %s", table);
  g_autoptr(GError) error = NULL;
  g_autoptr(PgeResult) result = pge_engine_query_sync (engine, sql, NULL, &error);

  cr_assert_null (error, "%s", error ? error->message : "");
  return pge_result_get_int64 (result, 0, 0);
}

/* The single connection of @engine answers a query. */
static void
assert_usable (PgeEngine *engine)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PgeResult) result = pge_engine_query_sync (engine, "SELECT 41 + 1", NULL, &error);

  cr_assert_null (error, "the connection is not usable: %s", error ? error->message : "");
  cr_assert_str_eq (pge_result_get_value (result, 0, 0), "42");
}

/* Generates rows "id\tx<id>\n" for id in 1..n, whole lines per chunk;
 * row @bad_row (if not 0) has "abc" as its id. Keeps an MD5 of what it
 * produced. Stops with an error after @fail_after rows (if not 0). */
typedef struct {
  guint      next;
  guint      n;
  guint      bad_row;
  guint      fail_after;
  gboolean   fail_silently;
  gint       slow_ms;      /* sleep per chunk */
  gint       n_chunks;     /* atomic */
  GChecksum *md5;
} Rows;

#define TEST_ERROR (g_quark_from_static_string ("test-copy-error"))

static gssize
rows_read (char *buffer, gsize size, gpointer data, GError **error)
{
  Rows *rows = data;
  gsize used = 0;

  if (rows->fail_after != 0 && rows->next > rows->fail_after)
    {
      if (!rows->fail_silently)
        g_set_error_literal (error, TEST_ERROR, 7, "the source broke");
      return -1;
    }
  if (rows->slow_ms > 0)
    g_usleep (rows->slow_ms * 1000);
  while (rows->next <= rows->n && size - used >= 64)
    {
      int len = rows->next == rows->bad_row
                ? g_snprintf (buffer + used, size - used, "abc\tx%u\n", rows->next)
                : g_snprintf (buffer + used, size - used, "%u\tx%u\n", rows->next, rows->next);

      used += (gsize) len;
      rows->next++;
      if (rows->fail_after != 0 && rows->next > rows->fail_after)
        break;
    }
  if (rows->md5 != NULL)
    g_checksum_update (rows->md5, (const guchar *) buffer, used);
  g_atomic_int_inc (&rows->n_chunks);
  return (gssize) used;
}

/* Receives COPY TO output: counts rows and bytes, hashes them; stops
 * after @stop_after chunks (if not 0). */
typedef struct {
  guint64    n_chunks;
  guint64    n_bytes;
  guint      stop_after;
  gint       seen;          /* atomic: a chunk arrived */
  GChecksum *md5;
} Sink;

static gboolean
sink_write (const char *data, gsize length, gpointer user_data, GError **error)
{
  Sink *sink = user_data;

  sink->n_chunks++;
  sink->n_bytes += length;
  if (sink->md5 != NULL)
    g_checksum_update (sink->md5, (const guchar *) data, length);
  g_atomic_int_set (&sink->seen, 1);
  if (sink->stop_after != 0 && sink->n_chunks >= sink->stop_after)
    {
      g_set_error_literal (error, TEST_ERROR, 8, "the sink is full");
      return FALSE;
    }
  return TRUE;
}

static void
count_free (gpointer data)
{
  g_atomic_int_inc ((gint *) data);
}

/* --------------------------------------------------------- 1M each way */

Test (copy, a_million_rows_in_and_out_match)
{
  Rows rows = { .next = 1, .n = 1000000, .md5 = g_checksum_new (G_CHECKSUM_MD5) };
  Sink sink = { .md5 = g_checksum_new (G_CHECKSUM_MD5) };
  g_autoptr(GError) error = NULL;
  g_autoptr(PgeResult) loaded = NULL;
  g_autoptr(PgeResult) sum = NULL;
  g_autoptr(PgeResult) dumped = NULL;
  g_autoptr(PgeFuture) future = NULL;

  exec_ok (test_engine, "CREATE TABLE big (id int, x text)");
  future = pge_engine_copy_from_callback (test_engine, "COPY big (id, x) FROM STDIN", rows_read,
                                          &rows, NULL);
  loaded = pge_future_wait (future, &error);
  cr_assert_null (error, "%s", error ? error->message : "");
  cr_assert_eq (pge_result_get_rows_affected (loaded), 1000000);
  /* Chunks of 64 KiB at most: over a hundred of them for ~14 MB. */
  cr_assert_gt (g_atomic_int_get (&rows.n_chunks), 100);

  sum = pge_engine_query_sync (test_engine, "SELECT sum(id)::text, count(*) FROM big", NULL, &error);
  cr_assert_null (error);
  cr_assert_str_eq (pge_result_get_value (sum, 0, 0), "500000500000");
  cr_assert_eq (pge_result_get_int64 (sum, 0, 1), 1000000);

  dumped = pge_engine_copy_to_callback_sync (test_engine,
                                             "COPY (SELECT id, x FROM big ORDER BY id) TO STDOUT",
                                             sink_write, &sink, &error);
  cr_assert_null (error, "%s", error ? error->message : "");
  cr_assert_eq (pge_result_get_rows_affected (dumped), 1000000);
  cr_assert_eq (sink.n_chunks, 1000000, "one chunk per row in text format");
  cr_assert_str_eq (g_checksum_get_string (sink.md5), g_checksum_get_string (rows.md5));
  g_checksum_free (rows.md5);
  g_checksum_free (sink.md5);
}

/* ------------------------------------------------------------- streams */

Test (copy, from_a_memory_stream_and_to_a_memory_stream)
{
  static const char data[] = "id,name\n1,alpha\n2,\"be, ta\"\n3,\n";
  g_autoptr(GInputStream) in = g_memory_input_stream_new_from_data (data, strlen (data), NULL);
  g_autoptr(GOutputStream) out = g_memory_output_stream_new_resizable ();
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(PgeResult) loaded = NULL;
  g_autoptr(PgeResult) dumped = NULL;
  g_autoptr(PgeFuture) future = NULL;
  g_autofree char *text = NULL;

  exec_ok (test_engine, "CREATE TABLE names (id int, name text)");
  loaded = pge_engine_copy_from_stream_sync (test_engine,
                                             "COPY names FROM STDIN WITH (FORMAT csv, HEADER true)",
                                             in, NULL, &error);
  cr_assert_null (error, "%s", error ? error->message : "");
  cr_assert_eq (pge_result_get_rows_affected (loaded), 3);

  future = pge_engine_copy_to_stream (test_engine,
                                      "  -- a comment first\n COPY (SELECT * FROM names ORDER BY id) "
                                      "TO STDOUT WITH (FORMAT csv)", out, NULL);
  dumped = pge_future_wait (future, &error);
  cr_assert_null (error, "%s", error ? error->message : "");
  cr_assert_eq (pge_result_get_rows_affected (dumped), 3);
  cr_assert (g_output_stream_close (out, NULL, NULL));
  bytes = g_memory_output_stream_steal_as_bytes (G_MEMORY_OUTPUT_STREAM (out));
  text = g_strndup (g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes));
  cr_assert_str_eq (text, "1,alpha\n2,\"be, ta\"\n3,\n");
}

Test (copy, a_closed_output_stream_fails_and_the_connection_stays_usable)
{
  g_autoptr(PgeEngine) engine = pge_test_new_engine (1);
  g_autoptr(GOutputStream) out = g_memory_output_stream_new_resizable ();
  g_autoptr(GError) error = NULL;
  g_autoptr(PgeResult) result = NULL;

  cr_assert (g_output_stream_close (out, NULL, NULL));
  result = pge_engine_copy_to_stream_sync (engine, "COPY (SELECT generate_series(1, 5000000)) "
                                           "TO STDOUT", out, NULL, &error);
  cr_assert_null (result);
  pge_assert_error (error, G_IO_ERROR, G_IO_ERROR_CLOSED);
  assert_usable (engine);
}

Test (copy, a_cancelled_cancellable_sends_nothing)
{
  static const char data[] = "1\tx\n";
  g_autoptr(GInputStream) in = g_memory_input_stream_new_from_data (data, strlen (data), NULL);
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GError) error = NULL;
  g_autoptr(PgeResult) result = NULL;

  exec_ok (test_engine, "CREATE TABLE t (id int, x text)");
  g_cancellable_cancel (cancellable);
  result = pge_engine_copy_from_stream_sync (test_engine, "COPY t FROM STDIN", in, cancellable, &error);
  cr_assert_null (result);
  pge_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  cr_assert_eq (count_rows (test_engine, "t"), 0);
}

/* ------------------------------------------------------- server errors */

Test (copy, malformed_row_4711_names_its_line_and_loads_nothing)
{
  g_autoptr(PgeEngine) engine = pge_test_new_engine (1);
  Rows rows = { .next = 1, .n = 10000, .bad_row = 4711 };
  g_autoptr(GError) error = NULL;
  g_autoptr(PgeResult) result = NULL;

  exec_ok (engine, "CREATE TABLE t (id int, x text)");
  result = pge_engine_copy_from_callback_sync (engine, "COPY t FROM STDIN", rows_read, &rows, &error);
  cr_assert_null (result);
  pge_assert_error (error, PGE_ERROR, PGE_ERROR_QUERY);
  cr_assert_str_eq (pge_error_get_sqlstate (error), "22P02");
  cr_assert (strstr (error->message, "COPY t, line 4711, column id: \"abc\"") != NULL, "%s",
             error->message);
  /* The whole message, as the README shows it: the tag once, at the end. */
  cr_assert_str_eq (error->message,
                    "invalid input syntax for type integer: \"abc\"; "
                    "context: COPY t, line 4711, column id: \"abc\" [SQLSTATE 22P02]");
  cr_assert_eq (count_rows (engine, "t"), 0);
  assert_usable (engine);
}

Test (copy, a_missing_table_is_a_server_error)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PgeResult) result = NULL;
  Rows rows = { .next = 1, .n = 10 };

  result = pge_engine_copy_from_callback_sync (test_engine, "COPY nowhere FROM STDIN", rows_read,
                                               &rows, &error);
  cr_assert_null (result);
  pge_assert_error (error, PGE_ERROR, PGE_ERROR_QUERY);
  cr_assert_str_eq (pge_error_get_sqlstate (error), "42P01");
  cr_assert_eq (rows.next, 1, "no data was asked for");
}

/* ------------------------------------------------- failures of this side */

Test (copy, a_source_error_loads_nothing_and_keeps_the_connection)
{
  g_autoptr(PgeEngine) engine = pge_test_new_engine (1);
  Rows rows = { .next = 1, .n = 100000, .fail_after = 5000 };
  Rows silent = { .next = 1, .n = 100000, .fail_after = 10, .fail_silently = TRUE };
  g_autoptr(GError) error = NULL;
  g_autoptr(PgeResult) result = NULL;
  g_autoptr(PgeFuture) future = NULL;

  exec_ok (engine, "CREATE TABLE t (id int, x text)");
  result = pge_engine_copy_from_callback_sync (engine, "COPY t FROM STDIN", rows_read, &rows, &error);
  cr_assert_null (result);
  pge_assert_error (error, TEST_ERROR, 7);
  cr_assert_eq (count_rows (engine, "t"), 0);
  assert_usable (engine);

  g_clear_error (&error);
  future = pge_engine_copy_from_callback (engine, "COPY t FROM STDIN", rows_read, &silent, NULL);
  cr_assert_null (pge_future_wait (future, &error));
  pge_assert_error (error, PGE_ERROR, PGE_ERROR_FAILED);
  cr_assert_eq (count_rows (engine, "t"), 0);
  assert_usable (engine);
}

Test (copy, a_sink_error_stops_a_long_copy_and_keeps_the_connection)
{
  g_autoptr(PgeEngine) engine = pge_test_new_engine (1);
  Sink sink = { .stop_after = 3 };
  g_autoptr(GError) error = NULL;
  g_autoptr(PgeResult) result = NULL;

  /* A hundred million rows, streamed (a set-returning function in the
   * select list is not materialized first): the server is stopped, not
   * drained to the end. */
  result = pge_engine_copy_to_callback_sync (engine, "COPY (SELECT generate_series(1, 100000000)) "
                                             "TO STDOUT", sink_write, &sink, &error);
  cr_assert_null (result);
  pge_assert_error (error, TEST_ERROR, 8);
  cr_assert_eq (sink.n_chunks, 3, "nothing is handed over after the failure");
  assert_usable (engine);
}

/* ---------------------------------------------------------- bad input */

Test (copy, null_arguments_fail_at_once_and_free_user_data)
{
  static const char data[] = "1\n";
  g_autoptr(GInputStream) in = g_memory_input_stream_new_from_data (data, 2, NULL);
  g_autoptr(GOutputStream) out = g_memory_output_stream_new_resizable ();
  g_autoptr(PgeFuture) f1 = NULL;
  g_autoptr(PgeFuture) f2 = NULL;
  g_autoptr(PgeFuture) f3 = NULL;
  g_autoptr(PgeFuture) f4 = NULL;
  g_autoptr(PgeFuture) f5 = NULL;
  g_autoptr(PgeFuture) f6 = NULL;
  g_autoptr(PgeFuture) f7 = NULL;
  g_autoptr(PgeFuture) f8 = NULL;
  PgeFuture *futures[8];
  gint freed = 0;
  g_autoptr(GError) error = NULL;

  futures[0] = f1 = pge_engine_copy_from_stream (test_engine, NULL, in, NULL);
  futures[1] = f2 = pge_engine_copy_from_stream (test_engine, "COPY t FROM STDIN", NULL, NULL);
  futures[2] = f3 = pge_engine_copy_from_callback (test_engine, NULL, rows_read, &freed, count_free);
  futures[3] = f4 = pge_engine_copy_from_callback (test_engine, "COPY t FROM STDIN", NULL, &freed,
                                                   count_free);
  futures[4] = f5 = pge_engine_copy_to_stream (test_engine, NULL, out, NULL);
  futures[5] = f6 = pge_engine_copy_to_stream (test_engine, "COPY t TO STDOUT", NULL, NULL);
  futures[6] = f7 = pge_engine_copy_to_callback (test_engine, NULL, sink_write, &freed, count_free);
  futures[7] = f8 = pge_engine_copy_to_callback (test_engine, "COPY t TO STDOUT", NULL, &freed,
                                                 count_free);
  for (guint i = 0; i < G_N_ELEMENTS (futures); i++)
    {
      cr_assert (pge_future_is_done (futures[i]), "future %u fails at once", i);
      cr_assert_null (pge_future_wait (futures[i], &error));
      pge_assert_error (error, PGE_ERROR, PGE_ERROR_INVALID_ARGUMENT);
      g_clear_error (&error);
    }
  cr_assert_eq (freed, 4, "user data is freed when the call fails at once");

  cr_assert_null (pge_engine_copy_from_stream_sync (test_engine, "COPY t FROM STDIN", NULL, NULL, &error));
  pge_assert_error (error, PGE_ERROR, PGE_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  cr_assert_null (pge_engine_copy_to_callback_sync (test_engine, NULL, sink_write, NULL, &error));
  pge_assert_error (error, PGE_ERROR, PGE_ERROR_INVALID_ARGUMENT);
}

Test (copy, sql_that_is_not_copy_is_refused_unsent)
{
  Rows rows = { .next = 1, .n = 10 };
  Sink sink = { 0 };
  g_autoptr(GError) error = NULL;

  exec_ok (test_engine, "CREATE TABLE t (id int, x text); INSERT INTO t VALUES (1, 'keep')");
  cr_assert_null (pge_engine_copy_from_callback_sync (test_engine, "DELETE FROM t", rows_read, &rows,
                                                      &error));
  pge_assert_error (error, PGE_ERROR, PGE_ERROR_INVALID_ARGUMENT);
  cr_assert (strstr (error->message, "COPY") != NULL, "%s", error->message);
  g_clear_error (&error);
  cr_assert_null (pge_engine_copy_to_callback_sync (test_engine, "/* copy */ SELECT 1", sink_write,
                                                    &sink, &error));
  pge_assert_error (error, PGE_ERROR, PGE_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  cr_assert_null (pge_engine_copy_to_callback_sync (test_engine, "copyright", sink_write, &sink,
                                                    &error));
  pge_assert_error (error, PGE_ERROR, PGE_ERROR_INVALID_ARGUMENT);
  cr_assert_eq (count_rows (test_engine, "t"), 1, "the DELETE did not run");
  cr_assert_eq (rows.next, 1);
  cr_assert_eq (sink.n_chunks, 0);
}

Test (copy, the_wrong_direction_is_refused_and_loads_nothing)
{
  g_autoptr(PgeEngine) engine = pge_test_new_engine (1);
  Rows rows = { .next = 1, .n = 10 };
  Sink sink = { 0 };
  g_autoptr(GError) error = NULL;

  exec_ok (engine, "CREATE TABLE t (id int, x text); INSERT INTO t SELECT g, 'x' FROM generate_series(1, 100000) g");
  cr_assert_null (pge_engine_copy_to_callback_sync (engine, "COPY t FROM STDIN", sink_write, &sink,
                                                    &error));
  pge_assert_error (error, PGE_ERROR, PGE_ERROR_INVALID_ARGUMENT);
  cr_assert (strstr (error->message, "pge_engine_copy_from") != NULL, "%s", error->message);
  cr_assert_eq (count_rows (engine, "t"), 100000);
  assert_usable (engine);
  g_clear_error (&error);
  cr_assert_null (pge_engine_copy_from_callback_sync (engine, "COPY t TO STDOUT", rows_read, &rows,
                                                      &error));
  pge_assert_error (error, PGE_ERROR, PGE_ERROR_INVALID_ARGUMENT);
  cr_assert_eq (rows.next, 1);
  assert_usable (engine);
}

Test (copy, a_plain_query_refuses_copy_and_names_the_copy_api)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PgeResult) result = NULL;

  exec_ok (test_engine, "CREATE TABLE t (id int)");
  result = pge_engine_query_sync (test_engine, "COPY t FROM STDIN", NULL, &error);
  cr_assert_null (result);
  pge_assert_error (error, PGE_ERROR, PGE_ERROR_INVALID_ARGUMENT);
  cr_assert (strstr (error->message, "pge_engine_copy_from_stream()") != NULL, "%s", error->message);
  g_clear_error (&error);
  result = pge_engine_query_sync (test_engine, "COPY t TO STDOUT", NULL, &error);
  pge_assert_error (error, PGE_ERROR, PGE_ERROR_INVALID_ARGUMENT);
  cr_assert (strstr (error->message, "pge_engine_copy_to_stream()") != NULL, "%s", error->message);
}

/* -------------------------------------------------------- transactions */

Test (copy, inside_a_transaction_then_rolled_back_leaves_nothing)
{
  Rows rows = { .next = 1, .n = 20000 };
  Rows more = { .next = 1, .n = 5 };
  Sink sink = { 0 };
  g_autoptr(GError) error = NULL;
  g_autoptr(PgeTransaction) tx = NULL;
  g_autoptr(PgeResult) loaded = NULL;
  g_autoptr(PgeResult) routed = NULL;
  g_autoptr(PgeResult) dumped = NULL;
  g_autoptr(PgeResult) count = NULL;
  g_autoptr(PgeFuture) future = NULL;

  exec_ok (test_engine, "CREATE TABLE t (id int, x text)");
  tx = pge_engine_transaction (test_engine, 0, &error);
  cr_assert_null (error);
  future = pge_transaction_copy_from_callback (tx, "COPY t FROM STDIN", rows_read, &rows, NULL);
  loaded = pge_future_wait (future, &error);
  cr_assert_null (error, "%s", error ? error->message : "");
  cr_assert_eq (pge_result_get_rows_affected (loaded), 20000);
  /* The thread's current transaction takes engine-level COPYs too. */
  routed = pge_engine_copy_from_callback_sync (test_engine, "COPY t FROM STDIN", rows_read, &more, &error);
  cr_assert_null (error, "%s", error ? error->message : "");
  dumped = pge_transaction_copy_to_callback_sync (tx, "COPY t TO STDOUT", sink_write, &sink, &error);
  cr_assert_null (error, "%s", error ? error->message : "");
  cr_assert_eq (sink.n_chunks, 20005, "the COPY TO sees the transaction's rows");
  count = pge_transaction_query_sync (tx, "SELECT count(*) FROM t", NULL, &error);
  cr_assert_eq (pge_result_get_int64 (count, 0, 0), 20005);
  cr_assert (pge_transaction_rollback (tx, &error));
  cr_assert_eq (count_rows (test_engine, "t"), 0);
}

Test (copy, an_ended_transaction_refuses_a_copy)
{
  Rows rows = { .next = 1, .n = 5 };
  g_autoptr(GError) error = NULL;
  g_autoptr(PgeTransaction) tx = NULL;
  g_autoptr(PgeFuture) future = NULL;

  exec_ok (test_engine, "CREATE TABLE t (id int, x text)");
  tx = pge_engine_transaction (test_engine, 0, &error);
  cr_assert (pge_transaction_commit (tx, &error));
  future = pge_transaction_copy_from_callback (tx, "COPY t FROM STDIN", rows_read, &rows, NULL);
  cr_assert_null (pge_future_wait (future, &error));
  pge_assert_error (error, PGE_ERROR, PGE_ERROR_TRANSACTION_STATE);
  g_clear_error (&error);
  cr_assert_null (pge_transaction_copy_to_callback_sync (tx, "COPY t TO STDOUT", sink_write, NULL,
                                                         &error));
  pge_assert_error (error, PGE_ERROR, PGE_ERROR_TRANSACTION_STATE);
  cr_assert_eq (rows.next, 1);
}

/* ----------------------------------------------------- cancel, timeout */

static void
wait_flag (gint *flag)
{
  while (!g_atomic_int_get (flag))
    g_usleep (1000);
}

Test (copy, cancel_stops_a_copy_out_midway)
{
  g_autoptr(PgeEngine) engine = pge_test_new_engine (1);
  Sink sink = { 0 };
  g_autoptr(GError) error = NULL;
  g_autoptr(PgeFuture) future = NULL;

  /* Wide rows: the server flushes its 8 KiB output buffer every few. */
  future = pge_engine_copy_to_callback (engine, "COPY (SELECT g, repeat('x', 2000), pg_sleep(0.001) "
                                        "FROM generate_series(1, 100000) g) TO STDOUT", sink_write, &sink,
                                        NULL);
  wait_flag (&sink.seen);
  pge_future_cancel (future);
  cr_assert_null (pge_future_wait (future, &error));
  pge_assert_error (error, PGE_ERROR, PGE_ERROR_CANCELLED);
  cr_assert_lt (sink.n_chunks, 100000);
  assert_usable (engine);
}

static gssize
endless_read (char *buffer, gsize size, gpointer data, GError **error)
{
  gint *seen = data;

  g_atomic_int_set (seen, 1);
  g_usleep (1000);
  memcpy (buffer, "1\tx\n", 4);
  return 4;
}

/* One row, then the end; @freed counts the notify calls. */
typedef struct {
  gint calls;
  gint freed;   /* atomic */
} Once;

static gssize
read_once (char *buffer, gsize size, gpointer data, GError **error)
{
  static const char row[] = "9\tz\n";
  Once *once = data;

  if (once->calls++ > 0)
    return 0;
  memcpy (buffer, row, strlen (row));
  return (gssize) strlen (row);
}

static void
once_free (gpointer data)
{
  g_atomic_int_inc (&((Once *) data)->freed);
}

Test (copy, cancel_stops_a_copy_in_midway_and_loads_nothing)
{
  g_autoptr(PgeEngine) engine = pge_test_new_engine (1);
  gint seen = 0;
  g_autoptr(GError) error = NULL;
  g_autoptr(PgeFuture) future = NULL;

  exec_ok (engine, "CREATE TABLE t (id int, x text)");
  future = pge_engine_copy_from_callback (engine, "COPY t FROM STDIN", endless_read, &seen, NULL);
  wait_flag (&seen);
  pge_future_cancel (future);
  cr_assert_null (pge_future_wait (future, &error));
  pge_assert_error (error, PGE_ERROR, PGE_ERROR_CANCELLED);
  cr_assert_eq (count_rows (engine, "t"), 0);
  assert_usable (engine);
}

Test (copy, statement_timeout_ends_a_copy_and_the_connection_survives)
{
  g_autoptr(PgeConfig) config = pge_test_config (1);
  g_autoptr(PgeEngine) engine = NULL;
  Sink sink = { 0 };
  Rows slow = { .next = 1, .n = 100000, .slow_ms = 50 };
  g_autoptr(GError) error = NULL;
  g_autoptr(PgeResult) result = NULL;

  pge_config_set_statement_timeout (config, 300);
  engine = pge_engine_new (config, &error);
  cr_assert_null (error);
  result = pge_engine_copy_to_callback_sync (engine, "COPY (SELECT g, repeat('x', 2000), "
                                             "pg_sleep(0.005) FROM generate_series(1, 100000) g) "
                                             "TO STDOUT", sink_write, &sink, &error);
  cr_assert_null (result);
  pge_assert_error (error, PGE_ERROR, PGE_ERROR_TIMEOUT);
  cr_assert_str_eq (pge_error_get_sqlstate (error), "57014");
  cr_assert_gt (sink.n_chunks, 0, "rows arrived before the timeout");
  cr_assert_lt (sink.n_chunks, 100000);
  assert_usable (engine);

  /* COPY FROM: the server notices the timeout when the next data comes. */
  g_clear_error (&error);
  exec_ok (engine, "CREATE TABLE t (id int, x text)");
  result = pge_engine_copy_from_callback_sync (engine, "COPY t FROM STDIN", rows_read, &slow, &error);
  cr_assert_null (result);
  pge_assert_error (error, PGE_ERROR, PGE_ERROR_TIMEOUT);
  cr_assert_eq (count_rows (engine, "t"), 0);
  assert_usable (engine);
}

/* ------------------------------------------------- every entry point */

static GInputStream *
memory_input (const char *data)
{
  return g_memory_input_stream_new_from_data (data, strlen (data), NULL);
}

static guint64
wait_rows (PgeFuture *future)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PgeResult) result = pge_future_wait (future, &error);

  cr_assert_null (error, "%s", error ? error->message : "");
  pge_future_unref (future);
  return pge_result_get_rows_affected (result);
}

static guint64
sync_rows (PgeResult *result, GError *error)
{
  guint64 n;

  cr_assert_null (error, "%s", error ? error->message : "");
  n = pge_result_get_rows_affected (result);
  pge_result_unref (result);
  return n;
}

Test (copy, every_engine_entry_point_moves_rows)
{
  g_autoptr(GInputStream) in = memory_input ("1\ta\n2\tb\n");
  g_autoptr(GOutputStream) out = g_memory_output_stream_new_resizable ();
  Sink sink = { 0 };
  Once once = { 0 };
  GError *error = NULL;

  exec_ok (test_engine, "CREATE TABLE t (id int, x text)");
  cr_assert_eq (wait_rows (pge_engine_copy_from_stream (test_engine, "COPY t FROM STDIN", in, NULL)), 2);
  cr_assert_eq (sync_rows (pge_engine_copy_to_stream_sync (test_engine, "COPY t TO STDOUT", out, NULL,
                                                           &error), error), 2);
  cr_assert_eq (g_memory_output_stream_get_data_size (G_MEMORY_OUTPUT_STREAM (out)), 8);
  cr_assert_eq (wait_rows (pge_engine_copy_to_callback (test_engine, "COPY t TO STDOUT", sink_write,
                                                        &sink, NULL)), 2);
  cr_assert_eq (sink.n_chunks, 2);
  /* notify runs once the job is over, also after a success. */
  cr_assert_eq (wait_rows (pge_engine_copy_from_callback (test_engine, "COPY t FROM STDIN", read_once,
                                                          &once, once_free)), 1);
  cr_assert_eq (once.calls, 2);
  while (g_atomic_int_get (&once.freed) == 0)
    g_usleep (1000);
  cr_assert_eq (g_atomic_int_get (&once.freed), 1);
  cr_assert_eq (count_rows (test_engine, "t"), 3);
}

Test (copy, every_transaction_entry_point_runs_inside_it_and_refuses_bad_input)
{
  g_autoptr(GInputStream) in1 = memory_input ("1\ta\n");
  g_autoptr(GInputStream) in2 = memory_input ("2\tb\n3\tc\n");
  g_autoptr(GOutputStream) out1 = g_memory_output_stream_new_resizable ();
  g_autoptr(GOutputStream) out2 = g_memory_output_stream_new_resizable ();
  Rows rows = { .next = 10, .n = 13 };
  Sink sink = { 0 };
  g_autoptr(PgeTransaction) tx = NULL;
  g_autoptr(PgeFuture) bad = NULL;
  GError *error = NULL;

  exec_ok (test_engine, "CREATE TABLE t (id int, x text)");
  tx = pge_engine_transaction (test_engine, 0, &error);
  cr_assert_null (error);
  cr_assert_eq (wait_rows (pge_transaction_copy_from_stream (tx, "COPY t FROM STDIN", in1, NULL)), 1);
  cr_assert_eq (sync_rows (pge_transaction_copy_from_stream_sync (tx, "COPY t FROM STDIN", in2, NULL,
                                                                  &error), error), 2);
  cr_assert_eq (sync_rows (pge_transaction_copy_from_callback_sync (tx, "COPY t FROM STDIN", rows_read,
                                                                    &rows, &error), error), 4);
  cr_assert_eq (wait_rows (pge_transaction_copy_to_stream (tx, "COPY t TO STDOUT", out1, NULL)), 7);
  cr_assert_eq (sync_rows (pge_transaction_copy_to_stream_sync (tx, "COPY t TO STDOUT", out2, NULL,
                                                                &error), error), 7);
  cr_assert_eq (wait_rows (pge_transaction_copy_to_callback (tx, "COPY t TO STDOUT", sink_write, &sink,
                                                             NULL)), 7);
  cr_assert_eq (sink.n_chunks, 7);

  /* Bad input fails at once and leaves the transaction usable. */
  cr_assert_null (pge_transaction_copy_from_stream_sync (tx, NULL, in1, NULL, &error));
  pge_assert_error (error, PGE_ERROR, PGE_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  cr_assert_null (pge_transaction_copy_to_stream_sync (tx, "COPY t TO STDOUT", NULL, NULL, &error));
  pge_assert_error (error, PGE_ERROR, PGE_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  cr_assert_null (pge_transaction_copy_from_callback_sync (tx, "SELECT 1", rows_read, &rows, &error));
  pge_assert_error (error, PGE_ERROR, PGE_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  bad = pge_transaction_copy_from_stream (tx, "COPY t FROM STDIN", NULL, NULL);
  cr_assert_null (pge_future_wait (bad, &error));
  pge_assert_error (error, PGE_ERROR, PGE_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  g_clear_pointer (&bad, pge_future_unref);
  bad = pge_transaction_copy_to_stream (tx, NULL, out1, NULL);
  cr_assert_null (pge_future_wait (bad, &error));
  pge_assert_error (error, PGE_ERROR, PGE_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  g_clear_pointer (&bad, pge_future_unref);
  bad = pge_transaction_copy_to_callback (tx, "COPY t TO STDOUT", NULL, NULL, NULL);
  cr_assert_null (pge_future_wait (bad, &error));
  pge_assert_error (error, PGE_ERROR, PGE_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  g_clear_pointer (&bad, pge_future_unref);
  bad = pge_transaction_copy_from_callback (tx, "COPY t FROM STDIN", NULL, NULL, NULL);
  cr_assert_null (pge_future_wait (bad, &error));
  pge_assert_error (error, PGE_ERROR, PGE_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  cr_assert_null (pge_transaction_copy_to_callback_sync (tx, NULL, sink_write, &sink, &error));
  pge_assert_error (error, PGE_ERROR, PGE_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);

  cr_assert (pge_transaction_commit (tx, &error), "%s", error ? error->message : "");
  cr_assert_eq (count_rows (test_engine, "t"), 7);
}

/* A stream whose reads fail midway: its error comes back as it was. */
Test (copy, a_stream_read_error_loads_nothing)
{
  g_autoptr(PgeEngine) engine = pge_test_new_engine (1);
  g_autoptr(GInputStream) base = memory_input ("1\ta\n");
  g_autoptr(GInputStream) in = NULL;
  g_autoptr(GError) error = NULL;

  exec_ok (engine, "CREATE TABLE t (id int, x text)");
  /* A closed stream refuses to be read. */
  cr_assert (g_input_stream_close (base, NULL, NULL));
  in = g_object_ref (base);
  cr_assert_null (pge_engine_copy_from_stream_sync (engine, "COPY t FROM STDIN", in, NULL, &error));
  pge_assert_error (error, G_IO_ERROR, G_IO_ERROR_CLOSED);
  cr_assert_eq (count_rows (engine, "t"), 0);
  assert_usable (engine);
}
