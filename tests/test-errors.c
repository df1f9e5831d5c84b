/* test-errors.c — PGE_ERROR, the SQLSTATE it carries, and secrets kept out
 * of messages.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <string.h>
#include <unistd.h>

#include "fixture.h"

TestSuite (errors, .init = pge_test_engine_up, .fini = pge_test_engine_down);

/* Runs @sql on the test engine and returns its error (asserts there is one). */
static GError *
query_error (const char *sql)
{
  GError *error = NULL;
  g_autoptr(PgeResult) result = pge_engine_query_sync (test_engine, sql, NULL, &error);

  cr_assert_null (result, "%s should fail", sql);
  cr_assert_not_null (error, "%s should fail", sql);
  return error;
}

/* A connection string for this test's server with @extra appended. */
static char *
conninfo_with (const char *extra)
{
  return g_strdup_printf ("%s %s", pge_test_conninfo (), extra);
}

static GError *
engine_new_error (const char *conninfo)
{
  g_autoptr(PgeConfig) config = pge_config_new (conninfo);
  g_autoptr(PgeEngine) engine = NULL;
  GError *error = NULL;

  pge_config_set_workers (config, 1);
  engine = pge_engine_new (config, &error);
  cr_assert_null (engine, "pge_engine_new (%s) should fail", conninfo);
  cr_assert_not_null (error);
  return error;
}

Test (errors, sqlstate_of_null_error_is_null)
{
  cr_assert_null (pge_error_get_sqlstate (NULL));
}

Test (errors, sqlstate_of_foreign_domain_error_is_null)
{
  g_autoptr(GError) error = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_FAILED, "42P01");

  cr_assert_null (pge_error_get_sqlstate (error));
}

Test (errors, sqlstate_of_locally_made_pge_error_is_null)
{
  g_autoptr(GError) error = g_error_new_literal (PGE_ERROR, PGE_ERROR_QUERY, "made here");
  g_autoptr(GError) invalid = NULL;
  g_autoptr(PgeResult) result = pge_engine_query_sync (test_engine, "", NULL, &invalid);

  cr_assert_null (pge_error_get_sqlstate (error));
  pge_assert_error (invalid, PGE_ERROR, PGE_ERROR_INVALID_ARGUMENT);
  cr_assert_null (pge_error_get_sqlstate (invalid));
}

Test (errors, undefined_table_is_query_error_42P01_of_its_class)
{
  g_autoptr(GError) error = query_error ("SELECT * FROM no_such_table_anywhere");

  pge_assert_error (error, PGE_ERROR, PGE_ERROR_QUERY);
  cr_assert_eq (pge_error_get_class (error), PGE_ERROR_CLASS_UNDEFINED_TABLE);
  cr_assert (pge_error_is_server_error (error));
  cr_assert_str_eq (pge_error_get_sqlstate (error), "42P01");
  cr_assert_not_null (strstr (error->message, "no_such_table_anywhere"), "%s", error->message);
}

Test (errors, division_by_zero_is_query_error_22012)
{
  g_autoptr(GError) error = query_error ("SELECT 1 / 0");

  pge_assert_error (error, PGE_ERROR, PGE_ERROR_QUERY);
  cr_assert_str_eq (pge_error_get_sqlstate (error), "22012");
}

Test (errors, unique_violation_is_query_error_23505_of_its_class)
{
  g_autoptr(GError) error = NULL;

  cr_assert (pge_engine_exec_sync (test_engine,
                                   "CREATE TABLE uniq (id int PRIMARY KEY);"
                                   "INSERT INTO uniq VALUES (1)", &error));
  cr_assert_null (error);
  error = query_error ("INSERT INTO uniq VALUES (1)");
  pge_assert_error (error, PGE_ERROR, PGE_ERROR_QUERY);
  cr_assert_eq (pge_error_get_class (error), PGE_ERROR_CLASS_UNIQUE_VIOLATION);
  cr_assert_str_eq (pge_error_get_sqlstate (error), "23505");
}

