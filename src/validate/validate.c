#include "validate/validate.h"

#include "domain/dt.h"
#include "domain/num.h"
#include "domain/uid.h"
#include "validate/email.h"
#include "validate/pyjson.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void validate_error(json_t *errors, const char *type, json_t *loc, const char *msg,
                    const json_t *input, json_t *ctx) {
    json_t *e = json_object();
    if (!e) {
        json_decref(loc);
        json_decref(ctx);
        return;
    }
    json_object_set_new(e, "type", json_string(type));
    json_object_set_new(e, "loc", loc);
    json_object_set_new(e, "msg", json_string(msg));
    json_object_set_new(e, "input", input ? json_incref((json_t *)input) : json_null());
    if (ctx) json_object_set_new(e, "ctx", ctx);
    json_array_append_new(errors, e);
}

json_t *validate_loc(const char *first, ...) {
    json_t *loc = json_array();
    va_list ap;
    va_start(ap, first);
    for (const char *p = first; p; p = va_arg(ap, const char *))
        json_array_append_new(loc, json_string(p));
    va_end(ap);
    return loc;
}

/* loc prefix + one more part (a name, or an index when name is NULL). */
static json_t *loc_with(const json_t *prefix, const char *name, size_t index) {
    json_t *loc = json_copy((json_t *)prefix);
    if (!loc) return json_array();
    json_array_append_new(loc, name ? json_string(name) : json_integer((json_int_t)index));
    return loc;
}

static void err(json_t *errors, const json_t *prefix, const vfield *f, const char *type,
                const char *msg, const json_t *input, json_t *ctx) {
    validate_error(errors, type, loc_with(prefix, f->name, 0), msg, input, ctx);
}

static json_t *ctx_error(const char *text) {
    json_t *c = json_object();
    json_object_set_new(c, "error", json_string(text));
    return c;
}

/* A JSON object, and not pyjson's stand-in for a big number (an object
 * underneath, pyjson.h): 1e400 is no dict or model. */
static bool is_object(const json_t *v) {
    return json_is_object(v) && !pyjson_is_big(v);
}

/* UTF-8 code points in a string, as Python's len() counts them. */
static size_t utf8_len(const char *s, size_t n) {
    size_t cps = 0;
    for (size_t i = 0; i < n; i++)
        if (((unsigned char)s[i] & 0xC0) != 0x80) cps++;
    return cps;
}

static void check_str(const json_t *v, const vfield *f, vval *out, json_t *errors,
                      const json_t *loc) {
    if (!json_is_string(v)) {
        err(errors, loc, f, "string_type", "Input should be a valid string", v, NULL);
        return;
    }
    out->s = json_string_value(v);
    out->len = json_string_length(v);
    if (f->max_length && utf8_len(out->s, out->len) > f->max_length) {
        char msg[96];
        snprintf(msg, sizeof msg, "String should have at most %zu characters", f->max_length);
        json_t *ctx = json_object();
        json_object_set_new(ctx, "max_length", json_integer((json_int_t)f->max_length));
        err(errors, loc, f, "string_too_long", msg, v, ctx);
        return;
    }
    out->ok = true;
}

/* A string, then EmailStr's check: the value becomes the normalised
 * address; a refusal is pydantic's value_error with ctx {"reason"}. */
static void check_email(const json_t *v, const vfield *f, vval *out, json_t *errors,
                        const json_t *loc) {
    check_str(v, f, out, errors, loc);
    if (!out->ok) return;
    out->ok = false;
    static _Thread_local char reason[EMAIL_REASON_BUF];
    size_t n = 0, rlen = 0;
    int rc = email_check(out->s, out->len, out->email, &n, reason, &rlen);
    if (rc == 0) {
        out->s = out->email;
        out->len = n;
        out->ok = true;
        return;
    }
    if (rc == -2) {
        /* out of memory: not the client's mistake, and not ok either, so
         * nothing unchecked is stored (validate_oom) */
        out->oom = true;
        return;
    }
    static const char head[] = "value is not a valid email address: ";
    char *msg = malloc(sizeof head + rlen);
    json_t *ctx = json_object();
    if (msg) {
        memcpy(msg, head, sizeof head - 1);
        memcpy(msg + sizeof head - 1, reason, rlen);
    }
    json_object_set_new(ctx, "reason", json_stringn(reason, rlen));
    err(errors, loc, f, "value_error", head, v, ctx);
    /* the reason may quote U+0000: msg is set with its length */
    if (msg)
        json_object_set_new(json_array_get(errors, json_array_size(errors) - 1), "msg",
                            json_stringn(msg, sizeof head - 1 + rlen));
    free(msg);
}

