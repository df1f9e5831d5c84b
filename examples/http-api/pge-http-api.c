/* pge-http-api — a multithreaded HTTP JSON service on libmicrohttpd: a
 * pool of HTTP threads, each handler blocking on one shared PgeEngine.
 *
 *   pge-http-api [--port N] [--threads N] CONNINFO
 *
 *   GET  /bands[?limit=N]   the first N bands (default 100, 1..1000)
 *   POST /bands             {"name": "..."}         -> 201 the new band (balance 0)
 *   POST /transfer          {"from": ID, "to": ID, "amount": N}
 *                           -> 200 {"status": "done" | "declined", ...}
 *   GET  /metrics           the engine's metrics and the service's
 *                           counters, in Prometheus' text format
 *
 * A transfer is one REPEATABLE READ transaction run by
 * pge_engine_run_transaction, which retries it on a serialization failure
 * (two transfers touching the same band at once). Inside it, the move of
 * money is under a savepoint: when the payer's balance would go negative
 * (the table's CHECK), only the move is rolled back and the transfer is
 * recorded as declined. Money is moved, never made: the sum of balances
 * is constant, and each balance equals its start plus the transfers in
 * minus the transfers out (examples/http-api/load.sh checks both).
 *
 * Port 0 (the default) takes a free port; the first line on stdout is
 * "listening on http://127.0.0.1:PORT". SIGINT or SIGTERM stops it; it
 * then prints its counters.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <pgengine.h>
#include <json-glib/json-glib.h>
#include <microhttpd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#define MAX_BODY 65536
#define TRANSFER_RETRIES 50

typedef struct {
  PgeEngine *engine;      /* shared by every handler thread */
  gint       n_requests;  /* atomics */
  gint       n_transfers_done;
  gint       n_transfers_declined;
  gint       n_retries;
} Service;

typedef struct {
  guint       status;
  char       *body;
  const char *type;       /* the content type; NULL: JSON */
} Reply;

static Reply
reply_take (guint status, char *body)
{
  return (Reply) { status, body, NULL };
}

/* {"error": message, "sqlstate": ...}: the server's message goes to the
 * client; it never contains a password (pgengine masks them). */
static Reply
reply_error (guint status, const char *message, const GError *error)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(JsonNode) root = NULL;
  const char *sqlstate = error ? pge_error_get_sqlstate (error) : NULL;

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "error");
  json_builder_add_string_value (b, error ? error->message : message);
  if (sqlstate != NULL)
    {
      json_builder_set_member_name (b, "sqlstate");
      json_builder_add_string_value (b, sqlstate);
    }
  json_builder_end_object (b);
  root = json_builder_get_root (b);
  return reply_take (status, json_to_string (root, FALSE));
}

/* The body as a JSON object, or NULL with a 400 reply. */
static JsonObject *
parse_object (const GString *body, JsonParser *parser, Reply *bad)
{
  g_autoptr(GError) error = NULL;
  JsonNode *root;

  if (!json_parser_load_from_data (parser, body->str, body->len, &error))
    {
      *bad = reply_error (400, NULL, error);
      return NULL;
    }
  root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    {
      *bad = reply_error (400, "the body must be a JSON object", NULL);
      return NULL;
    }
  return json_node_get_object (root);
}

/* An integer member, strictly: present, a JSON integer. */
static gboolean
get_int (JsonObject *object, const char *name, gint64 *value)
{
  JsonNode *node = json_object_get_member (object, name);

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_INT64)
    return FALSE;
  *value = json_node_get_int (node);
  return TRUE;
}

static Reply
get_bands (Service *service, struct MHD_Connection *connection)
{
  const char *limit_text = MHD_lookup_connection_value (connection, MHD_GET_ARGUMENT_KIND, "limit");
  g_autoptr(PgeParams) params = pge_params_new ();
  g_autoptr(PgeResult) result = NULL;
  g_autoptr(GError) error = NULL;
  guint64 limit = 100;

  if (limit_text != NULL && (!g_ascii_string_to_unsigned (limit_text, 10, 1, 1000, &limit, NULL)))
    return reply_error (400, "limit must be an integer from 1 to 1000", NULL);
  pge_params_add_int64 (params, (gint64) limit);
  /* The server makes the JSON. */
  result = pge_engine_query_sync (service->engine,
                                  "SELECT coalesce(json_agg(b ORDER BY b.id), '[]')::text FROM "
                                  "(SELECT id, name, popularity, balance FROM bands ORDER BY id LIMIT $1) b",
                                  params, &error);
  if (result == NULL)
    return reply_error (500, NULL, error);
  return reply_take (200, g_strdup (pge_result_get_value (result, 0, 0)));
}

