/* server: libmicrohttpd glue. The access handler is called several times per
 * request: once with the headers (route, authorise, refuse early), then with
 * body chunks (collected up to max_body), then once more with nothing left,
 * when the handler runs and the answer is queued. The completion callback
 * writes the log line and frees the request. */
#include "http/http.h"

#include "domain/dt.h"
#include "domain/uid.h"
#include "util/jw.h"

#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* A connection as the request-timeout watchdog sees it. libmicrohttpd's own
 * timeout is an idle timeout: a client that sends a byte a second never
 * reaches it, and never reaches a handler either while its headers trickle
 * in. So each connection has a window that opens when it is accepted or its
 * previous answer is done, and closes when its request is complete; a
 * window older than request_timeout_s gets the socket shut down, and
 * libmicrohttpd then closes the connection as it would any broken one. */
typedef struct conn_watch {
    int fd;
    _Atomic int64_t window_start_us; /* 0 while a complete request is being answered */
    atomic_bool in_request;          /* its request line has come (on_uri) */
    size_t uri_len;                  /* the request line's URI as sent (on_uri) */
    bool dropped;
    struct conn_watch *prev, *next;
} conn_watch;

struct http_server {
    struct MHD_Daemon *d;
    http_config cfg;
    atomic_int in_flight;
    pthread_mutex_t watch_lock; /* the list, and the sockets in it */
    conn_watch *watched;
    pthread_t watchdog;
    atomic_bool watchdog_running; /* read by the pool threads (log_line) */
    pthread_mutex_t logs_lock;    /* the list of log buffers */
    struct log_buf *logs;
    atomic_bool stopping;
    /* Shutdown (http_stop): while draining every answer closes its
     * connection; once closing, a request not yet handled is refused with a
     * 503, so that no connection is newly suspended. `active` counts the
     * requests between their handler and their answer, the suspended ones
     * included: libmicrohttpd aborts when stopped with a suspended
     * connection. */
    atomic_bool draining, closing;
    atomic_int active;
    unsigned long long drain_max; /* most body bytes read and discarded for a refusal */
    atomic_int connections;       /* open now (on_connection) */
    /* bytes of answers queued and not yet sent (freed by libmicrohttpd once
     * sent, or with their connection): cfg.max_unsent_bytes bounds them */
    atomic_size_t unsent;
};

typedef struct {
    http_req req; /* first: http_release() finds the state from it */
    int64_t start_us;
    bool started;
    bool refused;       /* the answer is decided without the handler (refused, 413) */
    bool answered;      /* ... and already queued, before the body */
    bool drained_close; /* the body was read and discarded: answer with Connection: close */
    bool close_now;     /* the body's framing cannot be trusted: answer at once, then close */
    unsigned long long upload_seen; /* body bytes received, kept or discarded */
    size_t body_cap;
    /* a held answer (http_hold): `mu` orders the handler's suspend against
     * the release, which may come from another thread at any moment */
    bool held;
    pthread_mutex_t mu;
    bool suspended;
    bool released;
    int release_rc;
    bool active; /* counted in http_server.active */
} req_state;

void http_hold(http_req *r) {
    ((req_state *)r)->held = true;
}

void http_release(http_req *r, int rc) {
    req_state *st = (req_state *)r;
    struct MHD_Connection *c = r->conn;
    pthread_mutex_lock(&st->mu);
    st->released = true;
    st->release_rc = rc;
    bool resume = st->suspended;
    pthread_mutex_unlock(&st->mu);
    /* after the unlock, and touching nothing of the request after it: once
     * resumed, the connection's thread may answer, complete and free the
     * request (mutex included) at once. Until then a suspended request
     * cannot go away. */
    if (resume) MHD_resume_connection(c);
}

void http_reply(http_req *r, unsigned status, char *json, size_t len) {
    free(r->out);
    r->status = status;
    r->out = json;
    r->out_len = len;
}

void http_reply_detail(http_req *r, unsigned status, const char *detail) {
    jw w;
    jw_init(&w, 1 << 16);
    jw_obj_begin(&w);
    jw_kstr(&w, "detail", detail);
    jw_obj_end(&w);
    size_t len = 0;
    char *out = jw_take(&w, &len);
    http_reply(r, status, out, len);
}

void http_reply_header(http_req *r, const char *name, const char *value) {
    for (int i = 0; i < HTTP_EXTRA_HEADERS; i++) {
        if (r->extra_header[i][0]) continue;
        snprintf(r->extra_header[i], sizeof r->extra_header[i], "%s", name);
        snprintf(r->extra_value[i], sizeof r->extra_value[i], "%s", value);
        return;
    }
}

