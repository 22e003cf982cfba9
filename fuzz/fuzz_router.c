/* libFuzzer target: the route matcher (router_match in src/http/router.c)
 * on the server's own table (api_routes).
 *
 * The input is "METHOD /path": up to the first space the method (all of it
 * "GET" when there is no space), the rest the path as the edge gives it to
 * the router (a C string: up to the first NUL).
 *
 * The matcher is held to a plain second reading of the rules in router.c:
 * a pattern matches when the path has as many '/'-separated segments, each
 * literal equal and each {param} 1 to HTTP_PARAM_MAX - 1 bytes; among the
 * routes of the method, the most literal at the first segment where two
 * differ wins; a path matched for other methods only is 405 with those
 * methods, once each in table order, in Allow; else 404. On a match the
 * params are the path's segments (http_param finds each by name), and the
 * Allow text never passes its buffer (checked with buffers of every size
 * from 0 to 64 bytes, exact-size heap blocks so ASan sees a byte past). */
#include "common.h"

#include "api/api.h"
#include "http/http.h"

#define MAX_SEGS 64

typedef struct {
    const char *s[MAX_SEGS];
    size_t len[MAX_SEGS];
    size_t n;
    bool too_many;
} segs;

static void split(const char *p, segs *out) {
    out->n = 0;
    out->too_many = false;
    for (;;) {
        const char *slash = strchr(p, '/');
        if (out->n == MAX_SEGS) {
            out->too_many = true;
            return;
        }
        out->s[out->n] = p;
        out->len[out->n] = slash ? (size_t)(slash - p) : strlen(p);
        out->n++;
        if (!slash) return;
        p = slash + 1;
    }
}

static bool is_param(const char *s, size_t len) {
    return len > 1 && s[0] == '{' && s[len - 1] == '}';
}

/* Does `pattern` match the path split in `ps`? */
static bool matches(const char *pattern, const segs *ps) {
    segs pt;
    split(pattern, &pt);
    if (ps->too_many || pt.n != ps->n) return false;
    if (ps->len[0] != 0) return false; /* both must begin with '/' */
    for (size_t i = 1; i < pt.n; i++) {
        if (is_param(pt.s[i], pt.len[i])) {
            if (ps->len[i] == 0 || ps->len[i] >= HTTP_PARAM_MAX) return false;
        } else if (pt.len[i] != ps->len[i] || memcmp(pt.s[i], ps->s[i], pt.len[i]) != 0) {
            return false;
        }
    }
    return true;
}

/* Is route a more literal than b (first differing segment literal in a)? */
static bool more_literal(const char *a, const char *b) {
    segs sa, sb;
    split(a, &sa);
    split(b, &sb);
    for (size_t i = 1; i < sa.n && i < sb.n; i++) {
        bool la = !is_param(sa.s[i], sa.len[i]), lb = !is_param(sb.s[i], sb.len[i]);
        if (la != lb) return la;
    }
    return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *in = malloc(size + 1);
    CHECK(in);
    memcpy(in, data, size);
    in[size] = '\0';
    const char *method = "GET", *path = in;
    char *sp = memchr(in, ' ', size);
    if (sp) {
        *sp = '\0';
        method = in;
        path = sp + 1;
    }

    /* the expected answer */
    segs ps;
    split(path, &ps);
    const route *want = NULL;
    bool any = false;
    char want_allow[256] = "";
    for (size_t i = 0; i < api_nroutes; i++) {
        const route *r = &api_routes[i];
        if (!matches(r->pattern, &ps)) continue;
        any = true;
        if (strcmp(r->method, method) == 0 && (!want || more_literal(r->pattern, want->pattern)))
            want = r;
        if (!strstr(want_allow, r->method)) {
            if (want_allow[0]) strcat(want_allow, ", ");
            strcat(want_allow, r->method);
        }
    }

    http_req req;
    memset(&req, 0, sizeof req);
    const route *got = NULL;
    router_rc rc = router_match(api_routes, api_nroutes, method, path, &got, &req, req.allow,
                                sizeof req.allow);
    if (want) {
        CHECK(rc == ROUTER_OK && got == want);
        /* the params are the path's segments in the pattern's {} places */
        segs pt;
        split(got->pattern, &pt);
        size_t np = 0;
        for (size_t i = 1; i < pt.n; i++) {
            if (!is_param(pt.s[i], pt.len[i])) continue;
            CHECK(np < HTTP_MAX_PARAMS && np < req.nparams);
            CHECK(strlen(req.params[np]) == ps.len[i] &&
                  memcmp(req.params[np], ps.s[i], ps.len[i]) == 0);
            char name[64];
            CHECK(pt.len[i] - 2 < sizeof name);
            memcpy(name, pt.s[i] + 1, pt.len[i] - 2);
            name[pt.len[i] - 2] = '\0';
            CHECK(http_param(&req, name) == req.params[np]);
            np++;
        }
        CHECK(np == req.nparams);
        CHECK(http_param(&req, "no_such_param") == NULL);
    } else if (any) {
        CHECK(rc == ROUTER_METHOD_NOT_ALLOWED);
        CHECK(strcmp(req.allow, want_allow) == 0);
    } else {
        CHECK(rc == ROUTER_NOT_FOUND);
    }

    /* without a request, and with Allow buffers of every size */
    for (size_t cap = 0; cap <= 64; cap++) {
        char *allow = malloc(cap ? cap : 1);
        CHECK(allow);
        const route *got2 = NULL;
        router_rc rc2 = router_match(api_routes, api_nroutes, method, path, &got2, NULL,
                                     cap ? allow : NULL, cap);
        CHECK(rc2 == rc && got2 == (rc == ROUTER_OK ? got : NULL));
        if (rc2 == ROUTER_METHOD_NOT_ALLOWED && cap) {
            size_t n = strnlen(allow, cap);
            CHECK(n < cap);
            CHECK(strncmp(allow, want_allow, n) == 0); /* what fits of the list */
        }
        free(allow);
    }
    free(in);
    return 0;
}