/* A number from any JSON value, pydantic's lax float. Returns 0 on success,
 * else the error type was reported. */
static void check_num(const json_t *v, const vfield *f, vval *out, json_t *errors,
                      const json_t *loc) {
    double d;
    const char *big = pyjson_big_text(v);
    if (big) {
        /* Past int64 or past a double. An integer literal Python holds
         * exactly; pydantic then fails to make a float of it only when it
         * overflows ("float_type"). A real literal that overflows is inf. */
        d = strtod(big, NULL);
        if (isinf(d) && pyjson_big_is_integer(v)) {
            err(errors, loc, f, "float_type", "Input should be a valid number", v, NULL);
            return;
        }
    } else if (json_is_integer(v)) {
        d = (double)json_integer_value(v);
    } else if (json_is_real(v)) {
        d = json_real_value(v);
    } else if (json_is_true(v) || json_is_false(v)) {
        d = json_is_true(v) ? 1.0 : 0.0;
    } else if (json_is_string(v)) {
        if (num_parse_str(json_string_value(v), json_string_length(v), &d) != 0) {
            err(errors, loc, f, "float_parsing",
                "Input should be a valid number, unable to parse string as a number", v, NULL);
            return;
        }
    } else {
        err(errors, loc, f, "float_type", "Input should be a valid number", v, NULL);
        return;
    }
    if (!isfinite(d)) {
        err(errors, loc, f, "finite_number", "Input should be a finite number", v, NULL);
        return;
    }
    if (f->type == V_NUM_NONNEG && !(d >= 0)) {
        json_t *ctx = json_object();
        json_object_set_new(ctx, "ge", json_integer(0));
        err(errors, loc, f, "greater_than_equal", "Input should be greater than or equal to 0", v,
            ctx);
        return;
    }
    if (f->quantity) {
        dec_rc rc = dec_from_double(d, &out->qty);
        if (rc == DEC_ERR_PLACES) {
            err(errors, loc, f, "decimal_max_places",
                "Decimal input should have no more than 6 decimal places", v,
                json_pack("{s:i}", "decimal_places", DEC_PLACES));
            return;
        }
        if (rc != DEC_OK) {
            err(errors, loc, f, "decimal_whole_digits",
                "Decimal input should have no more than 12 digits before the decimal point", v,
                json_pack("{s:i}", "whole_digits", DEC_WHOLE_DIGITS));
            return;
        }
    }
    out->num = d;
    out->ok = true;
}

static void time_err(json_t *errors, const json_t *loc, const vfield *f, const json_t *v,
                     const dt_error *e) {
    err(errors, loc, f, e->type, e->msg, v, e->ctx_error[0] ? ctx_error(e->ctx_error) : NULL);
}

static void check_time(const json_t *v, const vfield *f, vval *out, json_t *errors,
                       const json_t *loc) {
    dt_error e;
    int rc;
    const char *big = pyjson_big_text(v);
    if (big) {
        if (pyjson_big_is_integer(v))
            rc = dt_from_int_text(big, strlen(big), &out->time, &e);
        else
            rc = dt_from_double(strtod(big, NULL), &out->time, &e);
    } else if (json_is_string(v)) {
        rc = dt_parse_str(json_string_value(v), json_string_length(v), &out->time, &e);
    } else if (json_is_integer(v)) {
        rc = dt_from_int((int64_t)json_integer_value(v), &out->time, &e);
    } else if (json_is_real(v)) {
        rc = dt_from_double(json_real_value(v), &out->time, &e);
    } else {
        err(errors, loc, f, "datetime_type", "Input should be a valid datetime", v, NULL);
        return;
    }
    if (rc != 0) {
        time_err(errors, loc, f, v, &e);
        return;
    }
    /* pydantic keeps an offset that moves an instant out of years 1-9999
     * ("9999-12-31T23:59:59-01:00"); stored as UTC it could not be written
     * back as RFC 3339, so it is refused. */
    if (out->time < DT_MIN_INSTANT || out->time > DT_MAX_INSTANT) {
        err(errors, loc, f, "value_error",
            "Value error, the instant must fall within years 0001 to 9999 in UTC", v, NULL);
        return;
    }
    out->ok = true;
}