const char *http_header(http_req *r, const char *name) {
    return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

const char *http_header_n(http_req *r, const char *name, size_t *len) {
    const char *v = NULL;
    *len = 0;
    if (MHD_lookup_connection_value_n(r->conn, MHD_HEADER_KIND, name, strlen(name), &v, len) !=
        MHD_YES)
        return NULL;
    return v;
}

typedef struct {
    bool (*fn)(void *cls, const char *key, const char *value, size_t len);
    void *cls;
    size_t n;
    bool stop;
} query_iter;

static enum MHD_Result query_one(void *cls, enum MHD_ValueKind kind, const char *key,
                                 size_t key_size, const char *value, size_t value_size) {
    query_iter *it = cls;
    if (it->stop) return MHD_NO;
    it->n++;
    char shown[512];
    if (strlen(key) != key_size) {
        /* a name holding %00: handed on with each NUL as U+FFFD, so that it
         * matches no parameter (422 extra_forbidden) instead of the
         * parameter its first part names */
        size_t k = 0;
        for (size_t i = 0; i < key_size && k + 4 < sizeof shown; i++) {
            if (key[i])
                shown[k++] = key[i];
            else
                memcpy(shown + k, "\xef\xbf\xbd", 3), k += 3;
        }
        shown[k] = '\0';
        key = shown;
    }
    if (!it->fn(it->cls, key, value, value ? value_size : 0)) it->stop = true;
    return it->stop ? MHD_NO : MHD_YES;
}

size_t http_query_each(http_req *r,
                       bool (*fn)(void *cls, const char *key, const char *value, size_t len),
                       void *cls) {
    query_iter it = {fn, cls, 0, false};
    MHD_get_connection_values_n(r->conn, MHD_GET_ARGUMENT_KIND, query_one, &it);
    return it.n;
}

const char *http_param(http_req *r, const char *name) {
    size_t n = strlen(name);
    for (size_t i = 0; i < r->nparams; i++) {
        const char *p = r->param_names[i]; /* "{name}..." */
        if (p && strncmp(p + 1, name, n) == 0 && p[1 + n] == '}') return r->params[i];
    }
    return NULL;
}

/* The access log. Each pool thread appends its lines to a buffer of its own,
 * written to stderr when it cannot take the next line and by the watchdog
 * every 100 ms (and at stop): one write() per request was one of the ten
 * system calls of a GET. A line thus appears up to 100 ms late, and a
 * kill -9 loses at most the last 100 ms of lines. */
#define LOG_BUF_BYTES 16384
typedef struct log_buf {
    pthread_mutex_t mu; /* the thread's appends against the watchdog's flush */
    size_t n;
    char data[LOG_BUF_BYTES];
    struct log_buf *next;
} log_buf;
static __thread log_buf *tls_log;
static __thread const struct http_server *tls_log_srv;

static void log_flush(log_buf *b) {
    size_t off = 0;
    while (off < b->n) {
        ssize_t w = write(STDERR_FILENO, b->data + off, b->n - off);
        if (w <= 0) break; /* stderr gone: the lines are dropped, not retried forever */
        off += (size_t)w;
    }
    b->n = 0;
}

static void log_flush_all(struct http_server *srv) {
    pthread_mutex_lock(&srv->logs_lock);
    for (log_buf *b = srv->logs; b; b = b->next) {
        pthread_mutex_lock(&b->mu);
        log_flush(b);
        pthread_mutex_unlock(&b->mu);
    }
    pthread_mutex_unlock(&srv->logs_lock);
}

/* A client's bytes as one log field: control characters, space, DEL and
 * the backslash as \xHH, so that a decoded %0A cannot start a forged line,
 * %1B cannot colour a terminal and %20 cannot shift the fields; at most
 * `max` bytes of `in` are read. */
static void log_field(const char *in, size_t max, char *out, size_t cap) {
    size_t k = 0;
    for (size_t i = 0; in[i] && i < max && k + 5 < cap; i++) {
        unsigned char ch = (unsigned char)in[i];
        if (ch <= 0x20 || ch == 0x7f || ch == '\\')
            k += (size_t)snprintf(out + k, cap - k, "\\x%02x", ch);
        else
            out[k++] = (char)ch;
    }
    out[k] = '\0';
}

static void log_line(struct http_server *srv, req_state *st) {
    char line[1400], method[100], path[1210];
    int64_t us = dt_now() - st->start_us;
    log_field(st->req.method, 24, method, sizeof method);
    log_field(st->req.path, 300, path, sizeof path);
    int n = snprintf(line, sizeof line, "%s %s %u %lldus %s\n", method, path, st->req.status,
                     (long long)us, st->req.request_id);
    if (n <= 0) return;
    size_t len = (size_t)n < sizeof line ? (size_t)n : sizeof line - 1;
    if (tls_log_srv != srv) { /* this thread's first line */
        tls_log = calloc(1, sizeof *tls_log);
        tls_log_srv = srv;
        if (tls_log) {
            pthread_mutex_init(&tls_log->mu, NULL);
            pthread_mutex_lock(&srv->logs_lock);
            tls_log->next = srv->logs;
            srv->logs = tls_log;
            pthread_mutex_unlock(&srv->logs_lock);
        }
    }
    log_buf *b = atomic_load(&srv->watchdog_running) ? tls_log : NULL;
    if (!b) { /* no memory for a buffer, or no watchdog to flush it: unbuffered */
        ssize_t w = write(STDERR_FILENO, line, len);
        (void)w;
        return;
    }
    pthread_mutex_lock(&b->mu);
    if (b->n + len > sizeof b->data) log_flush(b);
    memcpy(b->data + b->n, line, len);
    b->n += len;
    pthread_mutex_unlock(&b->mu);
}

/* Answers queued and not yet sent, in bytes of their buffers (their
 * allocation's usable size, which the free callback sees too: it is given
 * the buffer alone). One server per process, as recv() above. */
static atomic_size_t unsent_bytes;

static void unsent_free(void *buf) {
    atomic_fetch_sub(&unsent_bytes, malloc_usable_size(buf));
    free(buf);
}

static void refuse_unsent(http_req *r) {
    http_reply_header(r, "Retry-After", "1");
    http_reply_detail(r, 503,
                      "Answers waiting for slow clients to read them hold the server's memory "
                      "for answers (serve --max-unsent-bytes); nothing was changed: retry later");
}

/* A read's answer, built: queued when the answers not yet sent stay within
 * --max-unsent-bytes with it, or when none wait (an answer larger than the
 * whole budget is sent alone); otherwise replaced by a 503. A write's
 * answer is always queued: its change is kept. The bytes are counted from
 * here, then, until libmicrohttpd frees the answer. */
static void unsent_take(struct http_server *srv, http_req *r) {
    size_t n = malloc_usable_size(r->out);
    size_t before = atomic_fetch_add(&unsent_bytes, n);
    bool read = strcmp(r->method, "GET") == 0 && r->route && !(r->route->flags & ROUTE_PUBLIC);
    if (!read || !before || before + n <= srv->cfg.max_unsent_bytes) return;
    atomic_fetch_sub(&unsent_bytes, n);
    refuse_unsent(r);
    atomic_fetch_add(&unsent_bytes, malloc_usable_size(r->out));
}

static enum MHD_Result send_answer(struct http_server *srv, struct MHD_Connection *c, http_req *r,
                                   bool close) {
    if (!r->out) {
        /* only when memory ran out building the answer */
        r->status = 500;
        static const char oom[] = "{\"detail\":\"Internal Server Error\"}";
        r->out = strdup(oom);
        r->out_len = r->out ? sizeof oom - 1 : 0;
    }
    struct MHD_Response *resp;
    if (r->out) {
        unsent_take(srv, r);
        resp = r->out ? MHD_create_response_from_buffer_with_free_callback(r->out_len, r->out,
                                                                           unsent_free)
                      : NULL;
        if (!resp) {
            if (r->out) atomic_fetch_sub(&unsent_bytes, malloc_usable_size(r->out));
            return MHD_NO;
        }
    } else {
        resp = MHD_create_response_from_buffer(0, (char *)"", MHD_RESPMEM_PERSISTENT);
        if (!resp) return MHD_NO;
    }
    r->out = NULL; /* owned by the response now */
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
                            r->content_type ? r->content_type : "application/json");
    if (r->allow[0]) MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, r->allow);
    /* shutting down (draining): the client sends its next request elsewhere */
    if (close || atomic_load(&srv->draining))
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
    MHD_add_response_header(resp, "X-Request-Id", r->request_id);
    for (int i = 0; i < HTTP_EXTRA_HEADERS; i++)
        if (r->extra_header[i][0])
            MHD_add_response_header(resp, r->extra_header[i], r->extra_value[i]);
    enum MHD_Result ret = MHD_queue_response(c, r->status, resp);
    MHD_destroy_response(resp);
    return ret;
}

