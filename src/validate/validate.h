/* validate: request validation with pydantic v2's answers.
 *
 * A body schema is a table of vfield; validate_object() checks a parsed body
 * against it, collects every error of the request (not just the first) into
 * a JSON array of FastAPI detail items {"type","loc","msg","input","ctx"?},
 * and fills one vval per field with the converted value. The conversions are
 * pydantic's lax python mode, as FastAPI applies it after json.loads:
 * numeric strings are numbers, date-times come in many shapes (dt.h),
 * "yes"/"off"/0/1 are booleans, and so on. */
#ifndef ENTITLED_VALIDATE_H
#define ENTITLED_VALIDATE_H

#include "domain/model.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
    V_STR,
    V_EMAIL,      /* pydantic's EmailStr (email.h): the normalised address */
    V_NUM,        /* finite double */
    V_NUM_NONNEG, /* finite double >= 0 (quantities) */
    V_TIME,       /* date-time -> UTC microseconds */
    V_UUID,       /* canonical lower-case text */
    V_BOOL,
    V_ENUM,       /* a string among `choices` */
    V_DICT,       /* any JSON object, kept as JSON */
    V_MODEL,      /* a nested object validated against `sub` */
    V_LIST_MODEL, /* a list of nested objects */
} vtype;

typedef struct vfield {
    const char *name;
    vtype type;
    bool required;
    bool nullable;
    const char *const *choices; /* V_ENUM: NULL-terminated */
    const char *class_name;     /* V_MODEL, V_LIST_MODEL: for "instance of X" */
    const struct vfield *sub;   /* V_MODEL, V_LIST_MODEL */
    size_t nsub;
    size_t max_length; /* V_STR: 0 for none, else in code points */
    /* V_NUM, V_NUM_NONNEG: a quantity, also an exact decimal (dec.h) in
     * vval.qty; one with more places or too large is refused
     * ("decimal_max_places", "decimal_whole_digits", as pydantic's
     * condecimal words them) */
    bool quantity;
} vfield;

typedef struct {
    bool present;  /* the key was in the body */
    bool null;     /* present as null */
    bool ok;       /* converted without error */
    bool oom;      /* memory ran out checking it (V_EMAIL): a 500, not a 422 */
    const char *s; /* V_STR, V_ENUM: points into the body */
    size_t len;
    double num;
    dec qty; /* vfield.quantity */
    int64_t time;
    char uuid[ID_BUF];
    char email[256]; /* V_EMAIL: the normalised address, `s` points here */
    int b;
    const json_t *json; /* the value as sent */
} vval;

/* Append one detail item. `loc` is stolen; `input` is borrowed (NULL means
 * JSON null); `ctx` is stolen and may be NULL. */
void validate_error(json_t *errors, const char *type, json_t *loc, const char *msg,
                    const json_t *input, json_t *ctx);

/* A loc array: validate_loc("body", "quantity", NULL). */
json_t *validate_loc(const char *first, ...);

/* Check the whole body for a model with `fields`, as FastAPI does for a
 * required body parameter: absent or null is "missing", a non-object is
 * "model_attributes_type". Errors get loc ["body", ...]. Returns true when
 * the body is an object (field values are then in `vals`, one per field). */
/* Did memory run out checking one of the values (no error item says so)? */
bool validate_oom(const vval *vals, size_t n);
bool validate_body(const json_t *body, const vfield *fields, size_t n, vval *vals, json_t *errors);

/* Validate fields of an object (already known to be one) with `loc` as the
 * prefix of every error's loc (borrowed). */
void validate_object(const json_t *obj, const vfield *fields, size_t n, vval *vals, json_t *errors,
                     const json_t *loc);

/* One value against one field's rules (not null-aware): errors get loc
 * `loc` + the field's name. */
bool validate_value(const json_t *v, const vfield *f, vval *out, json_t *errors, const json_t *loc);

/* A UUID path parameter; on error appends {"type":"uuid_parsing","loc":
 * ["path", name], ...}. Returns true with `out` canonical when valid. */
bool validate_path_uuid(const char *name, const char *value, char *out, json_t *errors);

/* The field's value as a model string (mstr_new; V_STR, V_ENUM, V_UUID),
 * NULL when null or absent; *oom set on allocation failure. */
char *validate_strdup(const vval *v, const vfield *f, int *oom);

#endif
