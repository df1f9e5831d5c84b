/* statements.c — the statements one connection has prepared, LRU.
 *
 * A plain data structure (connection.c does the talking to the server):
 * the key is the SQL text plus its parameter type OIDs — the same text
 * with other types is another statement to the server — and the name is
 * derived from the key alone, `pge_` and a SHA-256 prefix of it, as pgx
 * does. Behind a transaction pooler (PgBouncer) a name may be found on
 * another server connection than the one it was prepared on; since the
 * name says what the statement is, whatever connection has it has the
 * right statement. A per-connection counter (`pge_s0`, `pge_s1`, ...)
 * would name another query there and return its answer.
 *
 * Least recently used first out, one statement at a time: the caller
 * deallocates the evicted name. Each entry also keeps a moving average of
 * its run time, so the scheduler pipelines only statements known to be
 * fast (pool.c).
 *
 * Owned by whoever holds the connection (pool.c): no lock. The hit and
 * miss counters are the exception: metrics snapshots read them from any
 * thread, relaxed, while the holder alone writes them.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <string.h>

#include "statements-private.h"

/* Above this moving average a statement is slow: it is sent alone, never
 * with others queued behind it in one pipeline. */
#define FAST_US 2000

typedef struct {
  PgeStatementKey key;          /* owns types and sql */
  char            name[PGE_STATEMENT_NAME_SIZE];
  gint64          avg_us;       /* -1: never timed */
  GList           lru_link;     /* in statements->lru, most recent at the head */
} Entry;

struct _PgeStatements {
  GHashTable *entries;   /* PgeStatementKey* (inside Entry) -> Entry*, owned */
  GQueue      lru;
  guint       max;
  /* The entry last found or inserted (nullable): a query looks its
   * statement up twice (plan, timing), and a thread in a loop runs the
   * same one again, so it is tried before hashing. */
  Entry      *last;
  /* Written by the holder only, read by metrics snapshots: relaxed. */
  guint64     n_hits;
  guint64     n_misses;
};

static void
count (guint64 *cell)
{
  __atomic_store_n (cell, __atomic_load_n (cell, __ATOMIC_RELAXED) + 1, __ATOMIC_RELAXED);
}

/* Kept in the key, so that it is worked out once per query and not at
 * each of the lookups a query makes (plan, timing, the scheduler's
 * is-it-fast, which the job answers from its own copy). */
guint
pge_statements_key_hash (const char *sql, int n, const Oid *types)
{
  guint hash = g_str_hash (sql);

  for (int i = 0; i < n; i++)
    hash = hash * 31 + types[i];
  return hash;
}

static guint
key_hash (gconstpointer data)
{
  return ((const PgeStatementKey *) data)->hash;
}

static gboolean
key_equal (gconstpointer a, gconstpointer b)
{
  const PgeStatementKey *x = a, *y = b;

  return x->n == y->n && strcmp (x->sql, y->sql) == 0 &&
         (x->n == 0 || memcmp (x->types, y->types, sizeof (Oid) * x->n) == 0);
}

/* @key's entry, or NULL; the last one found first. */
static Entry *
find (PgeStatements *statements, const PgeStatementKey *key)
{
  Entry *last = statements->last;
  Entry *entry;

  if (last != NULL && last->key.hash == key->hash && key_equal (&last->key, key))
    return last;
  entry = g_hash_table_lookup (statements->entries, key);
  if (entry != NULL)
    statements->last = entry;
  return entry;
}

/* Before @entry is freed. */
static void
forget (PgeStatements *statements, Entry *entry)
{
  if (statements->last == entry)
    statements->last = NULL;
  g_queue_unlink (&statements->lru, &entry->lru_link);
}

static void
entry_free (gpointer data)
{
  Entry *entry = data;

  g_free ((Oid *) entry->key.types);
  g_free ((char *) entry->key.sql);
  g_free (entry);
}

PgeStatements *
pge_statements_new (guint max)
{
  PgeStatements *statements = g_new0 (PgeStatements, 1);

  statements->entries = g_hash_table_new_full (key_hash, key_equal, NULL, entry_free);
  g_queue_init (&statements->lru);
  statements->max = max;
  return statements;
}

void
pge_statements_free (PgeStatements *statements)
{
  if (statements == NULL)
    return;
  g_hash_table_unref (statements->entries);
  g_free (statements);
}

/* The connection was replaced: its statements are gone with it. */
void
pge_statements_clear (PgeStatements *statements)
{
  statements->last = NULL;
  g_queue_init (&statements->lru);
  g_hash_table_remove_all (statements->entries);
}

/* The name of @key's statement, whatever connection prepares it. */
void
pge_statements_name (const PgeStatementKey *key, char name[PGE_STATEMENT_NAME_SIZE])
{
  g_autoptr(GChecksum) checksum = g_checksum_new (G_CHECKSUM_SHA256);
  guint8 digest[32];
  gsize length = sizeof digest;
  char count[16];

  /* The count first, then the types, then the text: no two keys give
   * the same bytes. */
  g_snprintf (count, sizeof count, "%d|", key->n);
  g_checksum_update (checksum, (const guchar *) count, -1);
  if (key->n > 0)
    g_checksum_update (checksum, (const guchar *) key->types, sizeof (Oid) * key->n);
  g_checksum_update (checksum, (const guchar *) key->sql, -1);
  g_checksum_get_digest (checksum, digest, &length);
  memcpy (name, "pge_", 4);
  for (int i = 0; i < 16; i++)
    {
      name[4 + 2 * i] = "0123456789abcdef"[digest[i] >> 4];
      name[5 + 2 * i] = "0123456789abcdef"[digest[i] & 15];
    }
  name[36] = '\0';
}