static void check_uuid(const json_t *v, const vfield *f, vval *out, json_t *errors,
                       const json_t *loc) {
    if (!json_is_string(v)) {
        err(errors, loc, f, "uuid_type", "UUID input should be a string, bytes or UUID object", v,
            NULL);
        return;
    }
    char e[160], msg[224];
    size_t elen = 0;
    uid_t16 u;
    if (uid_parse_ex(json_string_value(v), json_string_length(v), &u, e, sizeof e, &elen) != 0) {
        /* The explanation may quote U+0000 ("found `\0` at 1", as pydantic
         * says it): its length, not a NUL, ends it in msg and ctx.error. */
        static const char head[] = "Input should be a valid UUID, ";
        memcpy(msg, head, sizeof head - 1);
        memcpy(msg + sizeof head - 1, e, elen); /* elen < sizeof e */
        json_t *ctx = json_object();
        json_object_set_new(ctx, "error", json_stringn(e, elen));
        err(errors, loc, f, "uuid_parsing", head, v, ctx);
        json_object_set_new(json_array_get(errors, json_array_size(errors) - 1), "msg",
                            json_stringn(msg, sizeof head - 1 + elen));
        return;
    }
    uid_format(&u, out->uuid);
    out->ok = true;
}

/* pydantic's lax bool: true/false, 0/1 (also as reals), and the words below
 * in any case. */
static void check_bool(const json_t *v, const vfield *f, vval *out, json_t *errors,
                       const json_t *loc) {
    static const char *const T[] = {"1", "on", "t", "true", "y", "yes", NULL};
    static const char *const F[] = {"0", "off", "f", "false", "n", "no", NULL};
    int b = -1;
    if (json_is_boolean(v)) {
        b = json_is_true(v);
    } else if (json_is_integer(v) || json_is_real(v)) {
        double d = json_number_value(v);
        if (d == 0)
            b = 0;
        else if (d == 1)
            b = 1;
    } else if (json_is_string(v)) {
        const char *s = json_string_value(v);
        size_t n = json_string_length(v);
        for (int i = 0; T[i] && b < 0; i++)
            if (strlen(T[i]) == n && strncasecmp(s, T[i], n) == 0) b = 1;
        for (int i = 0; F[i] && b < 0; i++)
            if (strlen(F[i]) == n && strncasecmp(s, F[i], n) == 0) b = 0;
    } else if (!pyjson_big_text(v)) {
        err(errors, loc, f, "bool_type", "Input should be a valid boolean", v, NULL);
        return;
    }
    if (b < 0) {
        err(errors, loc, f, "bool_parsing",
            "Input should be a valid boolean, unable to interpret input", v, NULL);
        return;
    }
    out->b = b;
    out->ok = true;
}

static void check_enum(const json_t *v, const vfield *f, vval *out, json_t *errors,
                       const json_t *loc) {
    if (json_is_string(v)) {
        for (int i = 0; f->choices[i]; i++) {
            if (strlen(f->choices[i]) == json_string_length(v) &&
                memcmp(f->choices[i], json_string_value(v), json_string_length(v)) == 0) {
                out->s = f->choices[i];
                out->len = strlen(f->choices[i]);
                out->ok = true;
                return;
            }
        }
    }
    /* "'A', 'B' or 'C'", as pydantic lists the members */
    char expected[256] = "";
    size_t n = 0;
    for (int i = 0; f->choices[i]; i++) {
        const char *sep = i == 0 ? "" : f->choices[i + 1] ? ", " : " or ";
        n += (size_t)snprintf(expected + n, sizeof expected - n, "%s'%s'", sep, f->choices[i]);
        if (n >= sizeof expected) break;
    }
    char msg[300];
    snprintf(msg, sizeof msg, "Input should be %s", expected);
    json_t *ctx = json_object();
    json_object_set_new(ctx, "expected", json_string(expected));
    err(errors, loc, f, "enum", msg, v, ctx);
}

static void check_model(const json_t *v, const vfield *f, const char *name, size_t index,
                        json_t *errors, const json_t *loc) {
    if (!is_object(v)) {
        char msg[160];
        snprintf(msg, sizeof msg, "Input should be a valid dictionary or instance of %s",
                 f->class_name);
        json_t *ctx = json_object();
        json_object_set_new(ctx, "class_name", json_string(f->class_name));
        validate_error(errors, "model_type", loc_with(loc, name, index), msg, v, ctx);
        return;
    }
    vval sub[16];
    size_t n = f->nsub < 16 ? f->nsub : 16;
    json_t *subloc = loc_with(loc, name, index);
    validate_object(v, f->sub, n, sub, errors, subloc);
    json_decref(subloc);
}

