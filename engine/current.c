/* current.c — per-thread stacks of current items, for one engine.
 *
 * The engine's thread-local slots (it has two registries: transactions
 * and sessions): each thread that began a transaction (or session) on an
 * engine has a stack of them, its current one on top (transaction.c and
 * session.c push and remove; submit.c routes into the top). The
 * entries are weak: an item removes itself when it ends or is freed, and
 * a reader takes a reference through the caller's try_ref, which refuses
 * an item whose count already hit zero on another thread. The registry
 * knows nothing of what the items are.
 *
 * Threads: `lock` guards `stacks`; `n_items` counts the entries
 * atomically, so the common case of no current item takes no lock.
 * Created and destroyed with the engine: no global state.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "current-private.h"

struct _PgeCurrent {
  GMutex      lock;
  GHashTable *stacks;    /* GThread* -> GPtrArray* of weak items */
  gint        n_items;   /* atomic: entries over all stacks */
};

PgeCurrent *
pge_current_new (void)
{
  PgeCurrent *current = g_new0 (PgeCurrent, 1);

  g_mutex_init (&current->lock);
  current->stacks = g_hash_table_new_full (NULL, NULL, NULL, (GDestroyNotify) g_ptr_array_unref);
  return current;
}

void
pge_current_free (PgeCurrent *current)
{
  g_hash_table_unref (current->stacks);
  g_mutex_clear (&current->lock);
  g_free (current);
}

/* The top of the calling thread's stack, through @try_ref; or NULL. */
gpointer
pge_current_dup (PgeCurrent *current, gpointer (*try_ref) (gpointer))
{
  gpointer item = NULL;
  GPtrArray *stack;

  if (g_atomic_int_get (&current->n_items) == 0)
    return NULL;
  g_mutex_lock (&current->lock);
  stack = g_hash_table_lookup (current->stacks, g_thread_self ());
  if (stack != NULL && stack->len > 0)
    item = try_ref (stack->pdata[stack->len - 1]);
  g_mutex_unlock (&current->lock);
  return item;
}

/* Whether the calling thread has any item; no reference is taken. */
gboolean
pge_current_any (PgeCurrent *current)
{
  GPtrArray *stack;
  gboolean any;

  if (g_atomic_int_get (&current->n_items) == 0)
    return FALSE;
  g_mutex_lock (&current->lock);
  stack = g_hash_table_lookup (current->stacks, g_thread_self ());
  any = stack != NULL && stack->len > 0;
  g_mutex_unlock (&current->lock);
  return any;
}

void
pge_current_push (PgeCurrent *current, gpointer item)
{
  GThread *self = g_thread_self ();
  GPtrArray *stack;

  g_mutex_lock (&current->lock);
  stack = g_hash_table_lookup (current->stacks, self);
  if (stack == NULL)
    {
      stack = g_ptr_array_new ();
      g_hash_table_insert (current->stacks, self, stack);
    }
  g_ptr_array_add (stack, item);
  g_atomic_int_inc (&current->n_items);
  g_mutex_unlock (&current->lock);
}

/* Removes @item from whichever thread's stack holds it: an item may be
 * ended, or freed, on another thread than the one it is current on. */
void
pge_current_remove (PgeCurrent *current, gpointer item)
{
  GHashTableIter iter;
  gpointer key, value;

  g_mutex_lock (&current->lock);
  g_hash_table_iter_init (&iter, current->stacks);
  while (g_hash_table_iter_next (&iter, &key, &value))
    {
      GPtrArray *stack = value;

      if (g_ptr_array_remove (stack, item))
        {
          g_atomic_int_add (&current->n_items, -1);
          if (stack->len == 0)
            g_hash_table_iter_remove (&iter);
          break;
        }
    }
  g_mutex_unlock (&current->lock);
}

/* The try_ref of every kind of item (transactions, sessions): adds one to
 * the atomic count @ref unless it already hit zero, that is unless the
 * item is being finalized on another thread (it leaves the stacks then). */
gboolean
pge_current_try_ref (gint *ref)
{
  gint old;

  do
    {
      old = g_atomic_int_get (ref);
      if (old == 0)
        return FALSE;
    }
  while (!g_atomic_int_compare_and_exchange (ref, old, old + 1));
  return TRUE;
}
