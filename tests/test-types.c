/* test-types.c — every public type is a registered GType: PgeEngine a
 * GObject, the others boxed types whose copy/free are their ref/unref, so
 * bindings and g_autoptr agree.
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "fixture.h"

TestSuite (types, .init = pge_test_engine_up, .fini = pge_test_engine_down);

typedef struct {
  GType       type;
  const char *name;
} TypeCase;

Test (types, every_type_is_registered_under_its_name)
{
  const TypeCase cases[] = {
    { PGE_TYPE_CONFIG, "PgeConfig" },
    { PGE_TYPE_PARAMS, "PgeParams" },
    { PGE_TYPE_RESULT, "PgeResult" },
    { PGE_TYPE_FUTURE, "PgeFuture" },
    { PGE_TYPE_TRANSACTION, "PgeTransaction" },
    { PGE_TYPE_SAVEPOINT, "PgeSavepoint" },
    { PGE_TYPE_BATCH, "PgeBatch" },
    { PGE_TYPE_ATOMIC, "PgeAtomic" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      cr_assert (G_TYPE_IS_BOXED (cases[i].type), "%s is not boxed", cases[i].name);
      cr_assert_str_eq (g_type_name (cases[i].type), cases[i].name);
    }
  cr_assert (G_TYPE_IS_OBJECT (PGE_TYPE_ENGINE));
  cr_assert (G_TYPE_IS_FINAL (PGE_TYPE_ENGINE));
  cr_assert (g_type_is_a (PGE_TYPE_ENGINE, G_TYPE_INITABLE));
  cr_assert (g_type_is_a (PGE_TYPE_ENGINE, G_TYPE_ASYNC_INITABLE));
  cr_assert_str_eq (g_type_name (PGE_TYPE_ENGINE), "PgeEngine");
  cr_assert (G_TYPE_IS_ENUM (PGE_TYPE_ERROR));
  cr_assert (G_TYPE_IS_FLAGS (PGE_TYPE_TRANSACTION_FLAGS));
}

Test (types, error_enum_and_flags_name_their_values)
{
  g_autoptr(GEnumClass) errors = g_type_class_ref (PGE_TYPE_ERROR);
  g_autoptr(GFlagsClass) flags = g_type_class_ref (PGE_TYPE_TRANSACTION_FLAGS);

  cr_assert_str_eq (g_enum_get_value (errors, PGE_ERROR_NESTED)->value_nick, "nested");
  cr_assert_str_eq (g_enum_get_value (errors, PGE_ERROR_QUEUE_FULL)->value_name, "PGE_ERROR_QUEUE_FULL");
  cr_assert_null (g_enum_get_value (errors, 1000));
  cr_assert_not_null (g_flags_get_first_value (flags, PGE_TRANSACTION_SERIALIZABLE));
  cr_assert_null (g_flags_get_first_value (flags, 1 << 20));
  cr_assert_not_null (g_quark_to_string (PGE_ERROR));
  cr_assert_eq (g_quark_try_string (g_quark_to_string (PGE_ERROR)), PGE_ERROR);
}

/* g_boxed_copy is ref and g_boxed_free is unref: the copy is the same
 * object, and freeing it leaves the original alive. */
Test (types, boxed_copy_is_ref_and_free_is_unref)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PgeTransaction) tx = pge_engine_transaction (test_engine, PGE_TRANSACTION_DEFAULT, &error);
  g_autoptr(PgeSavepoint) savepoint = NULL;
  g_autoptr(PgeResult) result = NULL;
  gpointer copy;

  cr_assert_not_null (tx, "%s", error ? error->message : "");
  savepoint = pge_transaction_savepoint (tx, "sp", &error);
  cr_assert_not_null (savepoint);

  copy = g_boxed_copy (PGE_TYPE_TRANSACTION, tx);
  cr_assert_eq (copy, tx);
  g_boxed_free (PGE_TYPE_TRANSACTION, copy);
  copy = pge_transaction_ref (tx);
  pge_transaction_unref (copy);

  copy = g_boxed_copy (PGE_TYPE_SAVEPOINT, savepoint);
  cr_assert_eq (copy, savepoint);
  g_boxed_free (PGE_TYPE_SAVEPOINT, copy);
  copy = pge_savepoint_ref (savepoint);
  pge_savepoint_unref (copy);

  /* Both still work: nothing was freed early. */
  cr_assert_str_eq (pge_savepoint_get_name (savepoint), "sp");
  result = pge_transaction_query_sync (tx, "SELECT 1", NULL, &error);
  cr_assert_not_null (result, "%s", error ? error->message : "");
  cr_assert (pge_transaction_commit (tx, &error));
}

/* A GValue holding a result keeps it alive after the caller's unref. */
Test (types, gvalue_holds_a_reference)
{
  g_autoptr(GError) error = NULL;
  PgeResult *result = pge_engine_query_sync (test_engine, "SELECT 7", NULL, &error);
  GValue value = G_VALUE_INIT;

  cr_assert_not_null (result);
  g_value_init (&value, PGE_TYPE_RESULT);
  g_value_set_boxed (&value, result);
  pge_result_unref (result);
  cr_assert_eq (pge_result_get_int64 (g_value_get_boxed (&value), 0, 0), 7);
  g_value_unset (&value);
}

/* Refs of NULL are programmer errors: a critical and NULL, no crash. */
Test (types, ref_of_null_returns_null)
{
  cr_assert_null (pge_transaction_ref (NULL));
  cr_assert_null (pge_savepoint_ref (NULL));
  cr_assert_null (pge_engine_ref (NULL));
  cr_assert_null (pge_future_ref (NULL));
  cr_assert_null (pge_result_ref (NULL));
  cr_assert_null (pge_params_ref (NULL));
  cr_assert_null (pge_config_ref (NULL));
}

/* pge-version.h is made by configure from configure.ac's version. */
Test (types, version_macros_match_the_package_version)
{
  g_autofree char *version = g_strdup_printf ("%d.%d.%d", PGE_MAJOR_VERSION, PGE_MINOR_VERSION,
                                              PGE_MICRO_VERSION);

  cr_assert_str_eq (version, PGE_VERSION_S);
  cr_assert_str_eq (PGE_VERSION_S, PACKAGE_VERSION);
  cr_assert (PGE_CHECK_VERSION (1, 0, 0));
  cr_assert (PGE_CHECK_VERSION (PGE_MAJOR_VERSION, PGE_MINOR_VERSION, PGE_MICRO_VERSION));
  cr_assert (!PGE_CHECK_VERSION (PGE_MAJOR_VERSION, PGE_MINOR_VERSION, PGE_MICRO_VERSION + 1));
  cr_assert (!PGE_CHECK_VERSION (PGE_MAJOR_VERSION, PGE_MINOR_VERSION + 1, 0));
  cr_assert (!PGE_CHECK_VERSION (PGE_MAJOR_VERSION + 1, 0, 0));
  cr_assert (PGE_CHECK_VERSION (0, 99, 99));
  cr_assert_geq (PGE_VERSION_HEX, PGE_VERSION_1_0);
}