/* The client's X-Request-Id when it is 1 to HTTP_REQUEST_ID_MAX printable
 * ASCII characters (it goes into a header and the log as it is), else a new
 * UUID. */
static void request_id(http_req *r) {
    size_t len;
    const char *v = http_header_n(r, "X-Request-Id", &len);
    size_t n = 0;
    while (v && n <= HTTP_REQUEST_ID_MAX && v[n] >= 0x20 && v[n] <= 0x7e)
        n++;
    if (v && n && n <= HTTP_REQUEST_ID_MAX && v[n] == '\0' && n == len) {
        memcpy(r->request_id, v, n + 1);
        return;
    }
    uid_t16 id;
    if (uid_new_v4_pooled(&id) == 0)
        uid_format(&id, r->request_id);
    else
        snprintf(r->request_id, sizeof r->request_id, "none");
}

typedef struct {
    size_t bytes, count;
} query_size;

static enum MHD_Result count_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                                 size_t key_size, const char *value, size_t value_size) {
    query_size *q = cls;
    q->count++;
    q->bytes += key_size + (value ? value_size : 0) + 2; /* with '&' and '=' */
    return MHD_YES;
}

/* The path and query within --max-url-bytes (414) and the parameters
 * within --max-query-params (400); false when the answer is set. */
static bool within_url_limits(struct http_server *srv, http_req *r) {
    query_size q = {0, 0};
    MHD_get_connection_values_n(r->conn, MHD_GET_ARGUMENT_KIND, count_arg, &q);
    char msg[96];
    if (strlen(r->path) + q.bytes > srv->cfg.max_url_bytes) {
        snprintf(msg, sizeof msg, "URI too long (limit %zu bytes)", srv->cfg.max_url_bytes);
        http_reply_detail(r, 414, msg);
        return false;
    }
    if (q.count > srv->cfg.max_query_params) {
        snprintf(msg, sizeof msg, "Too many query parameters (limit %u)",
                 srv->cfg.max_query_params);
        http_reply_detail(r, 400, msg);
        return false;
    }
    return true;
}

/* ---- half-closed clients --------------------------------------------------- */