static Reply
post_band (Service *service, const GString *body)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(PgeParams) params = pge_params_new ();
  g_autoptr(PgeResult) result = NULL;
  g_autoptr(GError) error = NULL;
  Reply bad;
  JsonObject *object = parse_object (body, parser, &bad);
  const char *name;

  if (object == NULL)
    return bad;
  name = json_object_has_member (object, "name") ? json_object_get_string_member_with_default (object, "name", NULL) : NULL;
  if (name == NULL || *name == '\0' || strlen (name) > 200)
    return reply_error (400, "name must be a string of 1 to 200 characters", NULL);
  pge_params_add_text (params, name);
  result = pge_engine_query_sync (service->engine,
                                  "INSERT INTO bands (name) VALUES ($1) "
                                  "RETURNING json_build_object('id', id, 'name', name, "
                                  "'popularity', popularity, 'balance', balance)::text",
                                  params, &error);
  if (result == NULL)
    return reply_error (g_strcmp0 (pge_error_get_sqlstate (error), "23505") == 0 ? 409 : 500, NULL, error);
  return reply_take (201, g_strdup (pge_result_get_value (result, 0, 0)));
}

typedef struct {
  gint64   from, to, amount;
  guint    attempts;
  gboolean declined;
  gint64   transfer_id;
} Transfer;

/* One attempt; pge_engine_run_transaction commits on TRUE and retries the
 * whole function on a serialization failure or deadlock. */
static gboolean
transfer_in_transaction (PgeTransaction *tx, gpointer user_data, GError **error)
{
  Transfer *t = user_data;
  g_autoptr(PgeParams) move = pge_params_new ();
  g_autoptr(PgeParams) record = pge_params_new ();
  g_autoptr(PgeSavepoint) savepoint = NULL;
  g_autoptr(PgeResult) moved = NULL;
  g_autoptr(PgeResult) recorded = NULL;
  g_autoptr(GError) move_error = NULL;

  t->attempts++;
  t->declined = FALSE;
  savepoint = pge_transaction_savepoint (tx, "move", error);
  if (savepoint == NULL)
    return FALSE;
  pge_params_add_int64 (move, t->from);
  pge_params_add_int64 (move, t->to);
  pge_params_add_int64 (move, t->amount);
  /* One statement for both rows: they are locked in index order, so two
   * opposite transfers cannot deadlock. */
  moved = pge_transaction_query_sync (tx,
                                      "UPDATE bands SET balance = balance + CASE WHEN id = $1 THEN -$3::bigint "
                                      "ELSE $3::bigint END WHERE id IN ($1, $2)", move, &move_error);
  if (moved == NULL && g_strcmp0 (pge_error_get_sqlstate (move_error), "23514") == 0)
    {
      /* Not enough money: undo only the move, keep the transaction. */
      if (!pge_savepoint_rollback_to (savepoint, error))
        return FALSE;
      t->declined = TRUE;
    }
  else if (moved == NULL)
    {
      g_propagate_error (error, g_steal_pointer (&move_error));
      return FALSE;
    }
  else if (pge_result_get_rows_affected (moved) != 2)
    {
      g_set_error (error, PGE_ERROR, PGE_ERROR_INVALID_ARGUMENT, "no band with id %" G_GINT64_FORMAT " or %" G_GINT64_FORMAT,
                   t->from, t->to);
      return FALSE;
    }
  else if (!pge_savepoint_release (savepoint, error))
    return FALSE;
  pge_params_add_int64 (record, t->from);
  pge_params_add_int64 (record, t->to);
  pge_params_add_int64 (record, t->amount);
  pge_params_add_text (record, t->declined ? "declined" : "done");
  recorded = pge_transaction_query_sync (tx,
                                         "INSERT INTO transfers (from_band, to_band, amount, status) "
                                         "VALUES ($1, $2, $3, $4) RETURNING id", record, error);
  if (recorded == NULL)
    return FALSE;
  t->transfer_id = pge_result_get_int64 (recorded, 0, 0);
  return TRUE;
}

