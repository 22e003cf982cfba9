/* Checks shared by the fuzz targets (fuzz/fuzz_*.c). A failed CHECK aborts,
 * which libFuzzer reports as a crash and saves the input. */
#ifndef ENTITLED_FUZZ_COMMON_H
#define ENTITLED_FUZZ_COMMON_H

#include "util/jw.h"
#include "validate/pyjson.h"

#include <jansson.h>
#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);               \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* Strict UTF-8: no overlong forms, no surrogates, nothing past U+10FFFF. */
static inline bool fz_utf8_valid(const char *str, size_t n) {
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    while (i < n) {
        unsigned char c = s[i];
        size_t k;
        unsigned cp;
        if (c < 0x80) {
            i++;
            continue;
        }
        if (c >= 0xC2 && c <= 0xDF)
            k = 2, cp = c & 0x1F;
        else if (c >= 0xE0 && c <= 0xEF)
            k = 3, cp = c & 0x0F;
        else if (c >= 0xF0 && c <= 0xF4)
            k = 4, cp = c & 0x07;
        else
            return false;
        if (n - i < k) return false;
        for (size_t j = 1; j < k; j++) {
            if ((s[i + j] & 0xC0) != 0x80) return false;
            cp = cp << 6 | (s[i + j] & 0x3F);
        }
        if ((k == 3 && cp < 0x800) || (k == 4 && (cp < 0x10000 || cp > 0x10FFFF))) return false;
        if (cp >= 0xD800 && cp <= 0xDFFF) return false;
        i += k;
    }
    return true;
}

/* The operation ids of the list routes (api_list_spec() knows each), picked
 * by an input byte modulo their count. */
static inline const char *fz_list_id(unsigned char b) {
    static const char *const LISTS[] = {
        "List-entitlements",
        "List-customers-with-filtering-and-pagination",
        "List-customer-entitlements",
        "List-unique-entitlements-for-customer",
        "List-customer-entitlement-balances-with-advanced-filtering",
        "List-customer-ledger",
    };
    return LISTS[b % (sizeof LISTS / sizeof LISTS[0])];
}

/* Two values alike as a JSON reader sees them: numbers by value (the writer
 * puts 500.0 as 500), big-number stand-ins by their text. */
static inline bool fz_json_same(const json_t *a, const json_t *b) {
    const char *ba = pyjson_big_text(a), *bb = pyjson_big_text(b);
    if (ba || bb) return ba && bb && strcmp(ba, bb) == 0;
    if (json_is_number(a) && json_is_number(b)) return json_number_value(a) == json_number_value(b);
    if (json_typeof(a) != json_typeof(b)) return false;
    switch (json_typeof(a)) {
    case JSON_OBJECT: {
        if (json_object_size(a) != json_object_size(b)) return false;
        const char *k;
        size_t klen;
        json_t *m;
        json_object_keylen_foreach((json_t *)a, k, klen, m) {
            json_t *o = json_object_getn(b, k, klen);
            if (!o || !fz_json_same(m, o)) return false;
        }
        return true;
    }
    case JSON_ARRAY: {
        if (json_array_size(a) != json_array_size(b)) return false;
        for (size_t i = 0; i < json_array_size(a); i++)
            if (!fz_json_same(json_array_get(a, i), json_array_get(b, i))) return false;
        return true;
    }
    case JSON_STRING:
        return json_string_length(a) == json_string_length(b) &&
               memcmp(json_string_value(a), json_string_value(b), json_string_length(a)) == 0;
    default:
        return true; /* true, false, null */
    }
}

/* Brackets around the deepest value of `v` (a scalar: 0). Stand-ins for
 * big numbers count as the number they are. */
static inline size_t fz_json_depth(const json_t *v) {
    size_t d = 0;
    if (pyjson_big_text(v)) return 0;
    if (json_is_object(v)) {
        const char *k;
        json_t *m;
        json_object_foreach((json_t *)v, k, m) {
            size_t dm = fz_json_depth(m);
            if (dm > d) d = dm;
        }
        return d + 1;
    }
    if (json_is_array(v)) {
        size_t i;
        json_t *m;
        json_array_foreach((json_t *)v, i, m) {
            size_t dm = fz_json_depth(m);
            if (dm > d) d = dm;
        }
        return d + 1;
    }
    return 0;
}

/* A list of FastAPI detail items as the API answers them: each has a type,
 * a loc beginning with `where` ("body", "query", "path"), a msg and an input
 * (ctx optional); and the 422 answer made of them, written as
 * api_reply_errors() writes it (jw, 4 MiB cap), must be built and be JSON
 * that reads back to the same items. */
static inline void fz_check_errors(const json_t *errors, const char *where) {
    CHECK(json_is_array(errors));
    size_t i;
    const json_t *e;
    json_array_foreach(errors, i, e) {
        CHECK(json_is_object(e));
        const json_t *type = json_object_get(e, "type"), *loc = json_object_get(e, "loc");
        const json_t *msg = json_object_get(e, "msg"), *ctx = json_object_get(e, "ctx");
        CHECK(json_is_string(type) && json_string_length(type) > 0);
        CHECK(json_is_string(msg) && json_string_length(msg) > 0);
        CHECK(fz_utf8_valid(json_string_value(msg), json_string_length(msg)));
        CHECK(json_object_get(e, "input") != NULL);
        CHECK(!ctx || json_is_object(ctx));
        CHECK(json_is_array(loc) && json_array_size(loc) >= 1);
        CHECK(json_is_string(json_array_get(loc, 0)) &&
              strcmp(json_string_value(json_array_get(loc, 0)), where) == 0);
        for (size_t k = 1; k < json_array_size(loc); k++) {
            const json_t *part = json_array_get(loc, k);
            CHECK(json_is_integer(part) || json_is_string(part));
        }
    }
    jw w;
    jw_init(&w, 4u << 20);
    jw_obj_begin(&w);
    jw_key(&w, "detail");
    jw_value(&w, errors);
    jw_obj_end(&w);
    size_t len = 0;
    char *text = jw_take(&w, &len);
    CHECK(text != NULL); /* else the client gets a 500 instead of its 422 */
    /* read back, unless it nests deeper than pyjson reads (an echo of a
     * body that deep) */
    if (1 + fz_json_depth(errors) <= PYJSON_MAX_DEPTH) {
        json_t *back = NULL;
        pyjson_error perr;
        CHECK(pyjson_parse(text, len, &back, &perr) == PYJSON_OK);
        CHECK(fz_json_same(json_object_get(back, "detail"), errors));
        json_decref(back);
    }
    free(text);
}

#endif
