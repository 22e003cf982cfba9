/* http: the edge. libmicrohttpd accepts connections and parses HTTP; this
 * layer matches the route, authorises, collects the body under its cap,
 * calls the handler, sends its JSON answer and logs one line. It knows no
 * API object: handlers and the authoriser are given to it. */
#ifndef ENTITLED_HTTP_H
#define ENTITLED_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct MHD_Connection;
struct http_req;

typedef void (*route_fn)(void *app, struct http_req *req);

enum { ROUTE_PUBLIC = 1 }; /* no API key needed (health, spec, docs) */

typedef struct route {
    const char *method;
    const char *pattern; /* "/entitlements/{entitlement_id}/customer" */
    route_fn fn;
    const char *operation_id;
    unsigned flags;
} route;

#define HTTP_MAX_PARAMS 4
#define HTTP_REQUEST_ID_MAX 128
#define HTTP_EXTRA_HEADERS 4
#define HTTP_PARAM_MAX 256

typedef struct http_req {
    struct MHD_Connection *conn;
    const char *method;
    const char *path;
    const route *route;
    const char *param_names[HTTP_MAX_PARAMS];
    char params[HTTP_MAX_PARAMS][HTTP_PARAM_MAX]; /* path parameters, URL-decoded */
    size_t nparams;
    char *body; /* NUL-terminated copy of the request body, NULL when none */
    size_t body_len;
    bool body_too_large;
    char org[40]; /* the caller's organisation, set by the authoriser */
    /* X-Request-Id: the client's when acceptable, else a new UUID; answered
     * in the header of that name and logged */
    char request_id[HTTP_REQUEST_ID_MAX + 1];
    const char *idem_key; /* the request's Idempotency-Key once checked (api) */
    bool nul_in_path;     /* the path as sent held %00: it names nothing (404) */
    /* a GET without a body: not authorised yet; the invoke hook authorises
     * it together with the handler (one read snapshot for both) */
    bool authorize_in_invoke;
    /* the answer */
    unsigned status;
    const char *content_type; /* NULL: application/json */
    char *out; /* the answer's bytes (JSON unless content_type says otherwise), owned */
    size_t out_len;
    char allow[64];
    char extra_header[HTTP_EXTRA_HEADERS][64];
    char extra_value[HTTP_EXTRA_HEADERS][HTTP_REQUEST_ID_MAX + 1];
} http_req;

/* Set the answer: status and a heap JSON text taken over by the request. */
void http_reply(http_req *r, unsigned status, char *json, size_t len);
/* {"detail": "<sentence>"} */
void http_reply_detail(http_req *r, unsigned status, const char *detail);
/* Add a header to the answer (at most HTTP_EXTRA_HEADERS). */
void http_reply_header(http_req *r, const char *name, const char *value);
const char *http_header(http_req *r, const char *name);
/* Hold the answer until http_release(): the handler's write is kept but not
 * yet durable. After the handler returns, the connection is suspended (no
 * thread waits) unless the release came first. */
void http_hold(http_req *r);
/* Once per held request, from any thread: rc 0 sends the answer as it is;
 * otherwise cfg.lost(app, r, rc) first replaces it (the write was lost). */
void http_release(http_req *r, int rc);
/* The same with the value's length: a header may hold NUL bytes, and the C
 * string then stops at the first one. Callers that check a value (keys,
 * ids) compare *len with strlen(). */
const char *http_header_n(http_req *r, const char *name, size_t *len);
const char *http_param(http_req *r, const char *name);
/* Call `fn` for each query argument in order (URL-decoded; value may be NULL
 * for "?flag", and may hold NUL characters: %00); stops early when fn returns
 * false. Returns the count seen. */
size_t http_query_each(http_req *r,
                       bool (*fn)(void *cls, const char *key, const char *value, size_t len),
                       void *cls);

/* Returns true to go on; false when it has set the answer (401/403/503). */
typedef bool (*authorize_fn)(void *app, http_req *req);

typedef struct {
    const char *host;
    uint16_t port;
    unsigned threads;
    size_t max_body;
    unsigned conn_timeout_s; /* idle: no byte in either direction */
    unsigned max_connections;
    unsigned max_connections_per_address; /* from one client address; more are closed at accept */
    unsigned request_timeout_s; /* to deliver a whole request, from the connection's opening or
                                   its previous answer */
    size_t max_header_bytes;    /* libmicrohttpd's memory for the request line and headers */
    size_t max_url_bytes;       /* path and query, decoded: 414 above */
    unsigned max_query_params;  /* 400 above */
    /* bytes of answers queued and not yet sent, all connections together:
     * past it a read is refused (503) before its handler runs, or instead
     * of its answer once built; a write's answer is always sent */
    size_t max_unsent_bytes;
    const route *routes;
    size_t nroutes;
    authorize_fn authorize;
    /* Runs an authorised request's handler: NULL calls req->route->fn; the
     * API wraps it (idempotency). */
    void (*invoke)(void *app, http_req *req);
    /* A held request's write was lost (http_release with rc != 0): set the
     * answer that says so. */
    void (*lost)(void *app, http_req *req, int rc);
    void *app;
} http_config;

typedef struct http_server http_server;

/* libmicrohttpd builds an answer's status line and headers in the
 * connection's memory, after the request's line and headers: it is given
 * max_header_bytes and this much more, and requests past max_header_bytes
 * are refused by the edge (431), so that every request it runs can be
 * answered. Our answers' headers take under 2 KiB. */
#define HTTP_ANSWER_RESERVE 8192u
/* Under pressure (connections past 3/4 of max_connections), a connection
 * that has not begun a request this many seconds after its opening or its
 * previous answer is closed, instead of after conn_timeout_s. */
#define HTTP_PRESSURE_IDLE_S 3u

/* Start serving in libmicrohttpd's thread pool; NULL with `err` on failure. */
http_server *http_start(const http_config *cfg, char *err, size_t errcap);
/* Stop accepting; let in-flight requests finish (up to `grace_ms`), each
 * answer closing its connection; then refuse what is not handled yet, wait
 * for the answers held for their fsync (up to HTTP_STOP_ACTIVE_MS), and
 * stop. False when held answers never came: the server was not stopped and
 * the process must exit without it. */
#define HTTP_STOP_ACTIVE_MS 30000u
bool http_stop(http_server *s, unsigned grace_ms);

/* Route matching, also used by tests and the OpenAPI check. */
typedef enum { ROUTER_OK, ROUTER_NOT_FOUND, ROUTER_METHOD_NOT_ALLOWED } router_rc;
router_rc router_match(const route *routes, size_t n, const char *method, const char *path,
                       const route **out, http_req *req, char *allow, size_t allowcap);

#endif
