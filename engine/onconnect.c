/* onconnect.c — what runs on every new connection before it serves anyone.
 *
 * pge_config_set_connect_sql() and pge_config_set_connect_func() give a
 * script and a function (roles, SETs, type look-ups, extensions); the
 * engine runs the script, then the function, on each connection it makes:
 * at start, after a reconnect, when a connection is replaced (lifetime,
 * recycle), and again after a session's DISCARD ALL, which undid what they
 * set. A failure fails that connection attempt with its error: the
 * connection is closed and never used.
 *
 * Threads: a hook is immutable once made and shared by reference between
 * a config, its snapshots and every connection of an engine; it runs on
 * the thread that holds the connection (a worker, or a blocking caller
 * that reconnects a connection it took), so the function may run on
 * several threads at once, each with its own PGconn.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "errors-private.h"
#include "onconnect-private.h"

/* The user's function and its data: shared by the hooks made from one
 * another, so @notify runs once, when the last of them is gone. */
typedef struct {
  PgeConnectFunc func;
  gpointer       user_data;
  GDestroyNotify notify;
} ConnectFunc;

struct _PgeConnectHook {
  gatomicrefcount ref;
  char           *sql;   /* nullable */
  ConnectFunc    *func;  /* nullable; an rc box */
};

static void
connect_func_clear (gpointer data)
{
  ConnectFunc *func = data;

  if (func->notify != NULL)
    func->notify (func->user_data);
}

static PgeConnectHook *
hook_new (const char *sql, ConnectFunc *func)
{
  PgeConnectHook *hook = g_new0 (PgeConnectHook, 1);

  g_atomic_ref_count_init (&hook->ref);
  hook->sql = g_strdup (sql);
  hook->func = func;   /* the caller's reference */
  return hook;
}

PgeConnectHook *
pge_connect_hook_new (PgeConnectFunc func, gpointer user_data, GDestroyNotify notify, const char *sql)
{
  ConnectFunc *box = NULL;

  if (func != NULL)
    {
      box = g_atomic_rc_box_new0 (ConnectFunc);
      box->func = func;
      box->user_data = user_data;
      box->notify = notify;
    }
  else if (notify != NULL)
    notify (user_data);
  return hook_new (sql, box);
}

PgeConnectHook *
pge_connect_hook_ref (PgeConnectHook *hook)
{
  g_atomic_ref_count_inc (&hook->ref);
  return hook;
}

void
pge_connect_hook_unref (PgeConnectHook *hook)
{
  if (hook == NULL || !g_atomic_ref_count_dec (&hook->ref))
    return;
  if (hook->func != NULL)
    g_atomic_rc_box_release_full (hook->func, connect_func_clear);
  g_free (hook->sql);
  g_free (hook);
}

PgeConnectFunc
pge_connect_hook_get_func (PgeConnectHook *hook)
{
  return hook != NULL && hook->func != NULL ? hook->func->func : NULL;
}

const char *
pge_connect_hook_get_sql (PgeConnectHook *hook)
{
  return hook != NULL ? hook->sql : NULL;
}

PgeConnectHook *
pge_connect_hook_with_sql (PgeConnectHook *hook, const char *sql)
{
  ConnectFunc *func = hook != NULL && hook->func != NULL ? g_atomic_rc_box_acquire (hook->func) : NULL;

  return hook_new (sql != NULL && *sql != '\0' ? sql : NULL, func);
}

PgeConnectHook *
pge_connect_hook_with_func (PgeConnectHook *hook, PgeConnectFunc func, gpointer user_data,
                            GDestroyNotify notify)
{
  return pge_connect_hook_new (func, user_data, notify, hook != NULL ? hook->sql : NULL);
}

static gboolean
run_sql (const char *sql, PGconn *pg, GError **error)
{
  PGresult *res = PQexec (pg, sql);
  ExecStatusType status = PQresultStatus (res);
  gboolean ok = status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK || status == PGRES_EMPTY_QUERY;

  if (!ok)
    {
      g_autoptr(GError) local = res != NULL ? pge_error_new_from_result (res, FALSE)
                                            : pge_error_new_from_conn (pg, PGE_ERROR_CONNECTION,
                                                                       "the on-connect script failed");

      g_propagate_prefixed_error (error, g_steal_pointer (&local), "on-connect script: ");
    }
  PQclear (res);
  return ok;
}

static gboolean
run_func (ConnectFunc *func, PGconn *pg, GError **error)
{
  GError *local = NULL;

  if (func->func (pg, func->user_data, &local))
    {
      /* A function that says it succeeded wins over a stray error. */
      g_clear_error (&local);
      return TRUE;
    }
  if (local == NULL)
    local = g_error_new_literal (PGE_ERROR, PGE_ERROR_CONNECTION,
                                 "the on-connect function failed without saying why");
  g_propagate_error (error, local);
  return FALSE;
}

gboolean
pge_connect_hook_run (PgeConnectHook *hook, PGconn *pg, GError **error)
{
  if (hook == NULL)
    return TRUE;
  if (hook->sql != NULL && !run_sql (hook->sql, pg, error))
    return FALSE;
  if (hook->func != NULL && !run_func (hook->func, pg, error))
    return FALSE;
  /* The function must hand the connection back idle, outside any
   * transaction, as it got it. */
  if (PQtransactionStatus (pg) != PQTRANS_IDLE)
    {
      g_set_error_literal (error, PGE_ERROR, PGE_ERROR_CONNECTION,
                           "the on-connect setup left the connection inside a transaction "
                           "or busy; it is not used");
      return FALSE;
    }
  return TRUE;
}
