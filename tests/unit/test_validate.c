/* The seed PATCH's validation against every vector of
 * tests/vectors/patch.json (made by tools/gen_vectors.py from pydantic):
 * the body read as FastAPI reads it, then the path and body checks, must give
 * exactly the expected status and detail, or, for a valid request, the patch
 * the vector expects. The API tests send the same vectors over HTTP. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "api/api.h"
#include "domain/dt.h"
#include "util/jw.h"
#include "validate/pyjson.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define VECTORS ENTITLED_SOURCE_DIR "/tests/vectors/patch.json"

/* The three ids the placeholders stand for, and their other spellings. */
static const char *const IDS[3][2] = {
    {"E", "e1ab2c3d-4e5f-4a6b-8c7d-9e0fa1b2c3d4"},
    {"C", "c2ab3c4d-5e6f-4a7b-8c9d-0e1fa2b3c4d5"},
    {"R", "a3ab4c5d-6e7f-4a8b-9cad-1e2fa3b4c5d6"},
};

static void spell(const char *id, const char *form, char *out, size_t cap) {
    if (strcmp(form, "upper") == 0) {
        size_t i;
        for (i = 0; id[i] && i + 1 < cap; i++)
            out[i] = (char)(id[i] >= 'a' && id[i] <= 'f' ? id[i] - 32 : id[i]);
        out[i] = '\0';
    } else if (strcmp(form, "simple") == 0) {
        size_t n = 0;
        for (size_t i = 0; id[i] && n + 1 < cap; i++)
            if (id[i] != '-') out[n++] = id[i];
        out[n] = '\0';
    } else if (strcmp(form, "urn") == 0) {
        snprintf(out, cap, "urn:uuid:%s", id);
    } else {
        snprintf(out, cap, "{%s}", id);
    }
}

/* Replace {E}, {C}, {R} and {X:form} in `s`; the result is heap memory. */
static char *subst(const char *s) {
    size_t cap = strlen(s) * 2 + 256, n = 0;
    char *out = malloc(cap);
    assert_non_null(out);
    for (const char *p = s; *p;) {
        bool done = false;
        for (int k = 0; k < 3 && !done; k++) {
            char tok[16], rep[64];
            const char *forms[] = {NULL, "upper", "simple", "urn", "braced"};
            for (int f = 0; f < 5 && !done; f++) {
                if (forms[f])
                    snprintf(tok, sizeof tok, "{%s:%s}", IDS[k][0], forms[f]);
                else
                    snprintf(tok, sizeof tok, "{%s}", IDS[k][0]);
                if (strncmp(p, tok, strlen(tok)) != 0) continue;
                if (forms[f])
                    spell(IDS[k][1], forms[f], rep, sizeof rep);
                else
                    snprintf(rep, sizeof rep, "%s", IDS[k][1]);
                size_t rl = strlen(rep);
                if (n + rl + 1 > cap) out = realloc(out, cap = (cap + rl) * 2);
                memcpy(out + n, rep, rl);
                n += rl;
                p += strlen(tok);
                done = true;
            }
        }
        if (done) continue;
        if (n + 2 > cap) out = realloc(out, cap *= 2);
        out[n++] = *p++;
    }
    out[n] = '\0';
    return out;
}

static size_t b64_decode(const char *in, unsigned char *out) {
    static const char A[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t n = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (; *in && *in != '='; in++) {
        const char *q = strchr(A, *in);
        if (!q) continue;
        acc = acc << 6 | (uint32_t)(q - A);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[n++] = (unsigned char)(acc >> bits);
        }
    }
    return n;
}

/* Equal as the tests compare: numbers by value, big numbers by their text,
 * objects regardless of key order. */
static bool same(const json_t *a, const json_t *b) {
    const char *ba = pyjson_big_text(a), *bb = pyjson_big_text(b);
    if (ba || bb) return ba && bb && strcmp(ba, bb) == 0;
    if (json_is_number(a) && json_is_number(b)) return json_number_value(a) == json_number_value(b);
    if (json_typeof(a) != json_typeof(b)) return false;
    if (json_is_array(a)) {
        if (json_array_size(a) != json_array_size(b)) return false;
        for (size_t i = 0; i < json_array_size(a); i++)
            if (!same(json_array_get(a, i), json_array_get(b, i))) return false;
        return true;
    }
    if (json_is_object(a)) {
        if (json_object_size(a) != json_object_size(b)) return false;
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)a, k, v) {
            json_t *w = json_object_get(b, k);
            if (!w || !same(v, w)) return false;
        }
        return true;
    }
    return json_equal((json_t *)a, (json_t *)b);
}

static char *text_of(const json_t *v) {
    jw w;
    jw_init(&w, 1u << 22);
    jw_value(&w, v);
    return jw_take(&w, NULL);
}

/* The expected 422 detail, placeholders replaced, parsed with pyjson so big
 * numbers come out as in our own answer. */
static json_t *expected_detail(const json_t *vec) {
    const json_t *dt = json_object_get(vec, "detail_text");
    char *raw = dt ? strdup(json_string_value(dt)) : text_of(json_object_get(vec, "detail"));
    char *s = subst(raw);
    json_t *out = NULL;
    pyjson_error e;
    assert_int_equal(pyjson_parse(s, strlen(s), &out, &e), PYJSON_OK);
    free(raw);
    free(s);
    return out;
}

