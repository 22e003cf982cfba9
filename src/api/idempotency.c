/* idempotency: the Idempotency-Key of POST, PATCH and DELETE.
 *
 * The edge calls api_invoke() for every authorised request. Without a key
 * (or for GET) it runs the handler. With one, the handler runs inside a
 * store transaction opened by store_idem_begin(), which also takes the key's
 * lock: the answer is stored by store_idem_finish() in the same transaction
 * as the request's effect, so either both are durable or neither is. A
 * request that finds its key answered gets that answer again, byte for
 * byte, and its handler does not run. */
#include "api/api.h"

#include "domain/dt.h"
#include "util/sha256.h"

#include <stdlib.h>
#include <string.h>

/* 1 to IDEM_KEY_MAX printable ASCII characters (a NUL byte included in n
 * fails the pattern); else the 422 is set. */
static bool key_ok(http_req *r, const char *key, size_t n) {
    const char *type = NULL, *msg = NULL;
    json_t *ctx = NULL;
    if (n == 0) {
        type = "string_too_short";
        msg = "String should have at least 1 character";
        ctx = json_pack("{s:i}", "min_length", 1);
    } else if (n > IDEM_KEY_MAX) {
        type = "string_too_long";
        msg = "String should have at most 255 characters";
        ctx = json_pack("{s:i}", "max_length", IDEM_KEY_MAX);
    } else {
        for (size_t i = 0; i < n && !type; i++) {
            if (key[i] < 0x20 || key[i] > 0x7e) {
                type = "string_pattern_mismatch";
                msg = "String should match pattern '^[\\x20-\\x7e]+$'";
                ctx = json_pack("{s:s}", "pattern", "^[\\x20-\\x7e]+$");
            }
        }
    }
    if (!type) return true;
    /* the input echoed with each byte past ASCII as U+FFFD: a header's
     * bytes need not be UTF-8, and the answer must be */
    size_t k = 0, cap = n * 3 + 1;
    char *echo = malloc(cap);
    for (size_t i = 0; echo && i < n; i++) {
        unsigned char c = (unsigned char)key[i];
        if (c < 0x80)
            echo[k++] = (char)c;
        else
            memcpy(echo + k, "\xef\xbf\xbd", 3), k += 3;
    }
    json_t *input = echo ? json_stringn(echo, k) : NULL;
    free(echo);
    json_t *errors = json_array();
    validate_error(errors, type, validate_loc("header", "idempotency-key", NULL), msg, input, ctx);
    json_decref(input);
    api_reply_errors(r, errors);
    return false;
}

/* SHA-256 of method, path and body, NUL-separated: what makes two requests
 * "the same request". */
static bool fingerprint(const http_req *r, uint8_t out[32]) {
    size_t m = strlen(r->method), p = strlen(r->path), n = m + 1 + p + 1 + r->body_len;
    char *buf = malloc(n);
    if (!buf) return false;
    memcpy(buf, r->method, m + 1);
    memcpy(buf + m + 1, r->path, p + 1);
    if (r->body_len) memcpy(buf + m + 1 + p + 1, r->body, r->body_len);
    sha256(buf, n, out);
    free(buf);
    return true;
}

store_meta api_meta(const http_req *r) {
    store_meta m = {r->request_id, r->idem_key};
    return m;
}

static void invoke(void *appv, http_req *r) {
    api_app *app = appv;
    const char *method = r->method;
    bool write = strcmp(method, "POST") == 0 || strcmp(method, "PATCH") == 0 ||
                 strcmp(method, "DELETE") == 0;
    size_t key_len = 0;
    const char *key = write ? http_header_n(r, "Idempotency-Key", &key_len) : NULL;
    if (!key) {
        r->route->fn(app, r);
        return;
    }
    if (!key_ok(r, key, key_len)) return;
    store_idem answer = {0}, stored;
    if (!fingerprint(r, answer.fingerprint)) {
        http_reply_detail(r, 500, "Internal Server Error: out of memory");
        return;
    }
    bool found = false;
    store_rc rc = store_idem_begin(app->st, r->org, key, &found, &stored);
    if (rc != STORE_OK) {
        api_reply_store(r, rc, "Idempotency key");
        return;
    }
    if (found) {
        if (memcmp(stored.fingerprint, answer.fingerprint, 32) != 0) {
            free(stored.body);
            http_reply_detail(r, 422, "Idempotency-Key was already used with a different request");
            return;
        }
        http_reply(r, stored.status, stored.body, stored.body_len);
        http_reply_header(r, "Idempotent-Replayed", "true");
        return;
    }
    r->idem_key = key;
    r->route->fn(app, r);
    if (r->status && r->status < 500 && r->out) {
        answer.status = r->status;
        answer.body = r->out;
        answer.body_len = r->out_len;
        rc = store_idem_finish(app->st, r->org, key, &answer, r->request_id, dt_now());
        /* not durable: the effect was rolled back with the key, so the
         * client must not be told it happened */
        if (rc != STORE_OK) api_reply_store(r, rc, "Idempotency key");
    } else {
        /* a failure is not stored, and nothing of it is kept */
        store_idem_finish(app->st, r->org, key, NULL, r->request_id, dt_now());
    }
}