static Reply
post_transfer (Service *service, const GString *body)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) error = NULL;
  Transfer t = { 0 };
  Reply bad;
  JsonObject *object = parse_object (body, parser, &bad);

  if (object == NULL)
    return bad;
  if (!get_int (object, "from", &t.from) || !get_int (object, "to", &t.to) || !get_int (object, "amount", &t.amount)
      || t.amount <= 0 || t.from == t.to)
    return reply_error (400, "from, to and amount must be integers, amount > 0, from != to", NULL);
  if (!pge_engine_run_transaction (service->engine, PGE_TRANSACTION_REPEATABLE_READ, TRANSFER_RETRIES,
                                   transfer_in_transaction, &t, &error))
    {
      g_atomic_int_add (&service->n_retries, t.attempts > 0 ? (gint) t.attempts - 1 : 0);
      if (g_error_matches (error, PGE_ERROR, PGE_ERROR_INVALID_ARGUMENT))
        return reply_error (404, NULL, error);
      return reply_error (500, NULL, error);
    }
  g_atomic_int_add (&service->n_retries, (gint) t.attempts - 1);
  g_atomic_int_add (t.declined ? &service->n_transfers_declined : &service->n_transfers_done, 1);
  return reply_take (200, g_strdup_printf ("{\"status\":\"%s\",\"transfer\":%" G_GINT64_FORMAT ",\"attempts\":%u}",
                                           t.declined ? "declined" : "done", t.transfer_id, t.attempts));
}

/* GET /metrics: what pge_engine_format_metrics() gives (acquire, run and
 * connect histograms, connects, queue, pipelining, statement cache, per
 * node), then the service's own counters. A scrape takes no connection:
 * it only reads counters, so it answers even when every worker is busy. */
static Reply
get_metrics (Service *service)
{
  g_autofree char *engine = pge_engine_format_metrics (service->engine);
  char *text = g_strdup_printf (
    "%s"
    "# HELP pge_http_requests_total HTTP requests handled.\n"
    "# TYPE pge_http_requests_total counter\n"
    "pge_http_requests_total %d\n"
    "# HELP pge_http_transfers_total Transfers recorded, by outcome.\n"
    "# TYPE pge_http_transfers_total counter\n"
    "pge_http_transfers_total{status=\"done\"} %d\n"
    "pge_http_transfers_total{status=\"declined\"} %d\n"
    "# HELP pge_http_serialization_retries_total Transfer transactions run again after SQLSTATE 40001.\n"
    "# TYPE pge_http_serialization_retries_total counter\n"
    "pge_http_serialization_retries_total %d\n",
    engine, g_atomic_int_get (&service->n_requests), g_atomic_int_get (&service->n_transfers_done),
    g_atomic_int_get (&service->n_transfers_declined), g_atomic_int_get (&service->n_retries));

  return (Reply) { 200, text, "text/plain; version=0.0.4; charset=utf-8" };
}

static Reply
route (Service *service, struct MHD_Connection *connection, const char *url, const char *method,
       const GString *body)
{
  gboolean get = strcmp (method, "GET") == 0, post = strcmp (method, "POST") == 0;

  if (strcmp (url, "/bands") == 0 && get)
    return get_bands (service, connection);
  if (strcmp (url, "/bands") == 0 && post)
    return post_band (service, body);
  if (strcmp (url, "/transfer") == 0 && post)
    return post_transfer (service, body);
  if (strcmp (url, "/metrics") == 0 && get)
    return get_metrics (service);
  if (strcmp (url, "/bands") == 0 || strcmp (url, "/transfer") == 0 || strcmp (url, "/metrics") == 0)
    return reply_error (405, "method not allowed", NULL);
  return reply_error (404, "no such resource", NULL);
}

/* libmicrohttpd calls this several times per request: first to set up
 * (the body buffer), then once per piece of the body, then with no more
 * data, when the request is handled. */
