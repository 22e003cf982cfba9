/* libFuzzer target: the JSON body validator of every operation.
 *
 * The input is a request body. It is read as the API reads it
 * (api_body_parse: pyjson, FastAPI's answers for malformed JSON), once as
 * JSON and once sent as text/plain, then validated against the body table of
 * every operation in api_routes that takes a body (api_body_schema), and
 * through the two operations whose checks go past their table:
 * api_grant_patch_check (the seed PATCH) and api_consume_body.
 *
 * Checked, besides the sanitizers:
 *   - the refusal of a malformed body is a 400/422 with its detail or items;
 *   - every 422 item list is well formed and its answer can be written and
 *     reads back the same (fz_check_errors);
 *   - a field is converted (ok) exactly when no item names it, a missing
 *     required field is named as "missing", and a converted value holds what
 *     its type promises: UTF-8 text within max_length, a finite number (>= 0
 *     for quantities), an instant in years 1-9999 that dt_format writes and
 *     dt_parse_str reads back, a canonical UUID, 0/1, a listed enum member;
 *   - a UUID's refusal quotes the parser's whole explanation (ctx.error and
 *     the msg after "Input should be a valid UUID, "). */
#include "common.h"

#include "api/api.h"
#include "domain/dt.h"
#include "domain/uid.h"
#include "validate/validate.h"

#define MAX_FIELDS 32

static const char *const PATH_E = "00000000-0000-4000-8000-000000000001";
static const char *const PATH_C = "00000000-0000-4000-8000-000000000002";
static const char *const PATH_R = "00000000-0000-4000-8000-000000000003";

/* The items whose loc is ["body", name, ...]. */
static size_t items_for(const json_t *errors, const char *name) {
    size_t i, n = 0;
    const json_t *e;
    json_array_foreach(errors, i, e) {
        const json_t *part = json_array_get(json_object_get(e, "loc"), 1);
        if (json_is_string(part) && strcmp(json_string_value(part), name) == 0) n++;
    }
    return n;
}

static size_t utf8_count(const char *s, size_t n) {
    size_t cps = 0;
    for (size_t i = 0; i < n; i++)
        cps += ((unsigned char)s[i] & 0xC0) != 0x80;
    return cps;
}

/* uuid_parsing items: msg and ctx.error are uid_parse_ex's whole text. */
static void check_uuid_items(const json_t *errors) {
    size_t i;
    const json_t *e;
    json_array_foreach(errors, i, e) {
        if (strcmp(json_string_value(json_object_get(e, "type")), "uuid_parsing") != 0) continue;
        const json_t *in = json_object_get(e, "input");
        CHECK(json_is_string(in));
        char text[256];
        size_t n = 0;
        uid_t16 u;
        CHECK(uid_parse_ex(json_string_value(in), json_string_length(in), &u, text, sizeof text,
                           &n) != 0);
        const json_t *ce = json_object_get(json_object_get(e, "ctx"), "error");
        CHECK(json_is_string(ce) && json_string_length(ce) == n &&
              memcmp(json_string_value(ce), text, n) == 0);
        static const char head[] = "Input should be a valid UUID, ";
        const json_t *msg = json_object_get(e, "msg");
        CHECK(json_string_length(msg) == sizeof head - 1 + n &&
              memcmp(json_string_value(msg), head, sizeof head - 1) == 0 &&
              memcmp(json_string_value(msg) + sizeof head - 1, text, n) == 0);
    }
}

static void check_value(const vfield *f, const vval *v) {
    switch (f->type) {
    case V_STR:
        CHECK(v->s != NULL);
        CHECK(fz_utf8_valid(v->s, v->len));
        CHECK(!f->max_length || utf8_count(v->s, v->len) <= f->max_length);
        break;
    case V_EMAIL: /* the normalised address (fuzz_email.c checks the rest) */
        CHECK(v->s == v->email && v->len <= 254 && strlen(v->email) == v->len);
        CHECK(fz_utf8_valid(v->s, v->len) && memchr(v->s, '@', v->len) != NULL);
        break;
    case V_NUM:
        CHECK(isfinite(v->num));
        break;
    case V_NUM_NONNEG:
        CHECK(isfinite(v->num) && v->num >= 0);
        break;
    case V_TIME: {
        CHECK(v->time >= DT_MIN_INSTANT && v->time <= DT_MAX_INSTANT);
        char buf[DT_FORMAT_MAX];
        size_t n = dt_format(v->time, buf);
        CHECK(n > 0 && n < DT_FORMAT_MAX && strlen(buf) == n);
        int64_t back;
        dt_error e;
        CHECK(dt_parse_str(buf, n, &back, &e) == 0 && back == v->time);
        break;
    }
    case V_UUID: {
        char canon[ID_BUF];
        CHECK(strlen(v->uuid) == UID_STR_LEN);
        CHECK(uid_canon(v->uuid, UID_STR_LEN, canon) == 0 && strcmp(canon, v->uuid) == 0);
        break;
    }
    case V_BOOL:
        CHECK(v->b == 0 || v->b == 1);
        break;
    case V_ENUM: {
        bool found = false;
        for (int i = 0; f->choices[i]; i++)
            found |= v->s == f->choices[i] && v->len == strlen(f->choices[i]);
        CHECK(found);
        break;
    }
    case V_DICT:
    case V_MODEL:
        CHECK(json_is_object(v->json) && !pyjson_is_big(v->json));
        break;
    case V_LIST_MODEL:
        CHECK(json_is_array(v->json));
        break;
    }
    if (f->type == V_STR || f->type == V_ENUM || f->type == V_UUID || f->type == V_EMAIL) {
        int oom = 0;
        char *s = validate_strdup(v, f, &oom);
        CHECK(s != NULL && !oom);
        CHECK(mstr_len(s) == (f->type == V_UUID ? (size_t)UID_STR_LEN : v->len));
        mstr_free(s);
    }
}

