/* jw: a small JSON writer into a growable buffer with a cap.
 *
 * Answers are written with it rather than with json_dumps() because the API
 * fixes how numbers look (shortest round-trip, `500` not `500.0`) and how
 * date-times look; jansson's dumper can do neither. Commas are inserted by
 * the writer itself, so callers only say begin/key/value/end. */
#ifndef ENTITLED_JW_H
#define ENTITLED_JW_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Nesting has no limit of its own: a body nests as deep as the reader
 * accepts (serve --max-json-depth, up to 10000), is stored as the writer
 * writes it, and a 422 echoes it three levels further down
 * ({"detail":[{"input": ...}]}). A fixed depth here made a deep body a 500
 * when the flag was raised past it (issue 12). The first JW_INLINE_DEPTH
 * levels keep their comma flag in the writer, deeper ones in `deep`, grown
 * as needed and freed with the buffer. */
#define JW_INLINE_DEPTH 72

typedef struct {
    char *buf;
    size_t len, cap, max;
    int depth;
    bool need_comma[JW_INLINE_DEPTH];
    bool *deep; /* need_comma of levels JW_INLINE_DEPTH and deeper */
    size_t deep_cap;
    bool after_key; /* a key was written; its value comes next */
    bool failed;    /* out of memory or past `max`: the text is unusable */
} jw;

void jw_init(jw *w, size_t max);
void jw_free(jw *w);
/* Hand the buffer over (NUL-terminated); the writer is then empty. NULL if failed. */
char *jw_take(jw *w, size_t *len);

void jw_obj_begin(jw *w);
void jw_obj_end(jw *w);
void jw_arr_begin(jw *w);
void jw_arr_end(jw *w);
void jw_key(jw *w, const char *key);
void jw_keyn(jw *w, const char *key, size_t n);
void jw_str(jw *w, const char *s);
void jw_strn(jw *w, const char *s, size_t n);
void jw_num(jw *w, double v);
void jw_int(jw *w, int64_t v);
void jw_bool(jw *w, bool v);
void jw_null(jw *w);
void jw_time(jw *w, int64_t t);              /* a date-time instant, as dt_format writes it */
void jw_raw(jw *w, const char *s, size_t n); /* pre-formed JSON text */
/* Any jansson value; reals are written shortest, pyjson's big-number
 * stand-ins as their literal text. */
void jw_value(jw *w, const json_t *v);

/* Key + value shorthands for object members. */
void jw_kstr(jw *w, const char *key, const char *s); /* NULL writes null */
void jw_knum(jw *w, const char *key, double v);
void jw_kbool(jw *w, const char *key, bool v);
void jw_knull(jw *w, const char *key);

#endif