/* A client may shut down its sending side once its requests are written
 * (HTTP/1.1 allows it: RFC 9112 section 9.6) and still read the answers.
 * libmicrohttpd 0.9.75 has no option for that: MHD_connection_handle_read()
 * closes the connection as soon as recv() returns 0, whatever the state,
 * dropping a request that is whole and waiting for its answer. It reads in
 * that state after a resume: a connection suspended for its fsync
 * (http_hold) keeps the READ interest it had before its handler ran, so the
 * poll after MHD_resume_connection() sees the pending end of stream and
 * libmicrohttpd closes instead of calling the handler for the answer. The
 * write was kept, the client never learns it.
 *
 * So recv() is interposed (libmicrohttpd calls it through the PLT; the
 * executable's definition wins): while a descriptor's request is whole and
 * not yet answered (`answering`, set with the watchdog's window closing and
 * cleared in on_completed), an end of stream is reported as EAGAIN, which
 * libmicrohttpd takes as "no data yet". Its state then moves on to the
 * answer, which is sent; no read happens while it is sent, and the next
 * read, for the next request, sees the end of stream and closes the
 * connection after the last answer. Every other descriptor (libpq's
 * sockets, connections between requests) gets recv() unchanged. */
static atomic_uchar *answering; /* indexed by descriptor; answering_cap of them */
static size_t answering_cap;
static ssize_t (*real_recv)(int, void *, size_t, int);
static pthread_once_t recv_once = PTHREAD_ONCE_INIT;

static void recv_init(void) {
    real_recv = (ssize_t(*)(int, void *, size_t, int))dlsym(RTLD_NEXT, "recv");
}

ssize_t recv(int fd, void *buf, size_t len, int flags) {
    pthread_once(&recv_once, recv_init);
    ssize_t n = real_recv ? real_recv(fd, buf, len, flags)
                          : (ssize_t)syscall(SYS_recvfrom, fd, buf, len, flags, NULL, NULL);
    if (n == 0 && len > 0 && fd >= 0 && (size_t)fd < answering_cap && atomic_load(&answering[fd])) {
        errno = EAGAIN;
        return -1;
    }
    return n;
}

static void set_answering(conn_watch *w, bool on) {
    if (w && w->fd >= 0 && (size_t)w->fd < answering_cap) atomic_store(&answering[w->fd], on);
}

/* ---- the request-timeout watchdog ------------------------------------------ */

static conn_watch *watch_of(struct MHD_Connection *c) {
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? ci->socket_context : NULL;
}

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode code) {
    struct http_server *srv = cls;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        atomic_fetch_add(&srv->connections, 1);
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
        conn_watch *w = calloc(1, sizeof(*w));
        if (!w || !ci) { /* unwatched: libmicrohttpd's idle timeout still applies */
            free(w);
            *socket_context = NULL;
            return;
        }
        w->fd = ci->connect_fd;
        set_answering(w, false);
        atomic_store(&w->window_start_us, dt_now());
        pthread_mutex_lock(&srv->watch_lock);
        w->next = srv->watched;
        if (w->next) w->next->prev = w;
        srv->watched = w;
        pthread_mutex_unlock(&srv->watch_lock);
        *socket_context = w;
        return;
    }
    /* closed: libmicrohttpd closes the socket only after this returns, so
     * under watch_lock the watchdog never shuts down a reused descriptor */
    atomic_fetch_sub(&srv->connections, 1);
    conn_watch *w = *socket_context;
    if (!w) return;
    set_answering(w, false);
    pthread_mutex_lock(&srv->watch_lock);
    if (w->prev)
        w->prev->next = w->next;
    else
        srv->watched = w->next;
    if (w->next) w->next->prev = w->prev;
    pthread_mutex_unlock(&srv->watch_lock);
    free(w);
    *socket_context = NULL;
}

static void *watchdog_main(void *arg) {
    struct http_server *srv = arg;
    int64_t limit = (int64_t)srv->cfg.request_timeout_s * 1000000;
    int64_t idle_limit = (int64_t)HTTP_PRESSURE_IDLE_S * 1000000;
    /* past 3/4 of the connection limit, idle connections are closed after
     * HTTP_PRESSURE_IDLE_S: many idle keep-alive connections (from many
     * addresses: --max-connections-per-address bounds one) would otherwise
     * hold every slot for --timeout and lock new clients out */
    int pressure_at = (int)(srv->cfg.max_connections - srv->cfg.max_connections / 4);
    bool warned = false;
    while (!atomic_load(&srv->stopping)) {
        struct timespec ts = {0, 100 * 1000 * 1000};
        nanosleep(&ts, NULL);
        int64_t now = dt_now();
        int dropped = 0, idle = 0;
        bool pressure = atomic_load(&srv->connections) >= pressure_at;
        pthread_mutex_lock(&srv->watch_lock);
        for (conn_watch *w = srv->watched; w; w = w->next) {
            int64_t start = atomic_load(&w->window_start_us);
            if (!start || w->dropped) continue;
            bool slow = now - start > limit;
            if (slow || (pressure && !atomic_load(&w->in_request) && now - start > idle_limit)) {
                shutdown(w->fd, SHUT_RDWR);
                w->dropped = true;
                slow ? dropped++ : idle++;
            }
        }
        pthread_mutex_unlock(&srv->watch_lock);
        log_flush_all(srv);
        if (dropped)
            fprintf(stderr, "http: dropped %d connection(s) that took over %us to send a request\n",
                    dropped, srv->cfg.request_timeout_s);
        if (idle && !warned)
            fprintf(stderr,
                    "http: %d connections of %u: closing those idle over %us (reported once)\n",
                    atomic_load(&srv->connections), srv->cfg.max_connections, HTTP_PRESSURE_IDLE_S);
        warned = warned || idle;
    }
    return NULL;
}