static void check_one(const json_t *v, const vfield *f, vval *out, json_t *errors,
                      const json_t *loc) {
    switch (f->type) {
    case V_STR:
        check_str(v, f, out, errors, loc);
        break;
    case V_NUM:
    case V_NUM_NONNEG:
        check_num(v, f, out, errors, loc);
        break;
    case V_TIME:
        check_time(v, f, out, errors, loc);
        break;
    case V_UUID:
        check_uuid(v, f, out, errors, loc);
        break;
    case V_EMAIL:
        check_email(v, f, out, errors, loc);
        break;
    case V_BOOL:
        check_bool(v, f, out, errors, loc);
        break;
    case V_ENUM:
        check_enum(v, f, out, errors, loc);
        break;
    case V_DICT:
        if (!is_object(v)) {
            err(errors, loc, f, "dict_type", "Input should be a valid dictionary", v, NULL);
            return;
        }
        out->ok = true;
        break;
    case V_MODEL: {
        size_t before = json_array_size(errors);
        check_model(v, f, f->name, 0, errors, loc);
        out->ok = json_array_size(errors) == before;
        break;
    }
    case V_LIST_MODEL: {
        if (!json_is_array(v)) {
            err(errors, loc, f, "list_type", "Input should be a valid list", v, NULL);
            return;
        }
        size_t before = json_array_size(errors), i;
        json_t *item, *listloc = loc_with(loc, f->name, 0);
        json_array_foreach((json_t *)v, i, item) check_model(item, f, NULL, i, errors, listloc);
        json_decref(listloc);
        out->ok = json_array_size(errors) == before;
        break;
    }
    }
}

bool validate_value(const json_t *v, const vfield *f, vval *out, json_t *errors,
                    const json_t *loc) {
    memset(out, 0, sizeof(*out));
    out->present = true;
    out->json = v;
    check_one(v, f, out, errors, loc);
    return out->ok;
}

void validate_object(const json_t *obj, const vfield *fields, size_t n, vval *vals, json_t *errors,
                     const json_t *loc) {
    for (size_t i = 0; i < n; i++) {
        const vfield *f = &fields[i];
        vval *out = &vals[i];
        memset(out, 0, sizeof(*out));
        const json_t *v = json_object_get(obj, f->name);
        if (!v) {
            if (f->required)
                validate_error(errors, "missing", loc_with(loc, f->name, 0), "Field required", obj,
                               NULL);
            else
                out->ok = true;
            continue;
        }
        out->present = true;
        out->json = v;
        if (json_is_null(v) && f->nullable) {
            out->null = true;
            out->ok = true;
            continue;
        }
        check_one(v, f, out, errors, loc);
    }
}

bool validate_oom(const vval *vals, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (vals[i].oom) return true;
    return false;
}

bool validate_body(const json_t *body, const vfield *fields, size_t n, vval *vals, json_t *errors) {
    memset(vals, 0, n * sizeof *vals); /* read by validate_oom() whatever the body */
    if (!body || json_is_null(body)) {
        validate_error(errors, "missing", validate_loc("body", NULL), "Field required", NULL, NULL);
        return false;
    }
    if (!is_object(body)) {
        validate_error(errors, "model_attributes_type", validate_loc("body", NULL),
                       "Input should be a valid dictionary or object to extract fields from", body,
                       NULL);
        return false;
    }
    json_t *loc = validate_loc("body", NULL);
    validate_object(body, fields, n, vals, errors, loc);
    json_decref(loc);
    return true;
}

bool validate_path_uuid(const char *name, const char *value, char *out, json_t *errors) {
    char e[160], msg[224];
    uid_t16 u;
    if (uid_parse(value, strlen(value), &u, e, sizeof e) == 0) {
        uid_format(&u, out);
        return true;
    }
    snprintf(msg, sizeof msg, "Input should be a valid UUID, %s", e);
    json_t *input = json_string(value);
    validate_error(errors, "uuid_parsing", validate_loc("path", name, NULL), msg, input,
                   ctx_error(e));
    json_decref(input);
    return false;
}

char *validate_strdup(const vval *v, const vfield *f, int *oom) {
    if (!v->present || v->null || !v->ok) return NULL;
    char *s = NULL;
    if (f->type == V_UUID)
        s = mstr_new(v->uuid, strlen(v->uuid));
    else if (f->type == V_STR || f->type == V_ENUM || f->type == V_EMAIL)
        s = mstr_new(v->s, v->len);
    else
        return NULL;
    if (!s) *oom = 1;
    return s;
}