/* ---- writes without a key: the answer before the commit (issue 7) ------------
 * Without this, an update's store call committed and only then was its
 * answer built: memory running out there answered 500 for a change that
 * was made. Now the store call runs inside a transaction held for the
 * request (store_idem_begin with no key), the answer is built, and only a
 * 200 is committed. A request with an Idempotency-Key is held already. */
bool api_write_begin(api_app *app, http_req *r, bool *held) {
    *held = false;
    if (r->idem_key) return true;
    bool found;
    store_idem none;
    store_rc rc = store_idem_begin(app->st, r->org, NULL, &found, &none);
    if (rc != STORE_OK) {
        api_reply_store(r, rc, "Change");
        return false;
    }
    *held = true;
    return true;
}

void api_write_end(api_app *app, http_req *r, bool held) {
    if (!held) return;
    /* a refusal (4xx) changed nothing: no commit, so no wait for a sync */
    bool ok = r->status == 200 && r->out;
    store_idem answer = {.status = r->status};
    store_rc rc =
        store_idem_finish(app->st, r->org, NULL, ok ? &answer : NULL, r->request_id, dt_now());
    if (ok && rc != STORE_OK) api_reply_store(r, rc, "Change"); /* rolled back: not done */
}
/* ---- end of writes without a key ------------------------------------------------ */

/* ---- fault injection (issue 7; test builds only) ------------------------------
 * In a build with ENTITLED_FAULTS, a request's X-Fault header (util/fault.h:
 * "store:N[:ioerr|full|busy]" or "alloc:N") arms a fault on this thread for
 * the handler and its idempotency store calls, and the answer says in
 * X-Fault-Fired whether it fired. A malformed X-Fault is a 400. Without
 * ENTITLED_FAULTS the header is not even read. */
#ifdef ENTITLED_FAULTS
#include "util/fault.h"
#endif

/* ---- deferred durability ------------------------------------------------------
 * A write's store call returns once its change is kept (its batch committed
 * or about to be), and the store calls durable() once the change is on disk
 * or lost. The edge holds the answer until then, with the connection
 * suspended: a thread is not parked per write, so a few threads serve any
 * number of writes in flight. */
static void durable(void *cls, store_rc rc) {
    http_release(cls, rc == STORE_OK ? 0 : (int)rc);
}

void api_lost(void *appv, http_req *r, int rc) {
    (void)appv;
    /* a replay's header no longer applies: this answer is not the stored one */
    for (int i = 0; i < HTTP_EXTRA_HEADERS; i++)
        if (strcmp(r->extra_header[i], "Idempotent-Replayed") == 0) r->extra_header[i][0] = '\0';
    api_reply_store(r, (store_rc)rc, "Change");
}

static void invoke_deferred(void *appv, http_req *r) {
    api_app *app = appv;
    if (!store_can_defer(app->st) || strcmp(r->method, "GET") == 0) {
        invoke(appv, r);
        return;
    }
    if (!store_defer_begin(app->st, durable, r)) {
        http_reply_detail(r, 500, "Internal Server Error: out of memory");
        return;
    }
    invoke(appv, r);
    if (store_defer_end(app->st)) http_hold(r);
}
/* ---- end of deferred durability ------------------------------------------------ */

/* A GET the edge left unauthorised (http_req.authorize_in_invoke): the key
 * and the answer are read in one read transaction, which saves SQLite's
 * per-transaction locking (two fcntl and an fstat) of a second read. */
static void invoke_read(void *appv, http_req *r) {
    api_app *app = appv;
    if (!r->authorize_in_invoke) {
        invoke_deferred(appv, r);
        return;
    }
    bool tx = store_read_begin(app->st);
    if (api_authorize(appv, r)) invoke_deferred(appv, r);
    if (tx) store_read_end(app->st);
}

void api_invoke(void *appv, http_req *r) {
#ifdef ENTITLED_FAULTS
    const char *spec = http_header(r, "X-Fault");
    if (spec) {
        if (fault_arm(spec) != 0) {
            http_reply_detail(r, 400, "X-Fault must be store:N[:ioerr|full|busy] or alloc:N");
            return;
        }
        invoke_read(appv, r);
        fault_disarm();
        http_reply_header(r, "X-Fault-Fired", fault_fired() ? "true" : "false");
        return;
    }
#endif
    invoke_read(appv, r);
}
/* ---- end of fault injection ---------------------------------------------------- */
