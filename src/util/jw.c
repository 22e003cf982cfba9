#include "util/jw.h"

#include "domain/dt.h"
#include "domain/num.h"
#include "validate/pyjson.h"

#include <stdlib.h>
#include <string.h>

void jw_init(jw *w, size_t max) {
    memset(w, 0, sizeof(*w));
    w->max = max;
}

void jw_free(jw *w) {
    free(w->buf);
    free(w->deep);
    memset(w, 0, sizeof(*w));
}

char *jw_take(jw *w, size_t *len) {
    if (w->failed || !w->buf) {
        jw_free(w);
        return NULL;
    }
    char *b = w->buf;
    if (len) *len = w->len;
    w->buf = NULL;
    jw_free(w);
    return b;
}

static void put(jw *w, const char *s, size_t n) {
    if (w->failed) return;
    if (w->len + n + 1 > w->cap) {
        size_t cap = w->cap ? w->cap : 256;
        while (cap < w->len + n + 1)
            cap *= 2;
        if (cap > w->max + 1) cap = w->max + 1;
        if (w->len + n + 1 > cap) {
            w->failed = true;
            return;
        }
        char *nb = realloc(w->buf, cap);
        if (!nb) {
            w->failed = true;
            return;
        }
        w->buf = nb;
        w->cap = cap;
    }
    memcpy(w->buf + w->len, s, n);
    w->len += n;
    w->buf[w->len] = '\0';
}

/* The comma flag of the current level; levels past the inline ones are
 * in `deep`, which open() has grown to hold them. */
static bool *need_comma(jw *w) {
    int d = w->depth;
    return d < JW_INLINE_DEPTH ? &w->need_comma[d] : &w->deep[d - JW_INLINE_DEPTH];
}

/* Before any value: a comma if the container already holds one, unless a
 * key was just written (the key wrote the comma). */
static void before_value(jw *w) {
    if (w->after_key) {
        w->after_key = false;
        return;
    }
    bool *nc = need_comma(w);
    if (w->depth > 0 && *nc) put(w, ",", 1);
    *nc = true;
}

static void open(jw *w, char c) {
    before_value(w);
    put(w, &c, 1);
    if (w->failed) return;
    size_t level = (size_t)w->depth + 1;
    if (level >= JW_INLINE_DEPTH && level - JW_INLINE_DEPTH >= w->deep_cap) {
        size_t cap = w->deep_cap ? w->deep_cap * 2 : 64;
        bool *nd = realloc(w->deep, cap * sizeof *nd);
        if (!nd) {
            w->failed = true;
            return;
        }
        w->deep = nd;
        w->deep_cap = cap;
    }
    w->depth++;
    *need_comma(w) = false;
    w->after_key = false;
}

static void close_(jw *w, char c) {
    put(w, &c, 1);
    if (w->depth > 0) w->depth--;
}

void jw_obj_begin(jw *w) {
    open(w, '{');
}
void jw_obj_end(jw *w) {
    close_(w, '}');
}
void jw_arr_begin(jw *w) {
    open(w, '[');
}
void jw_arr_end(jw *w) {
    close_(w, ']');
}

static void put_escaped(jw *w, const char *s, size_t n) {
    static const char hex[] = "0123456789abcdef";
    put(w, "\"", 1);
    size_t start = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\') continue;
        put(w, s + start, i - start);
        start = i + 1;
        switch (c) {
        case '"':
            put(w, "\\\"", 2);
            break;
        case '\\':
            put(w, "\\\\", 2);
            break;
        case '\n':
            put(w, "\\n", 2);
            break;
        case '\r':
            put(w, "\\r", 2);
            break;
        case '\t':
            put(w, "\\t", 2);
            break;
        case '\b':
            put(w, "\\b", 2);
            break;
        case '\f':
            put(w, "\\f", 2);
            break;
        default: {
            char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            put(w, e, 6);
        }
        }
    }
    put(w, s + start, n - start);
    put(w, "\"", 1);
}

void jw_keyn(jw *w, const char *key, size_t n) {
    bool *nc = need_comma(w);
    if (*nc) put(w, ",", 1);
    *nc = true;
    put_escaped(w, key, n);
    put(w, ":", 1);
    w->after_key = true;
}

void jw_key(jw *w, const char *key) {
    jw_keyn(w, key, strlen(key));
}

void jw_strn(jw *w, const char *s, size_t n) {
    before_value(w);
    put_escaped(w, s, n);
}

void jw_str(jw *w, const char *s) {
    jw_strn(w, s, strlen(s));
}

void jw_raw(jw *w, const char *s, size_t n) {
    before_value(w);
    put(w, s, n);
}

void jw_num(jw *w, double v) {
    char b[NUM_FORMAT_MAX];
    size_t n = num_format(v, b);
    jw_raw(w, b, n);
}

void jw_int(jw *w, int64_t v) {
    char b[24];
    int n = snprintf(b, sizeof b, "%lld", (long long)v);
    jw_raw(w, b, (size_t)n);
}

void jw_bool(jw *w, bool v) {
    jw_raw(w, v ? "true" : "false", v ? 4 : 5);
}
void jw_null(jw *w) {
    jw_raw(w, "null", 4);
}

void jw_time(jw *w, int64_t t) {
    char b[DT_FORMAT_MAX];
    size_t n = dt_format(t, b);
    jw_strn(w, b, n);
}

void jw_value(jw *w, const json_t *v) {
    const char *big = pyjson_big_text(v);
    if (big) {
        jw_raw(w, big, strlen(big));
        return;
    }
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        const char *k;
        size_t klen;
        json_t *m;
        jw_obj_begin(w);
        void *it = json_object_iter((json_t *)v);
        for (; it; it = json_object_iter_next((json_t *)v, it)) {
            k = json_object_iter_key(it);
            klen = json_object_iter_key_len(it);
            m = json_object_iter_value(it);
            jw_keyn(w, k, klen);
            jw_value(w, m);
        }
        jw_obj_end(w);
        break;
    }
    case JSON_ARRAY: {
        size_t i;
        json_t *m;
        jw_arr_begin(w);
        json_array_foreach((json_t *)v, i, m) jw_value(w, m);
        jw_arr_end(w);
        break;
    }
    case JSON_STRING:
        jw_strn(w, json_string_value(v), json_string_length(v));
        break;
    case JSON_INTEGER:
        jw_int(w, (int64_t)json_integer_value(v));
        break;
    case JSON_REAL:
        jw_num(w, json_real_value(v));
        break;
    case JSON_TRUE:
        jw_bool(w, true);
        break;
    case JSON_FALSE:
        jw_bool(w, false);
        break;
    default:
        jw_null(w);
        break;
    }
}

void jw_kstr(jw *w, const char *key, const char *s) {
    jw_key(w, key);
    if (s)
        jw_str(w, s);
    else
        jw_null(w);
}
void jw_knum(jw *w, const char *key, double v) {
    jw_key(w, key);
    jw_num(w, v);
}
void jw_kbool(jw *w, const char *key, bool v) {
    jw_key(w, key);
    jw_bool(w, v);
}
void jw_knull(jw *w, const char *key) {
    jw_key(w, key);
    jw_null(w);
}
