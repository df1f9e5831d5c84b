/* test-savepoint.c — PgeSavepoint and the savepoint calls of
 * PgeTransaction: names, rollback_to, release, state rules, injection.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <string.h>

#include "fixture.h"

TestSuite (savepoint, .init = pge_test_engine_up, .fini = pge_test_engine_down);

static PgeTransaction *
begin_with_table (void)
{
  g_autoptr(GError) error = NULL;
  PgeTransaction *tx;

  cr_assert (pge_engine_exec_sync (test_engine, "CREATE TABLE t (v int)", &error));
  tx = pge_engine_transaction (test_engine, PGE_TRANSACTION_DEFAULT, &error);
  cr_assert_null (error, "%s", error ? error->message : "");
  return tx;
}

static void
tx_exec_ok (PgeTransaction *tx, const char *sql)
{
  g_autoptr(GError) error = NULL;

  cr_assert (pge_transaction_exec_sync (tx, sql, &error), "%s: %s", sql, error ? error->message : "");
}

static char *
tx_values (PgeTransaction *tx)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PgeResult) result =
    pge_transaction_query_sync (tx, "SELECT coalesce(string_agg(v::text, ',' ORDER BY v), '') FROM t",
                                NULL, &error);

  cr_assert_null (error, "%s", error ? error->message : "");
  return g_strdup (pge_result_get_value (result, 0, 0));
}

/* Jobs the engine has finished, failed or not: unchanged means nothing
 * was sent. */
static guint64
n_jobs (void)
{
  PgeStats stats;

  pge_engine_get_stats (test_engine, &stats);
  return stats.n_completed + stats.n_failed;
}

Test (savepoint, rollback_to_undoes_later_work_and_can_repeat)
{
  g_autoptr(PgeTransaction) tx = begin_with_table ();
  g_autoptr(PgeSavepoint) sp = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *v1 = NULL;
  g_autofree char *v2 = NULL;

  tx_exec_ok (tx, "INSERT INTO t VALUES (1)");
  sp = pge_transaction_savepoint (tx, "before_two", &error);
  cr_assert_null (error);
  cr_assert_str_eq (pge_savepoint_get_name (sp), "before_two");
  cr_assert_eq (pge_savepoint_get_transaction (sp), tx);
  tx_exec_ok (tx, "INSERT INTO t VALUES (2)");
  cr_assert (pge_savepoint_rollback_to (sp, &error));
  v1 = tx_values (tx);
  cr_assert_str_eq (v1, "1");
  /* The savepoint stays defined after a rollback to it. */
  tx_exec_ok (tx, "INSERT INTO t VALUES (3)");
  cr_assert (pge_savepoint_rollback_to (sp, &error), "%s", error ? error->message : "");
  v2 = tx_values (tx);
  cr_assert_str_eq (v2, "1");
  cr_assert (pge_transaction_commit (tx, NULL));
}

Test (savepoint, auto_names_follow_the_savepoint_id)
{
  g_autoptr(PgeTransaction) tx = begin_with_table ();
  g_autoptr(PgeTransaction) other = NULL;
  g_autoptr(PgeSavepoint) a = pge_transaction_savepoint (tx, NULL, NULL);
  g_autoptr(PgeSavepoint) b = pge_transaction_savepoint (tx, NULL, NULL);

  cr_assert_str_eq (pge_savepoint_get_name (a), "savepoint_1");
  cr_assert_str_eq (pge_savepoint_get_name (b), "savepoint_2");
  cr_assert_eq (pge_transaction_get_savepoint_id (tx), 3);
  cr_assert_eq (pge_transaction_get_savepoint_id (tx), 4);
  cr_assert (pge_transaction_rollback_to (tx, "savepoint_1", NULL));
  cr_assert (pge_transaction_commit (tx, NULL));

  /* Per transaction: a new one starts at 1 again. */
  other = pge_engine_transaction (test_engine, PGE_TRANSACTION_DEFAULT, NULL);
  cr_assert_eq (pge_transaction_get_savepoint_id (other), 1);
}

Test (savepoint, next_savepoint_id_takes_a_new_number_each_call)
{
  g_autoptr(PgeTransaction) tx = begin_with_table ();
  g_autoptr(PgeSavepoint) a = pge_transaction_savepoint (tx, NULL, NULL);

  cr_assert_str_eq (pge_savepoint_get_name (a), "savepoint_1");
  cr_assert_eq (pge_transaction_next_savepoint_id (tx), 2);
  cr_assert_eq (pge_transaction_next_savepoint_id (tx), 3);
  /* The 1.0 name shares the counter. */
  cr_assert_eq (pge_transaction_get_savepoint_id (tx), 4);
  cr_assert (pge_transaction_rollback (tx, NULL));
}

Test (savepoint, next_savepoint_id_of_null_is_a_precondition)
{
  cr_assert_eq (pge_transaction_next_savepoint_id (NULL), 0);
}