static void
hit (PgeStatements *statements, Entry *entry, char name[PGE_STATEMENT_NAME_SIZE])
{
  count (&statements->n_hits);
  if (statements->lru.head != &entry->lru_link)
    {
      g_queue_unlink (&statements->lru, &entry->lru_link);
      g_queue_push_head_link (&statements->lru, &entry->lru_link);
    }
  memcpy (name, entry->name, PGE_STATEMENT_NAME_SIZE);
}

/* TRUE, filling @name, if @key is prepared; it becomes the most recent. */
gboolean
pge_statements_lookup (PgeStatements *statements, const PgeStatementKey *key,
                       char name[PGE_STATEMENT_NAME_SIZE])
{
  Entry *entry = find (statements, key);

  if (entry == NULL)
    return FALSE;
  hit (statements, entry, name);
  return TRUE;
}

/* pge_statements_lookup() for the statement last found or inserted only,
 * for a @key whose hash is not worked out yet: TRUE, filling @name and
 * @hash (the key's pge_statements_key_hash()), if @key is that one. Saves
 * hashing the text of a statement run again and again. */
gboolean
pge_statements_lookup_last (PgeStatements *statements, const PgeStatementKey *key,
                            char name[PGE_STATEMENT_NAME_SIZE], guint *hash)
{
  Entry *last = statements->last;

  if (last == NULL || !key_equal (&last->key, key))
    return FALSE;
  hit (statements, last, name);
  *hash = last->key.hash;
  return TRUE;
}

/* Evicts the least recently used statement when the cache is full.
 * Returns its name (the caller deallocates it and frees the string), or
 * NULL. Called before preparing, so that the server never holds more
 * than the bound outside a transaction. */
char *
pge_statements_make_room (PgeStatements *statements)
{
  Entry *oldest;
  char *evicted;

  if (statements->max == 0 || g_hash_table_size (statements->entries) < statements->max)
    return NULL;
  oldest = g_queue_peek_tail (&statements->lru);
  evicted = g_strdup (oldest->name);
  forget (statements, oldest);
  g_hash_table_remove (statements->entries, &oldest->key);
  return evicted;
}

/* Records @key as prepared under pge_statements_name(). Returns the name
 * of a statement evicted to make room, as pge_statements_make_room(). */
char *
pge_statements_insert (PgeStatements *statements, const PgeStatementKey *key)
{
  Entry *entry;
  char *evicted;

  if (g_hash_table_contains (statements->entries, key) || statements->max == 0)
    return NULL;
  count (&statements->n_misses);
  evicted = pge_statements_make_room (statements);
  entry = g_new0 (Entry, 1);
  entry->key.n = key->n;
  entry->key.types = key->n > 0 ? g_memdup2 (key->types, sizeof (Oid) * key->n) : NULL;
  entry->key.sql = g_strdup (key->sql);
  entry->key.hash = key->hash;
  entry->avg_us = -1;
  entry->lru_link.data = entry;
  pge_statements_name (key, entry->name);
  g_queue_push_head_link (&statements->lru, &entry->lru_link);
  g_hash_table_insert (statements->entries, &entry->key, entry);
  statements->last = entry;
  return evicted;
}

/* Forgets @key (the server lost it, or its plan went stale). */
void
pge_statements_remove (PgeStatements *statements, const PgeStatementKey *key)
{
  Entry *entry = find (statements, key);

  if (entry == NULL)
    return;
  forget (statements, entry);
  g_hash_table_remove (statements->entries, &entry->key);
}

void
pge_statements_note_time (PgeStatements *statements, const PgeStatementKey *key, gint64 duration_us)
{
  Entry *entry = find (statements, key);

  if (entry == NULL)
    return;
  /* An exponential moving average over about the last eight runs. */
  entry->avg_us = entry->avg_us < 0 ? duration_us : entry->avg_us + (duration_us - entry->avg_us) / 8;
}

/* Known, and fast on average: safe to pipeline with others. */
gboolean
pge_statements_is_fast (PgeStatements *statements, const PgeStatementKey *key)
{
  Entry *entry = find (statements, key);

  return entry != NULL && entry->avg_us >= 0 && entry->avg_us < FAST_US;
}

/* For metrics snapshots, from any thread: adds the hits (lookups that
 * found their statement) and misses (statements prepared into the cache)
 * so far. */
void
pge_statements_add_counts (PgeStatements *statements, guint64 *hits, guint64 *misses)
{
  *hits += __atomic_load_n (&statements->n_hits, __ATOMIC_RELAXED);
  *misses += __atomic_load_n (&statements->n_misses, __ATOMIC_RELAXED);
}