Test (errors, sqlstate_survives_g_error_copy_and_propagate)
{
  g_autoptr(GError) error = query_error ("SELECT 1 / 0");
  g_autoptr(GError) copy = g_error_copy (error);
  g_autoptr(GError) copy_of_copy = g_error_copy (copy);
  GError *propagated = NULL;

  g_propagate_error (&propagated, g_error_copy (error));
  cr_assert_str_eq (pge_error_get_sqlstate (copy), "22012");
  cr_assert_str_eq (pge_error_get_sqlstate (copy_of_copy), "22012");
  cr_assert_str_eq (pge_error_get_sqlstate (propagated), "22012");
  /* Each copy owns its own storage. */
  cr_assert_neq ((void *) pge_error_get_sqlstate (copy), (void *) pge_error_get_sqlstate (error));
  g_clear_error (&propagated);
  cr_assert_str_eq (pge_error_get_sqlstate (copy), "22012");
}

Test (errors, error_enum_is_registered)
{
  GEnumClass *klass = g_type_class_ref (pge_error_get_type ());
  GEnumValue *value = g_enum_get_value (klass, PGE_ERROR_QUEUE_FULL);

  cr_assert_not_null (value);
  cr_assert_str_eq (value->value_name, "PGE_ERROR_QUEUE_FULL");
  cr_assert_not_null (g_enum_get_value (klass, PGE_ERROR_NESTED));
  g_type_class_unref (klass);
}

Test (errors, connect_error_never_shows_the_password)
{
  /* The throwaway cluster trusts local connections, so a wrong password
   * alone does not fail. Make the server echo the password back instead:
   * as the name of a database that does not exist. */
  const char *secret = "pge_Secret_Pw_4711";
  g_autofree char *extra = g_strdup_printf ("dbname=%s password=%s", secret, secret);
  g_autofree char *conninfo = conninfo_with (extra);
  g_autoptr(GError) error = engine_new_error (conninfo);

  pge_assert_error (error, PGE_ERROR, PGE_ERROR_CONNECTION);
  cr_assert_null (strstr (error->message, secret), "password in: %s", error->message);
  cr_assert_not_null (strstr (error->message, "does not exist"), "%s", error->message);
}

Test (errors, wrong_password_for_a_role_never_shows_the_password)
{
  g_autofree char *role = g_strdup_printf ("pge_pw_role_%d", (int) getpid ());
  g_autofree char *create = g_strdup_printf ("CREATE ROLE %s LOGIN PASSWORD 'right_pw_981'", role);
  g_autofree char *drop = g_strdup_printf ("DROP ROLE IF EXISTS %s", role);
  /* A database named after the wrong password makes the server quote it. */
  g_autofree char *extra = g_strdup_printf ("user=%s password=wrong_pw_1234 dbname=wrong_pw_1234", role);
  g_autofree char *conninfo = conninfo_with (extra);
  g_autoptr(GError) error = NULL;

  g_free (pge_test_admin_query (create));
  error = engine_new_error (conninfo);
  g_free (pge_test_admin_query (drop));
  pge_assert_error (error, PGE_ERROR, PGE_ERROR_CONNECTION);
  cr_assert_null (strstr (error->message, "wrong_pw_1234"), "password in: %s", error->message);
  cr_assert_null (strstr (error->message, "right_pw_981"), "password in: %s", error->message);
}