Test (savepoint, injection_attempts_are_rejected_and_nothing_is_sent)
{
  g_autoptr(PgeTransaction) tx = begin_with_table ();
  g_autofree char *too_long = g_strnfill (64, 'a');
  const char *bad[] = {
    "",
    "a; DROP TABLE t",
    "x\"; DROP TABLE t; --",
    "sp 1",
    "sp-1",
    "sp'1",
    "caf\xc3\xa9",
    "a\nb",
    too_long,
  };
  guint64 before;
  g_autofree char *values = NULL;

  tx_exec_ok (tx, "INSERT INTO t VALUES (1)");
  before = n_jobs ();
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr(GError) e1 = NULL;
      g_autoptr(GError) e2 = NULL;
      g_autoptr(PgeSavepoint) sp = pge_transaction_savepoint (tx, bad[i], &e1);

      cr_assert_null (sp, "case %u accepted", i);
      pge_assert_error (e1, PGE_ERROR, PGE_ERROR_INVALID_ARGUMENT);
      cr_assert_not (pge_transaction_rollback_to (tx, bad[i], &e2));
      pge_assert_error (e2, PGE_ERROR, PGE_ERROR_INVALID_ARGUMENT);
    }
  {
    g_autoptr(GError) e3 = NULL;

    cr_assert_not (pge_transaction_rollback_to (tx, NULL, &e3));
    pge_assert_error (e3, PGE_ERROR, PGE_ERROR_INVALID_ARGUMENT);
  }
  cr_assert_eq (n_jobs (), before, "a rejected name reached the server");
  /* The transaction is untouched: not aborted, table and row still there. */
  values = tx_values (tx);
  cr_assert_str_eq (values, "1");
  cr_assert (pge_transaction_commit (tx, NULL));
}

Test (savepoint, longest_valid_name_is_accepted)
{
  g_autoptr(PgeTransaction) tx = begin_with_table ();
  g_autofree char *name = g_strnfill (63, 'S');
  g_autoptr(GError) error = NULL;
  g_autoptr(PgeSavepoint) sp = pge_transaction_savepoint (tx, name, &error);

  cr_assert_null (error, "%s", error ? error->message : "");
  cr_assert (pge_savepoint_release (sp, &error));
  /* Quoted: the name keeps its case. */
  cr_assert (pge_transaction_commit (tx, NULL));
}

Test (savepoint, release_keeps_the_work_and_cannot_repeat)
{
  g_autoptr(PgeTransaction) tx = begin_with_table ();
  g_autoptr(PgeSavepoint) sp = pge_transaction_savepoint (tx, "Mixed_Case_1", NULL);
  g_autoptr(GError) e1 = NULL;
  g_autoptr(GError) e2 = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *values = NULL;
  guint64 before;

  cr_assert_not_null (sp);
  tx_exec_ok (tx, "INSERT INTO t VALUES (5)");
  cr_assert (pge_savepoint_release (sp, &error), "%s", error ? error->message : "");
  before = n_jobs ();
  cr_assert_not (pge_savepoint_release (sp, &e1));
  pge_assert_error (e1, PGE_ERROR, PGE_ERROR_TRANSACTION_STATE);
  cr_assert_not (pge_savepoint_rollback_to (sp, &e2));
  pge_assert_error (e2, PGE_ERROR, PGE_ERROR_TRANSACTION_STATE);
  cr_assert_eq (n_jobs (), before, "a refused savepoint call was sent");
  values = tx_values (tx);
  cr_assert_str_eq (values, "5", "a refused call aborted the transaction");
  cr_assert (pge_transaction_commit (tx, NULL));
}

Test (savepoint, rollback_to_recovers_an_aborted_transaction)
{
  g_autoptr(PgeTransaction) tx = begin_with_table ();
  g_autoptr(PgeSavepoint) sp = NULL;
  g_autoptr(GError) query_error = NULL;
  g_autoptr(GError) aborted_error = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(PgeResult) result = NULL;
  g_autofree char *committed = NULL;
  g_autofree char *sql = NULL;

  tx_exec_ok (tx, "INSERT INTO t VALUES (1)");
  sp = pge_transaction_savepoint (tx, NULL, NULL);
  cr_assert_not (pge_transaction_exec_sync (tx, "SELECT 1/0", &query_error));
  pge_assert_error (query_error, PGE_ERROR, PGE_ERROR_QUERY);
  result = pge_transaction_query_sync (tx, "SELECT 1", NULL, &aborted_error);
  cr_assert_str_eq (pge_error_get_sqlstate (aborted_error), "25P02");
  cr_assert (pge_savepoint_rollback_to (sp, &error), "%s", error ? error->message : "");
  tx_exec_ok (tx, "INSERT INTO t VALUES (2)");
  cr_assert (pge_transaction_commit (tx, &error), "still aborted: %s", error ? error->message : "");
  sql = g_strdup_printf ("SELECT string_agg(v::text, ',' ORDER BY v) FROM %s.t", pge_test_schema ());
  committed = pge_test_admin_query (sql);
  cr_assert_str_eq (committed, "1,2");
}

