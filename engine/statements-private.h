/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "pgengine.h"

G_BEGIN_DECLS

typedef struct _PgeStatements PgeStatements;

/* "pge_" and 32 hex digits of a SHA-256 of the types and the SQL. */
#define PGE_STATEMENT_NAME_SIZE 40

typedef struct {
  int         n;
  const Oid  *types;
  const char *sql;
  guint       hash;   /* pge_statements_key_hash() of the three above */
} PgeStatementKey;

G_GNUC_INTERNAL PgeStatements *pge_statements_new      (guint max);
G_GNUC_INTERNAL void           pge_statements_free     (PgeStatements *statements);
G_GNUC_INTERNAL void           pge_statements_clear    (PgeStatements *statements);
G_GNUC_INTERNAL guint          pge_statements_key_hash (const char *sql,
                                                        int         n,
                                                        const Oid  *types);
G_GNUC_INTERNAL void           pge_statements_name     (const PgeStatementKey *key,
                                                        char name[PGE_STATEMENT_NAME_SIZE]);
G_GNUC_INTERNAL gboolean       pge_statements_lookup   (PgeStatements         *statements,
                                                        const PgeStatementKey *key,
                                                        char                   name[PGE_STATEMENT_NAME_SIZE]);
G_GNUC_INTERNAL gboolean       pge_statements_lookup_last (PgeStatements         *statements,
                                                           const PgeStatementKey *key,
                                                           char name[PGE_STATEMENT_NAME_SIZE],
                                                           guint                 *hash);
G_GNUC_INTERNAL char          *pge_statements_make_room (PgeStatements *statements);
G_GNUC_INTERNAL char          *pge_statements_insert   (PgeStatements         *statements,
                                                        const PgeStatementKey *key);
G_GNUC_INTERNAL void           pge_statements_remove   (PgeStatements         *statements,
                                                        const PgeStatementKey *key);
G_GNUC_INTERNAL void           pge_statements_note_time (PgeStatements         *statements,
                                                         const PgeStatementKey *key,
                                                         gint64                 duration_us);
G_GNUC_INTERNAL void           pge_statements_add_counts (PgeStatements *statements,
                                                          guint64       *hits,
                                                          guint64       *misses);
G_GNUC_INTERNAL gboolean       pge_statements_is_fast  (PgeStatements         *statements,
                                                        const PgeStatementKey *key);

G_END_DECLS