static enum MHD_Result
handle (void *cls, struct MHD_Connection *connection, const char *url, const char *method,
        const char *version, const char *upload_data, size_t *upload_data_size, void **con_cls)
{
  Service *service = cls;
  GString *body = *con_cls;
  struct MHD_Response *response;
  enum MHD_Result ret;
  Reply reply;

  if (body == NULL)
    {
      *con_cls = g_string_new (NULL);
      return MHD_YES;
    }
  if (*upload_data_size > 0)
    {
      if (body->len + *upload_data_size > MAX_BODY)
        return MHD_NO;   /* closes the connection */
      g_string_append_len (body, upload_data, *upload_data_size);
      *upload_data_size = 0;
      return MHD_YES;
    }
  g_atomic_int_add (&service->n_requests, 1);
  reply = route (service, connection, url, method, body);
  response = MHD_create_response_from_buffer (strlen (reply.body), reply.body, MHD_RESPMEM_MUST_FREE);
  MHD_add_response_header (response, "Content-Type", reply.type ? reply.type : "application/json");
  ret = MHD_queue_response (connection, reply.status, response);
  MHD_destroy_response (response);
  return ret;
}

static void
request_done (void *cls, struct MHD_Connection *connection, void **con_cls, enum MHD_RequestTerminationCode code)
{
  if (*con_cls != NULL)
    g_string_free (*con_cls, TRUE);
  *con_cls = NULL;
}

int
main (int argc, char **argv)
{
  gint port = 0, threads = 8;
  GOptionEntry entries[] = {
    { "port", 'p', 0, G_OPTION_ARG_INT, &port, "Port on 127.0.0.1 (default 0: any free one)", "N" },
    { "threads", 't', 0, G_OPTION_ARG_INT, &threads, "HTTP threads, and engine workers (default 8)", "N" },
    { NULL }
  };
  g_autoptr(GOptionContext) context = g_option_context_new ("CONNINFO");
  g_autoptr(GError) error = NULL;
  g_autoptr(PgeConfig) config = NULL;
  Service service = { 0 };
  struct sockaddr_in address = { 0 };
  struct MHD_Daemon *daemon;
  const union MHD_DaemonInfo *info;
  sigset_t stop_signals;
  int signal_number;

  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error) || argc != 2 || port < 0 || port > 65535
      || threads < 1 || threads > 256)
    {
      fprintf (stderr, "usage: pge-http-api [--port N] [--threads 1..256] CONNINFO%s%s\n",
               error ? ": " : "", error ? error->message : "");
      return 2;
    }
  /* Every thread started from here on (engine workers, HTTP threads)
   * inherits the blocked signals: only sigwait() below receives them. */
  sigemptyset (&stop_signals);
  sigaddset (&stop_signals, SIGINT);
  sigaddset (&stop_signals, SIGTERM);
  pthread_sigmask (SIG_BLOCK, &stop_signals, NULL);

  config = pge_config_new (argv[1]);
  pge_config_set_workers (config, (guint) threads);
  service.engine = pge_engine_new (config, &error);
  if (service.engine == NULL)
    {
      fprintf (stderr, "pge-http-api: %s\n", error->message);
      return 1;
    }
  address.sin_family = AF_INET;
  address.sin_port = htons ((uint16_t) port);
  address.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  daemon = MHD_start_daemon (MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG, 0, NULL, NULL,
                             handle, &service,
                             MHD_OPTION_SOCK_ADDR, (struct sockaddr *) &address,
                             MHD_OPTION_THREAD_POOL_SIZE, (unsigned int) threads,
                             MHD_OPTION_NOTIFY_COMPLETED, request_done, NULL,
                             MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int) 30,
                             MHD_OPTION_END);
  if (daemon == NULL)
    {
      fprintf (stderr, "pge-http-api: cannot listen on 127.0.0.1:%d\n", port);
      pge_engine_unref (service.engine);
      return 1;
    }
  info = MHD_get_daemon_info (daemon, MHD_DAEMON_INFO_BIND_PORT);
  printf ("listening on http://127.0.0.1:%u (%d threads, one engine with %u workers)\n",
          info ? info->port : (unsigned) port, threads, pge_engine_get_n_workers (service.engine));
  fflush (stdout);

  sigwait (&stop_signals, &signal_number);
  MHD_stop_daemon (daemon);
  pge_engine_close (service.engine);
  printf ("stopped: %d requests, %d transfers done, %d declined, %d serialization retries\n",
          service.n_requests, service.n_transfers_done, service.n_transfers_declined, service.n_retries);
  pge_engine_unref (service.engine);
  return 0;
}