Test (errors, malformed_conninfo_error_never_shows_the_password)
{
  const char *conninfos[] = {
    "host=127.0.0.1 password=hunter2_secret bogus_without_equals",
    "host=127.0.0.1 password='hunter2_secret",
    "host=127.0.0.1 password=hunter2_secret nosuchkeyword=1",
    "postgresql://u:hunter2_secret@127.0.0.1:notaport/db",
  };

  for (guint i = 0; i < G_N_ELEMENTS (conninfos); i++)
    {
      g_autoptr(PgeConfig) config = pge_config_new (conninfos[i]);
      g_autoptr(GError) error = NULL;
      g_autoptr(PgeEngine) engine = pge_engine_new (config, &error);

      cr_assert_null (engine, "%s", conninfos[i]);
      cr_assert_not_null (error, "%s", conninfos[i]);
      cr_assert (error->code == PGE_ERROR_INVALID_ARGUMENT || error->code == PGE_ERROR_CONNECTION,
                 "%s: code %d", conninfos[i], error->code);
      cr_assert_null (strstr (error->message, "hunter2"), "password in: %s", error->message);
    }
}

Test (errors, syntax_error_is_query_error_42601)
{
  g_autoptr(GError) error = query_error ("SELEC 1");

  pge_assert_error (error, PGE_ERROR, PGE_ERROR_QUERY);
  cr_assert_str_eq (pge_error_get_sqlstate (error), "42601");
}

/* Each common SQLSTATE has its class; all are PGE_ERROR_QUERY, as the
 * contract says; other SQLSTATEs have no class. */
Test (errors, common_sqlstates_have_their_own_classes)
{
  static const struct {
    const char *sql;
    const char *sqlstate;
    PgeErrorClass klass;
  } cases[] = {
    { "INSERT INTO kids VALUES (1, 99)", "23503", PGE_ERROR_CLASS_FOREIGN_KEY_VIOLATION },
    { "INSERT INTO kids VALUES (2, NULL)", "23502", PGE_ERROR_CLASS_NOT_NULL_VIOLATION },
    { "INSERT INTO kids VALUES (-1, 1)", "23514", PGE_ERROR_CLASS_CHECK_VIOLATION },
    { "DO $$ BEGIN RAISE EXCEPTION 'retry me' USING ERRCODE = '40001'; END $$", "40001",
      PGE_ERROR_CLASS_SERIALIZATION_FAILURE },
    { "DO $$ BEGIN RAISE EXCEPTION 'deadlock' USING ERRCODE = '40P01'; END $$", "40P01",
      PGE_ERROR_CLASS_DEADLOCK },
    { "SELECT no_such_column FROM kids", "42703", PGE_ERROR_CLASS_UNDEFINED_COLUMN },
    { "SELECT 1 / 0", "22012", PGE_ERROR_CLASS_NONE },
  };
  g_autoptr(GError) setup = NULL;

  cr_assert (pge_engine_exec_sync (test_engine,
                                   "CREATE TABLE parents (id int PRIMARY KEY);"
                                   "INSERT INTO parents VALUES (1);"
                                   "CREATE TABLE kids (id int CHECK (id >= 0), "
                                   "  parent int NOT NULL REFERENCES parents)", &setup));
  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GError) error = query_error (cases[i].sql);

      pge_assert_error (error, PGE_ERROR, PGE_ERROR_QUERY);
      cr_assert_eq (pge_error_get_class (error), cases[i].klass, "%s", cases[i].sql);
      cr_assert_str_eq (pge_error_get_sqlstate (error), cases[i].sqlstate, "%s", cases[i].sql);
      cr_assert (pge_error_is_server_error (error), "%s", cases[i].sql);
      cr_assert (g_str_has_suffix (error->message, cases[i].sqlstate) ||
                 g_str_has_suffix (error->message, "]"), "%s", error->message);
    }
}

Test (errors, classes_are_registered_and_codes_keep_their_numbers)
{
  GEnumClass *klass = g_type_class_ref (pge_error_class_get_type ());

  cr_assert_str_eq (g_enum_get_value (klass, PGE_ERROR_CLASS_UNIQUE_VIOLATION)->value_nick, "unique-violation");
  cr_assert_str_eq (g_enum_get_value (klass, PGE_ERROR_CLASS_UNDEFINED_COLUMN)->value_nick, "undefined-column");
  cr_assert_eq (PGE_ERROR_NESTED, 9, "existing codes keep their numbers");
  g_type_class_unref (klass);
}