static bool check_expect(const json_t *expect, const char *ent, const char *cust, const char *id,
                         const model_grant_patch *p, char *why, size_t cap) {
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)expect, k, v) {
        const char *have_id = strcmp(k, "id") == 0            ? id
                              : strcmp(k, "entitlement") == 0 ? ent
                              : strcmp(k, "customer") == 0    ? cust
                                                              : NULL;
        if (have_id) {
            char *want = subst(json_string_value(v));
            bool ok = strcmp(want, have_id) == 0;
            free(want);
            if (!ok) return snprintf(why, cap, "%s differs: %s", k, have_id), false;
            continue;
        }
        bool is_time = strcmp(k, "expiry_at") == 0 || strcmp(k, "active_from") == 0;
        unsigned bit = strcmp(k, "active_from") == 0     ? GRANT_F_ACTIVE_FROM
                       : strcmp(k, "expiry_at") == 0     ? GRANT_F_EXPIRY_AT
                       : strcmp(k, "quantity") == 0      ? GRANT_F_QUANTITY
                       : strcmp(k, "quantity_used") == 0 ? GRANT_F_QUANTITY_USED
                                                         : 0;
        if (!(p->fields & bit)) return snprintf(why, cap, "%s not in the patch", k), false;
        if (is_time) {
            opt_time t = bit == GRANT_F_ACTIVE_FROM ? p->active_from : p->expiry_at;
            char buf[DT_FORMAT_MAX] = "null";
            if (t.set) dt_format(t.v, buf);
            const char *want = json_is_null(v) ? "null" : json_string_value(v);
            if (strcmp(buf, want) != 0)
                return snprintf(why, cap, "%s: %s, want %s", k, buf, want), false;
        } else {
            /* a quantity is the exact decimal of the vector's double */
            opt_dec q = bit == GRANT_F_QUANTITY ? p->quantity : p->quantity_used;
            dec want = 0;
            bool ok = json_is_null(v)
                          ? !q.set
                          : q.set && dec_from_double(json_number_value(v), &want) == DEC_OK &&
                                q.v == want;
            if (!ok)
                return snprintf(why, cap, "%s: %lld millionths, want %s", k, (long long)q.v,
                                json_is_null(v) ? "null" : "a number"),
                       false;
        }
    }
    return true;
}

static void test_vectors(void **state) {
    (void)state;
    json_error_t jerr;
    json_t *doc = json_load_file(VECTORS, 0, &jerr);
    if (!doc) fail_msg("cannot read %s: %s", VECTORS, jerr.text);
    json_t *vectors = json_object_get(doc, "vectors");
    size_t i, failed = 0;
    json_t *vec;
    assert_true(json_array_size(vectors) >= 60);
    json_array_foreach(vectors, i, vec) {
        const char *name = json_string_value(json_object_get(vec, "name"));
        int want_status = (int)json_integer_value(json_object_get(vec, "status"));
        json_t *path = json_object_get(vec, "path");
        char *ps[3];
        const char *pn[3] = {"entitlement_id", "customer_id", "ec_id"};
        for (int k = 0; k < 3; k++)
            ps[k] = subst(json_string_value(json_object_get(path, pn[k])));
        char *body;
        size_t blen;
        const json_t *b64 = json_object_get(vec, "body_b64");
        if (b64) {
            body = malloc(strlen(json_string_value(b64)) + 1);
            blen = b64_decode(json_string_value(b64), (unsigned char *)body);
        } else {
            body = subst(json_string_value(json_object_get(vec, "body")));
            blen = strlen(body);
        }
        json_t *parsed = NULL, *errors = NULL;
        const char *detail = NULL;
        unsigned status =
            api_body_parse(blen ? body : NULL, blen, "application/json", &parsed, &errors, &detail);
        char ent[ID_BUF], cust[ID_BUF], id[ID_BUF], why[2048] = "";
        model_grant_patch p;
        if (status == 0) {
            const json_t *ai, *ei;
            errors =
                api_grant_patch_check(ps[0], ps[1], ps[2], parsed, ent, cust, id, &p, &ai, &ei);
            status = json_array_size(errors) ? 422 : 200;
        }
        bool ok = (int)status == want_status;
        if (!ok) snprintf(why, sizeof why, "status %u, want %d", status, want_status);
        if (ok && status == 400) {
            ok = detail && strcmp(detail, json_string_value(json_object_get(vec, "detail"))) == 0;
            if (!ok) snprintf(why, sizeof why, "400 detail '%s'", detail ? detail : "(none)");
        } else if (ok && status == 422) {
            json_t *want = expected_detail(vec);
            ok = same(errors, want);
            if (!ok) {
                char *got = text_of(errors), *exp = text_of(want);
                snprintf(why, sizeof why, "\n    got  %.900s\n    want %.900s", got, exp);
                free(got);
                free(exp);
            }
            json_decref(want);
        } else if (ok && status == 200) {
            ok = check_expect(json_object_get(vec, "expect"), ent, cust, id, &p, why, sizeof why);
        }
        if (!ok) {
            failed++;
            print_message("vector %zu '%s': %s\n", i, name, why);
        }
        json_decref(errors);
        json_decref(parsed);
        free(body);
        for (int k = 0; k < 3; k++)
            free(ps[k]);
    }
    print_message("%zu vectors, %zu failed\n", json_array_size(vectors), failed);
    json_decref(doc);
    assert_int_equal(failed, 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_vectors)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