/* libmicrohttpd shows the request line's URI, as sent, to this callback
 * before decoding it; what it returns is the request's first context. A
 * path holding "%00" gets a marker (no allocation: a request refused before
 * the access handler runs is never completed to us). */
static char NUL_PATH;

static void *on_uri(void *cls, const char *uri, struct MHD_Connection *c) {
    conn_watch *w = watch_of(c);
    if (w) {
        w->uri_len = strlen(uri);
        atomic_store(&w->in_request, true);
    }
    for (const char *p = uri; *p && *p != '?'; p++)
        if (p[0] == '%' && p[1] == '0' && p[2] == '0') return &NUL_PATH;
    return NULL;
}

/* What the request's line and headers hold: their size as libmicrohttpd's
 * memory holds them, and the headers that frame the body. */
typedef struct {
    size_t bytes;  /* names, values and separators */
    size_t fields; /* header fields, query arguments and cookies: a record each */
    unsigned n_cl, n_te;
    bool cl_differ; /* two Content-Length values that differ */
    const char *cl, *te;
} head_scan;

static enum MHD_Result scan_one(void *cls, enum MHD_ValueKind kind, const char *key,
                                size_t key_size, const char *value, size_t value_size) {
    head_scan *h = cls;
    h->fields++;
    if (kind != MHD_HEADER_KIND) return MHD_YES; /* counted in the line or the Cookie header */
    h->bytes += key_size + value_size + 4;       /* ": " and CRLF */
    if (key_size == 14 && strncasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH, 14) == 0) {
        if (h->n_cl++ && (strlen(h->cl) != value_size || memcmp(h->cl, value, value_size) != 0))
            h->cl_differ = true;
        if (h->n_cl == 1) h->cl = value;
    } else if (key_size == 17 && strncasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING, 17) == 0) {
        if (!h->n_te++) h->te = value;
    }
    return MHD_YES;
}

/* libmicrohttpd keeps each header field, query argument and cookie as a
 * record of its own in the connection's memory (struct MHD_HTTP_Header:
 * 56 bytes, rounded up to its 16-byte alignment) */
#define HEAD_RECORD_BYTES 64

/* The body's framing (RFC 9112 section 6): a body whose length two headers
 * give, or one header twice with two values, is read differently by two
 * readers, which is how a request is smuggled past a proxy; so it is 400
 * and the connection is closed with the body unread, as section 6.3
 * requires. A transfer coding other than chunked cannot be read at all
 * (libmicrohttpd would wait for the connection's end): 501, and closed.
 * Then the line and headers within --max-header-bytes: libmicrohttpd is
 * given that and HTTP_ANSWER_RESERVE more, which its answer's headers need
 * (they are built in the same memory), so a request that fits that memory
 * but not the limit gets its JSON 431 here. False when the answer is set. */
static bool head_acceptable(struct http_server *srv, req_state *st) {
    http_req *r = &st->req;
    head_scan h = {0};
    MHD_get_connection_values_n(r->conn, MHD_HEADER_KIND | MHD_GET_ARGUMENT_KIND | MHD_COOKIE_KIND,
                                scan_one, &h);
    char msg[160];
    if (h.n_te && h.n_cl) {
        http_reply_detail(r, 400,
                          "Content-Length and Transfer-Encoding together: the body's length is "
                          "ambiguous");
        st->close_now = true;
        return false;
    }
    if (h.cl_differ) {
        http_reply_detail(r, 400, "Content-Length given more than once, with different values");
        st->close_now = true;
        return false;
    }
    if (h.n_te && (h.n_te > 1 || strcasecmp(h.te, "chunked") != 0)) {
        char coding[40];
        log_field(h.te, 32, coding, sizeof coding);
        snprintf(msg, sizeof msg, "Transfer-Encoding %s%s is not supported: only chunked", coding,
                 h.n_te > 1 ? " (given more than once)" : "");
        http_reply_detail(r, 501, msg);
        st->close_now = true;
        return false;
    }
    conn_watch *w = watch_of(r->conn);
    size_t uri = w && w->uri_len ? w->uri_len : 3 * strlen(r->path);
    /* "METHOD URI HTTP/1.1\r\n", the headers, the empty line */
    size_t line = strlen(r->method) + uri + 12;
    size_t used = line + h.bytes + 2 + h.fields * HEAD_RECORD_BYTES;
    /* closed, as libmicrohttpd closes after its own 431 and 414 */
    if (line > srv->cfg.max_header_bytes) {
        snprintf(msg, sizeof msg, "URI too long (limit %zu bytes)", srv->cfg.max_header_bytes);
        http_reply_detail(r, 414, msg);
        st->close_now = true;
        return false;
    }
    if (used > srv->cfg.max_header_bytes) {
        snprintf(msg, sizeof msg, "Request line and headers too large (limit %zu bytes)",
                 srv->cfg.max_header_bytes);
        http_reply_detail(r, 431, msg);
        st->close_now = true;
        return false;
    }
    return true;
}