/* The class is read from the SQLSTATE, so a copy a binding rebuilt from
 * the message has it too; bad input is no class. */
Test (errors, class_of_a_rebuilt_copy_and_of_bad_input)
{
  g_autoptr(GError) rebuilt = g_error_new_literal (PGE_ERROR, PGE_ERROR_QUERY, "dup [SQLSTATE 23505]");
  g_autoptr(GError) plain = g_error_new_literal (PGE_ERROR, PGE_ERROR_QUERY, "no sqlstate");
  g_autoptr(GError) foreign = g_error_new_literal (G_IO_ERROR, 0, "x [SQLSTATE 23505]");

  cr_assert_eq (pge_error_get_class (rebuilt), PGE_ERROR_CLASS_UNIQUE_VIOLATION);
  cr_assert_eq (pge_error_get_class (plain), PGE_ERROR_CLASS_NONE);
  cr_assert_eq (pge_error_get_class (foreign), PGE_ERROR_CLASS_NONE);
  cr_assert_eq (pge_error_get_class (NULL), PGE_ERROR_CLASS_NONE);
}

/* What a binding does: PyGObject rebuilds a plain GError from domain, code
 * and message when Python hands a GLib.Error back to C. */
Test (errors, sqlstate_survives_a_copy_rebuilt_from_the_message)
{
  g_autoptr(GError) error = query_error ("SELECT 1 / 0");
  g_autoptr(GError) rebuilt = g_error_new_literal (error->domain, error->code, error->message);
  const char *sqlstate;

  cr_assert (g_str_has_suffix (error->message, " [SQLSTATE 22012]"), "%s", error->message);
  sqlstate = pge_error_get_sqlstate (rebuilt);
  cr_assert_str_eq (sqlstate, "22012");
  g_clear_error (&rebuilt);
  cr_assert_str_eq (sqlstate, "22012", "read from a message, the SQLSTATE outlives the error");
}

Test (errors, sqlstate_suffix_must_be_exact)
{
  static const char *messages[] = {
    "oops [SQLSTATE 2201]",        /* four characters */
    "oops [SQLSTATE 22012] ",      /* not at the end */
    "oops [SQLSTATE 22a12]",       /* lower case */
    "oops [SQLSTATE 220123]",      /* six */
    "[SQLSTATE 22012]",            /* no leading space */
    "",
  };

  for (gsize i = 0; i < G_N_ELEMENTS (messages); i++)
    {
      g_autoptr(GError) error = g_error_new_literal (PGE_ERROR, PGE_ERROR_QUERY, messages[i]);

      cr_assert_null (pge_error_get_sqlstate (error), "%s", messages[i]);
    }
  {
    g_autoptr(GError) ok = g_error_new_literal (PGE_ERROR, PGE_ERROR_QUERY, "x [SQLSTATE 40P01]");
    g_autoptr(GError) foreign = g_error_new_literal (G_IO_ERROR, 0, "x [SQLSTATE 40P01]");

    cr_assert_str_eq (pge_error_get_sqlstate (ok), "40P01");
    cr_assert_null (pge_error_get_sqlstate (foreign), "only the PGE_ERROR domain");
  }
}

Test (errors, is_server_error_only_for_statement_errors)
{
  g_autoptr(GError) query = g_error_new_literal (PGE_ERROR, PGE_ERROR_QUERY, "q");
  g_autoptr(GError) timeout = g_error_new_literal (PGE_ERROR, PGE_ERROR_TIMEOUT, "t");
  g_autoptr(GError) io = g_error_new_literal (G_IO_ERROR, PGE_ERROR_QUERY, "io");

  cr_assert (pge_error_is_server_error (query));
  cr_assert_not (pge_error_is_server_error (timeout));
  cr_assert_not (pge_error_is_server_error (io));
  cr_assert_not (pge_error_is_server_error (NULL));
}
