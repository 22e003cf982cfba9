/* router: the route table lookup. A pattern is a path whose segments are
 * literals or {name} parameters. Like Starlette, a route that matches both
 * path and method wins over one that matches the path only; among those, the
 * one with a literal at the first segment where they differ wins, so
 * /entitlements/customers_balances beats /entitlements/{entitlement_id}.
 * Path-only matches give 405 with their methods in Allow. */
#include "http/http.h"

#include <stdio.h>
#include <string.h>

/* Match `path` against `pattern`; on success fills params (when req is given)
 * and returns a specificity mask (bit set per literal segment, first
 * segment highest). -1 when it does not match. */
static long match(const char *pattern, const char *path, http_req *req) {
    const char *p = pattern, *s = path;
    long spec = 0;
    size_t np = 0;
    int seg = 0;
    while (*p == '/' && *s == '/') {
        p++, s++;
        const char *pe = strchr(p, '/'), *se = strchr(s, '/');
        size_t pl = pe ? (size_t)(pe - p) : strlen(p), sl = se ? (size_t)(se - s) : strlen(s);
        if (pl > 1 && p[0] == '{' && p[pl - 1] == '}') {
            if (sl == 0 || np >= HTTP_MAX_PARAMS || sl >= HTTP_PARAM_MAX) return -1;
            if (req) {
                memcpy(req->params[np], s, sl);
                req->params[np][sl] = '\0';
            }
            np++;
        } else {
            if (pl != sl || memcmp(p, s, pl) != 0) return -1;
            spec |= 1L << (20 - seg);
        }
        seg++;
        p += pl, s += sl;
    }
    if (*p || *s) return -1;
    if (req) req->nparams = np;
    return spec;
}

static void param_names(const route *r, http_req *req) {
    size_t n = 0;
    for (const char *p = r->pattern; (p = strchr(p, '{')) && n < HTTP_MAX_PARAMS; p++)
        req->param_names[n++] = p; /* "{name}...": http_param compares up to '}' */
}

router_rc router_match(const route *routes, size_t n, const char *method, const char *path,
                       const route **out, http_req *req, char *allow, size_t allowcap) {
    const route *best = NULL;
    long best_spec = -1;
    bool path_matched = false;
    for (size_t i = 0; i < n; i++) {
        long spec = match(routes[i].pattern, path, NULL);
        if (spec < 0) continue;
        path_matched = true;
        if (strcmp(routes[i].method, method) == 0 && spec > best_spec) {
            best = &routes[i];
            best_spec = spec;
        }
    }
    if (best) {
        if (req) {
            match(best->pattern, path, req);
            param_names(best, req);
        }
        *out = best;
        return ROUTER_OK;
    }
    if (!path_matched) return ROUTER_NOT_FOUND;
    if (!allowcap) return ROUTER_METHOD_NOT_ALLOWED; /* no room for Allow (allow may be NULL) */
    size_t used = 0;
    allow[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        if (match(routes[i].pattern, path, NULL) < 0) continue;
        if (strstr(allow, routes[i].method)) continue;
        int w = snprintf(allow + used, allowcap - used, "%s%s", used ? ", " : "", routes[i].method);
        if (w < 0 || (size_t)w >= allowcap - used) break;
        used += (size_t)w;
    }
    return ROUTER_METHOD_NOT_ALLOWED;
}