/* Headers are in: decide everything that does not need the body. */
static void on_headers(struct http_server *srv, req_state *st) {
    http_req *r = &st->req;
    request_id(r);
    if (!head_acceptable(srv, st)) {
        st->refused = true;
        return;
    }
    /* limits before routing: a path too long is 414 whatever it names */
    if (!within_url_limits(srv, r)) {
        st->refused = true;
        return;
    }
    if (r->nul_in_path) {
        /* libmicrohttpd decodes the path into a C string, which would end
         * at the NUL and name another resource: no resource has one */
        http_reply_detail(r, 404, "Not Found");
        st->refused = true;
        return;
    }
    const route *rt = NULL;
    switch (router_match(srv->cfg.routes, srv->cfg.nroutes, r->method, r->path, &rt, r, r->allow,
                         sizeof r->allow)) {
    case ROUTER_NOT_FOUND:
        http_reply_detail(r, 404, "Not Found");
        st->refused = true;
        return;
    case ROUTER_METHOD_NOT_ALLOWED:
        http_reply_detail(r, 405, "Method Not Allowed");
        st->refused = true;
        return;
    case ROUTER_OK:
        break;
    }
    r->route = rt;
    const char *cl = http_header(r, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (cl) {
        char *end;
        unsigned long long n = strtoull(cl, &end, 10);
        if (*end == '\0' && n > srv->cfg.max_body) {
            char msg[96];
            snprintf(msg, sizeof msg, "Request body too large (limit %zu bytes)",
                     srv->cfg.max_body);
            http_reply_detail(r, 413, msg);
            st->refused = true;
            return;
        }
    }
    if (!(rt->flags & ROUTE_PUBLIC) && srv->cfg.authorize) {
        /* a GET that brings no body has nothing to refuse before: the
         * invoke hook authorises it with the handler, in one read */
        if (srv->cfg.invoke && strcmp(r->method, "GET") == 0 && !cl &&
            !http_header(r, MHD_HTTP_HEADER_TRANSFER_ENCODING))
            r->authorize_in_invoke = true;
        else if (!srv->cfg.authorize(srv->cfg.app, r))
            st->refused = true;
    }
}

static int add_body(struct http_server *srv, req_state *st, const char *data, size_t n) {
    http_req *r = &st->req;
    if (r->body_too_large) return 0;
    if (r->body_len + n > srv->cfg.max_body) {
        r->body_too_large = true;
        free(r->body);
        r->body = NULL;
        r->body_len = 0;
        return 0;
    }
    if (r->body_len + n + 1 > st->body_cap) {
        size_t cap = st->body_cap ? st->body_cap : 1024;
        while (cap < r->body_len + n + 1)
            cap *= 2;
        char *nb = realloc(r->body, cap);
        if (!nb) return -1;
        r->body = nb;
        st->body_cap = cap;
    }
    memcpy(r->body + r->body_len, data, n);
    r->body_len += n;
    r->body[r->body_len] = '\0';
    return 0;
}

/* ---- shutdown: active requests --------------------------------------------- */

/* Count the request as active before its handler runs; false once the
 * server is closing (checked after counting, so that http_stop() either
 * sees the count or the request sees the flag). */
static bool set_active(struct http_server *srv, req_state *st) {
    atomic_fetch_add(&srv->active, 1);
    st->active = true;
    if (!atomic_load(&srv->closing)) return true;
    atomic_fetch_sub(&srv->active, 1);
    st->active = false;
    return false;
}

static void clear_active(struct http_server *srv, req_state *st) {
    if (!st->active) return;
    st->active = false;
    atomic_fetch_sub(&srv->active, 1);
}

static enum MHD_Result answer_active(struct http_server *srv, req_state *st,
                                     struct MHD_Connection *c) {
    enum MHD_Result ret = send_answer(srv, c, &st->req, false);
    clear_active(srv, st);
    return ret;
}

static void refuse_closing(req_state *st) {
    http_reply_header(&st->req, "Retry-After", "1");
    http_reply_detail(&st->req, 503,
                      "The server is shutting down and takes no new requests; nothing was "
                      "changed: retry on another instance or after the restart");
    st->refused = true;
}

/* Whether a request refused before its body is answered only once the body
 * has been read and thrown away. libmicrohttpd 0.9.75 sends an answer queued
 * before the body, then closes the socket with the body unread, and the
 * kernel turns a close with unread data into a reset: a client still
 * writing (one that writes its whole body before it reads, like Node's
 * client behind Prism) gets EPIPE or the reset instead of the answer
 * (RFC 9112 section 9.6 asks for a lingering close). libmicrohttpd has no
 * lingering close and queues no answer in the middle of a body, so the
 * access handler swallows the body, keeping none of it, and answers at its
 * end, with Connection: close. Answered at once instead: a request with no
 * body; one whose client waits for 100 Continue (it sends nothing until
 * told, and libmicrohttpd would tell it if no answer were queued); and one
 * whose Content-Length is past drain_max, which would have us read that
 * much for nothing (it gets the early answer, and likely the reset). A
 * chunked body gets no such promise: past drain_max the connection is
 * closed without an answer. Time is bounded by --request-timeout, whose
 * window covers the body. */
static bool drain_first(struct http_server *srv, http_req *r) {
    const char *expect = http_header(r, MHD_HTTP_HEADER_EXPECT);
    if (expect && strcasecmp(expect, "100-continue") == 0) return false;
    if (http_header(r, MHD_HTTP_HEADER_TRANSFER_ENCODING)) return true;
    const char *cl = http_header(r, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (!cl) return false;
    char *end;
    unsigned long long n = strtoull(cl, &end, 10);
    return *end == '\0' && n > 0 && n <= srv->drain_max;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls) {
    struct http_server *srv = cls;
    req_state *st = *con_cls;
    bool nul_in_path = st == (void *)&NUL_PATH;
    if (nul_in_path) st = NULL;
    if (!st) {
        st = calloc(1, sizeof(*st));
        if (!st) return MHD_NO;
        *con_cls = st;
        pthread_mutex_init(&st->mu, NULL); /* a release may precede the hold */
        st->req.nul_in_path = nul_in_path;
        st->start_us = dt_now();
        st->req.conn = c;
        st->req.method = method;
        st->req.path = url;
        atomic_fetch_add(&srv->in_flight, 1);
        st->started = true;
        on_headers(srv, st);
        if (!st->refused && atomic_load(&srv->closing)) refuse_closing(st);
        if (st->refused) {
            if (!st->close_now && drain_first(srv, &st->req)) {
                st->drained_close = true;
                return MHD_YES; /* answered at the body's end */
            }
            /* libmicrohttpd then closes the connection, the body unread */
            st->answered = true;
            return send_answer(srv, c, &st->req, st->close_now);
        }
        return MHD_YES;
    }
    http_req *r = &st->req;
    if (*upload_size) {
        size_t n = *upload_size;
        *upload_size = 0;
        st->upload_seen += n;
        if (st->refused) { /* swallowed: see drain_first() */
            if (st->upload_seen > srv->drain_max) {
                fprintf(stderr, "http: closed a connection whose refused body passed %llu bytes\n",
                        srv->drain_max);
                return MHD_NO;
            }
            return MHD_YES;
        }
        if (add_body(srv, st, upload, n) != 0) {
            http_reply_detail(r, 500, "Out of memory reading the request body");
            st->refused = st->drained_close = true;
        } else if (r->body_too_large) { /* chunked, past the cap */
            char msg[96];
            snprintf(msg, sizeof msg, "Request body too large (limit %zu bytes)",
                     srv->cfg.max_body);
            http_reply_detail(r, 413, msg);
            st->refused = st->drained_close = true;
        }
        return MHD_YES;
    }
    if (st->answered) return MHD_YES; /* queued before the body */
    if (st->held) {                   /* resumed: the release has come */
        if (st->release_rc && srv->cfg.lost) srv->cfg.lost(srv->cfg.app, r, st->release_rc);
        return answer_active(srv, st, c);
    }
    conn_watch *w = watch_of(c);
    if (w) { /* the request is whole: no deadline, and an end of stream waits for the answer */
        atomic_store(&w->window_start_us, 0);
        set_answering(w, true);
    }
    if (st->refused) return send_answer(srv, c, r, st->drained_close);
    if (strcmp(r->method, "GET") == 0 && !(r->route->flags & ROUTE_PUBLIC) &&
        atomic_load(&unsent_bytes) >= srv->cfg.max_unsent_bytes) {
        /* full already: refused before its answer is built */
        refuse_unsent(r);
        return send_answer(srv, c, r, false);
    }
    if (!set_active(srv, st)) {
        refuse_closing(st);
        return send_answer(srv, c, r, false);
    }
    if (srv->cfg.invoke)
        srv->cfg.invoke(srv->cfg.app, r);
    else
        r->route->fn(srv->cfg.app, r);
    if (!r->status) http_reply_detail(r, 500, "Internal Server Error");
    if (st->held) {
        /* the write is not durable yet: park the connection, not the thread */
        pthread_mutex_lock(&st->mu);
        bool wait = !st->released;
        if (wait) MHD_suspend_connection(c);
        st->suspended = wait;
        pthread_mutex_unlock(&st->mu);
        if (wait) return MHD_YES;
        if (st->release_rc && srv->cfg.lost) srv->cfg.lost(srv->cfg.app, r, st->release_rc);
    }
    return answer_active(srv, st, c);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe) {
    struct http_server *srv = cls;
    req_state *st = *con_cls;
    if (!st || st == (void *)&NUL_PATH) return; /* the handler never saw it */
    if (!st->req.status) st->req.status = 499;  /* client went away before an answer */
    conn_watch *w = watch_of(c);
    if (w) { /* the next request's window */
        set_answering(w, false);
        atomic_store(&w->in_request, false);
        atomic_store(&w->window_start_us, dt_now());
    }
    log_line(srv, st);
    clear_active(srv, st); /* a suspended client that went away */
    free(st->req.body);
    free(st->req.out);
    if (st->started) atomic_fetch_sub(&srv->in_flight, 1);
    pthread_mutex_destroy(&st->mu);
    free(st);
    *con_cls = NULL;
}

/* libmicrohttpd hands its own format strings; the attribute lets the compiler check the call */
__attribute__((format(printf, 2, 0))) static void on_mhd_error(void *cls, const char *fmt,
                                                               va_list ap) {
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    fprintf(stderr, "http: %s", msg);
}

http_server *http_start(const http_config *cfg, char *err, size_t errcap) {
    struct http_server *s = calloc(1, sizeof(*s));
    if (!s) {
        snprintf(err, errcap, "out of memory");
        return NULL;
    }
    s->cfg = *cfg;
    /* a few bodies' worth, and at least 16 MiB: a client that sends a body
     * several times the cap still reads the refusal; drain_first() */
    s->drain_max = 4ull * cfg->max_body;
    if (s->drain_max < 16ull << 20) s->drain_max = 16ull << 20;
    pthread_mutex_init(&s->watch_lock, NULL);
    pthread_mutex_init(&s->logs_lock, NULL);
    struct sockaddr_in addr = {0};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(cfg->port);
    if (inet_pton(AF_INET, cfg->host, &addr.sin_addr) != 1) {
        snprintf(err, errcap, "listen address must be an IPv4 address: %s", cfg->host);
        free(s);
        return NULL;
    }
    /* poll(), not epoll: libmicrohttpd 0.9.75's edge-triggered epoll loses
     * the FIN of a client that hangs up right after part of its body (it
     * arrives with the data, and no new edge follows), so such connections
     * sat in CLOSE-WAIT until the timeout, holding connection slots and
     * delaying shutdown: 5 of 6 in tests/api/test_robustness.py. poll() is
     * level-triggered and sees the hang-up at once; each pool thread polls
     * only its own share of the connections. */
    /* the answering table of recv() above, one flag per descriptor the
     * process may open; kept to the end of the process (recv() may run in
     * any thread, libpq's included) */
    struct rlimit nofile;
    if (!answering && getrlimit(RLIMIT_NOFILE, &nofile) == 0) {
        size_t cap = nofile.rlim_cur == RLIM_INFINITY || nofile.rlim_cur > (1u << 20)
                         ? (1u << 20)
                         : (size_t)nofile.rlim_cur;
        answering = calloc(cap, sizeof *answering);
        if (answering) answering_cap = cap;
    }
    s->d = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL | MHD_USE_ITC | MHD_USE_ERROR_LOG |
            MHD_ALLOW_SUSPEND_RESUME,
        cfg->port, NULL, NULL, on_request, s, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_error, NULL,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr, MHD_OPTION_THREAD_POOL_SIZE,
        (unsigned int)cfg->threads, MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)cfg->conn_timeout_s,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned int)cfg->max_connections,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned int)cfg->max_connections_per_address,
        MHD_OPTION_NOTIFY_CONNECTION, on_connection, s, MHD_OPTION_URI_LOG_CALLBACK, on_uri, s,
        /* request line and headers (a long cursor included), and the
         * answer's headers: HTTP_ANSWER_RESERVE; head_acceptable() */
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(cfg->max_header_bytes + HTTP_ANSWER_RESERVE),
        MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned int)1024, MHD_OPTION_END);
    if (!s->d) {
        snprintf(err, errcap, "cannot listen on %s:%u (in use, or not an address of this host)",
                 cfg->host, cfg->port);
        pthread_mutex_destroy(&s->logs_lock);
        pthread_mutex_destroy(&s->watch_lock);
        free(s);
        return NULL;
    }
    int rc = pthread_create(&s->watchdog, NULL, watchdog_main, s);
    atomic_store(&s->watchdog_running, rc == 0);
    if (rc != 0) fprintf(stderr, "http: no request-timeout watchdog: %s\n", strerror(rc));
    return s;
}