/* One operation's table on one body. */
static void check_table(const json_t *body, const vfield *fields, size_t n) {
    vval vals[MAX_FIELDS];
    json_t *errors = json_array();
    CHECK(n <= MAX_FIELDS);
    bool obj = validate_body(body, fields, n, vals, errors);
    fz_check_errors(errors, "body");
    check_uuid_items(errors);
    if (!obj) {
        CHECK(json_array_size(errors) == 1);
        CHECK(!json_is_object(body) || pyjson_is_big(body));
        json_decref(errors);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        const vfield *f = &fields[i];
        const vval *v = &vals[i];
        size_t named = items_for(errors, f->name);
        CHECK(v->present == (json_object_get(body, f->name) != NULL));
        CHECK(v->ok == (named == 0));
        if (!v->present) {
            CHECK(v->ok == !f->required);
            continue;
        }
        CHECK(v->json == json_object_get(body, f->name));
        if (v->null) {
            CHECK(f->nullable && json_is_null(v->json) && v->ok);
            continue;
        }
        if (v->ok) check_value(f, v);
    }
    json_decref(errors);
}

static void check_body(json_t *body) {
    for (size_t i = 0; i < api_nroutes; i++) {
        size_t n = 0;
        const vfield *fields = api_body_schema(api_routes[i].operation_id, &n);
        if (fields) check_table(body, fields, n);
    }

    /* the seed PATCH: its table, the path's ids, the body ids and window */
    char ent[ID_BUF], cust[ID_BUF], id[ID_BUF];
    model_grant_patch p;
    const json_t *active_in = NULL, *expiry_in = NULL;
    json_t *errors = api_grant_patch_check(PATH_E, PATH_C, PATH_R, body, ent, cust, id, &p,
                                           &active_in, &expiry_in);
    fz_check_errors(errors, "body");
    check_uuid_items(errors);
    if (json_array_size(errors) == 0) {
        CHECK(strcmp(ent, PATH_E) == 0 && strcmp(cust, PATH_C) == 0 && strcmp(id, PATH_R) == 0);
        CHECK(json_is_object(body) && !pyjson_is_big(body));
        if (p.active_from.set && p.expiry_at.set) CHECK(p.active_from.v <= p.expiry_at.v);
        /* quantities are exact decimals within the range (dec.h) */
        if (p.quantity.set) CHECK(p.quantity.v >= 0 && p.quantity.v <= DEC_MAX);
        if (p.quantity_used.set) CHECK(p.quantity_used.v >= 0 && p.quantity_used.v <= DEC_MAX);
        CHECK(!!(p.fields & GRANT_F_ACTIVE_FROM) == (json_object_get(body, "active_from") != NULL));
        CHECK(!!(p.fields & GRANT_F_EXPIRY_AT) == (json_object_get(body, "expiry_at") != NULL));
    }
    json_decref(errors);

    /* consume: its table, quantity > 0, no other member */
    vval v[MAX_FIELDS];
    errors = json_array();
    api_consume_body(body, errors, v);
    fz_check_errors(errors, "body");
    if (json_array_size(errors) == 0) {
        CHECK(json_is_object(body) && !pyjson_is_big(body));
        CHECK(v[0].ok && isfinite(v[0].num) && v[0].num > 0);
        const char *key;
        json_t *m;
        json_object_foreach(body, key, m) CHECK(!strcmp(key, "quantity") || !strcmp(key, "at"));
    }
    json_decref(errors);
}

static void read_as(const uint8_t *data, size_t size, const char *content_type) {
    json_t *body = NULL, *errors = NULL;
    const char *detail = NULL;
    unsigned status =
        api_body_parse((const char *)data, size, content_type, &body, &errors, &detail);
    switch (status) {
    case 0:
        CHECK(!errors && !detail);
        CHECK(body || size == 0);
        check_body(body);
        break;
    case 422:
        CHECK(!body && errors && !detail);
        CHECK(json_array_size(errors) == 1);
        fz_check_errors(errors, "body");
        break;
    case 400:
        CHECK(!body && !errors && detail && *detail);
        break;
    default:
        CHECK(!"unexpected status"); /* 500: out of memory, never here */
    }
    json_decref(body);
    json_decref(errors);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    read_as(data, size, NULL);
    read_as(data, size, "text/plain");
    return 0;
}