Test (savepoint, rollback_to_by_name_and_unknown_name)
{
  g_autoptr(PgeTransaction) tx = begin_with_table ();
  g_autoptr(PgeSavepoint) sp = pge_transaction_savepoint (tx, "sp1", NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(GError) unknown = NULL;
  g_autofree char *values = NULL;

  tx_exec_ok (tx, "INSERT INTO t VALUES (1)");
  cr_assert (pge_transaction_rollback_to (tx, "sp1", &error), "%s", error ? error->message : "");
  values = tx_values (tx);
  cr_assert_str_eq (values, "");
  cr_assert_not (pge_transaction_rollback_to (tx, "no_such_savepoint", &unknown));
  pge_assert_error (unknown, PGE_ERROR, PGE_ERROR_QUERY);
  cr_assert_str_eq (pge_error_get_sqlstate (unknown), "3B001");
  cr_assert (pge_transaction_rollback (tx, NULL));
}

Test (savepoint, calls_on_an_ended_transaction_are_state_errors)
{
  g_autoptr(PgeTransaction) tx = begin_with_table ();
  g_autoptr(PgeSavepoint) sp = pge_transaction_savepoint (tx, "sp", NULL);
  g_autoptr(PgeSavepoint) late = NULL;
  g_autoptr(GError) e1 = NULL;
  g_autoptr(GError) e2 = NULL;
  g_autoptr(GError) e3 = NULL;
  g_autoptr(GError) e4 = NULL;

  cr_assert (pge_transaction_commit (tx, NULL));
  cr_assert_not (pge_savepoint_rollback_to (sp, &e1));
  pge_assert_error (e1, PGE_ERROR, PGE_ERROR_TRANSACTION_STATE);
  cr_assert_not (pge_savepoint_release (sp, &e2));
  pge_assert_error (e2, PGE_ERROR, PGE_ERROR_TRANSACTION_STATE);
  late = pge_transaction_savepoint (tx, "late", &e3);
  cr_assert_null (late);
  pge_assert_error (e3, PGE_ERROR, PGE_ERROR_TRANSACTION_STATE);
  cr_assert_not (pge_transaction_rollback_to (tx, "sp", &e4));
  pge_assert_error (e4, PGE_ERROR, PGE_ERROR_TRANSACTION_STATE);
}

Test (savepoint, savepoint_keeps_its_transaction_alive)
{
  PgeTransaction *tx = begin_with_table ();
  g_autoptr(PgeSavepoint) sp = pge_transaction_savepoint (tx, "keep", NULL);
  PgeStats stats;
  g_autofree char *count = NULL;
  g_autofree char *sql = g_strdup_printf ("SELECT count(*) FROM %s.t", pge_test_schema ());

  tx_exec_ok (tx, "INSERT INTO t VALUES (1)");
  pge_transaction_unref (tx);
  /* The savepoint's reference keeps the transaction open and usable. */
  cr_assert (pge_savepoint_rollback_to (sp, NULL));
  cr_assert_eq (pge_engine_get_current_transaction (test_engine), pge_savepoint_get_transaction (sp));
  g_clear_pointer (&sp, pge_savepoint_unref);
  /* That was the last reference: rolled back, worker free. */
  pge_engine_get_stats (test_engine, &stats);
  cr_assert_eq (stats.n_pinned, 0);
  cr_assert_not (pge_engine_transaction_exists (test_engine));
  count = pge_test_admin_query (sql);
  cr_assert_str_eq (count, "0");
}

Test (savepoint, savepoint_in_an_inner_transaction)
{
  g_autoptr(PgeTransaction) outer = begin_with_table ();
  g_autoptr(PgeTransaction) inner = pge_engine_transaction (test_engine, PGE_TRANSACTION_SAVEPOINT, NULL);
  g_autoptr(PgeSavepoint) sp = NULL;
  g_autofree char *values = NULL;

  cr_assert_not_null (inner);
  sp = pge_transaction_savepoint (inner, NULL, NULL);
  /* The inner transaction took savepoint_1 from the shared counter. */
  cr_assert_str_eq (pge_savepoint_get_name (sp), "savepoint_2");
  tx_exec_ok (inner, "INSERT INTO t VALUES (1)");
  cr_assert (pge_savepoint_rollback_to (sp, NULL));
  tx_exec_ok (inner, "INSERT INTO t VALUES (2)");
  cr_assert (pge_transaction_commit (inner, NULL));
  values = tx_values (outer);
  cr_assert_str_eq (values, "2");
  cr_assert (pge_transaction_commit (outer, NULL));
}

Test (savepoint, type_is_boxed)
{
  g_autoptr(PgeTransaction) tx = begin_with_table ();
  g_autoptr(PgeSavepoint) sp = pge_transaction_savepoint (tx, NULL, NULL);
  PgeSavepoint *copy;

  cr_assert (G_TYPE_IS_BOXED (PGE_TYPE_SAVEPOINT));
  cr_assert_str_eq (g_type_name (PGE_TYPE_SAVEPOINT), "PgeSavepoint");
  copy = g_boxed_copy (PGE_TYPE_SAVEPOINT, sp);
  cr_assert_eq (copy, sp);
  g_boxed_free (PGE_TYPE_SAVEPOINT, copy);
  cr_assert_str_eq (pge_savepoint_get_name (sp), "savepoint_1");
  cr_assert (pge_savepoint_release (sp, NULL));
}