/* Wait up to `ms` for *n to be 0; true when it is. */
static bool wait_zero(atomic_int *n, unsigned ms) {
    for (unsigned waited = 0; atomic_load(n) > 0; waited += 10) {
        if (waited >= ms) return false;
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    return true;
}

bool http_stop(http_server *s, unsigned grace_ms) {
    if (!s) return true;
    /* No new connections, and each answer from now on closes its own, so
     * that keep-alive clients stop sending here; the requests under way
     * finish within the grace. */
    MHD_socket listening = MHD_quiesce_daemon(s->d);
    /* ours to close: left open, new clients would wait in its backlog
     * instead of being refused at once */
    if (listening != MHD_INVALID_SOCKET) close(listening);
    atomic_store(&s->draining, true);
    wait_zero(&s->in_flight, grace_ms);
    /* Past the grace (a slow upload), nothing more is handled, and what has
     * been handled is answered: a write waiting for its fsync is resumed
     * by the store within that fsync. libmicrohttpd must not be stopped
     * with a connection suspended, so if the disk never answers the caller
     * is told and must exit without stopping it. */
    atomic_store(&s->closing, true);
    if (!wait_zero(&s->active, HTTP_STOP_ACTIVE_MS)) {
        fprintf(stderr, "http: %d answers still wait for the database after %u ms\n",
                atomic_load(&s->active), HTTP_STOP_ACTIVE_MS);
        return false;
    }
    atomic_store(&s->stopping, true);
    if (atomic_load(&s->watchdog_running)) pthread_join(s->watchdog, NULL);
    MHD_stop_daemon(s->d);
    log_flush_all(s);
    for (log_buf *b = s->logs, *n; b; b = n) {
        n = b->next;
        pthread_mutex_destroy(&b->mu);
        free(b);
    }
    pthread_mutex_destroy(&s->logs_lock);
    pthread_mutex_destroy(&s->watch_lock);
    free(s);
    return true;
}
