/* idempotency: the Idempotency-Key of POST, PATCH and DELETE.
 *
 * Stage 4 of the request pipeline (pipeline.c): api_idem_run() runs every
 * authorised request's handler. Without a key (or for GET) it only calls
 * it. With one, the handler runs inside a store transaction opened by
 * store_idem_begin(), which also takes the key's lock: the answer is stored
 * by store_idem_finish() in the same transaction as the request's effect,
 * so either both are kept or neither is. A request that finds its key
 * answered gets that answer again, byte for byte, and its handler does not
 * run. */
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

void api_idem_run(api_app *app, http_req *r) {
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
        /* not kept: the effect was rolled back with the key, so the
         * client must not be told it happened */
        if (rc != STORE_OK) api_reply_store(r, rc, "Idempotency key");
    } else {
        /* a failure is not stored, and nothing of it is kept */
        store_idem_finish(app->st, r->org, key, NULL, r->request_id, dt_now());
    }
}
