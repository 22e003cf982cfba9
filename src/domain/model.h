/* model: the objects of the API as the store hands them to the handlers.
 * Ids are canonical lower-case UUID strings; instants are UTC microseconds
 * (see dt.h); optional values carry a `set` flag, unset meaning JSON null.
 * Strings are model strings (mstr_*, below) owned by the object; *_clear()
 * frees them. */
#ifndef ENTITLED_MODEL_H
#define ENTITLED_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "domain/dec.h"

#define ID_BUF 37 /* 36 characters and the NUL */

typedef struct {
    bool set;
    double v;
} opt_num;

typedef struct {
    bool set;
    int64_t v;
} opt_time;

/* a quantity (dec.h), or null */
typedef struct {
    bool set;
    dec v;
} opt_dec;

/* -1 for null, else 0 or 1 */
typedef int opt_bool;

typedef struct {
    char id[ID_BUF];
    char *name;
    char *description;
    char *entitlement_type;
    char *units;
    opt_bool is_active;
    char *product_id;
    int64_t created_at, updated_at;
} model_entitlement;

typedef struct {
    char id[ID_BUF];
    char *customer_name;
    char *external_id;
    char *email;
    char *phone_number;
    char *business_entity_id;
    opt_bool communications_enabled;
    opt_bool auto_charge_enabled;
    /* JSON texts, kept as sent (after validation): */
    char *custom_data; /* never NULL once stored: "{}" by default */
    char *address;
    char *ship_to_address;
    char *tax_info;
    char *connector;
    int64_t created_at, updated_at;
} model_customer;

/* A customer entitlement row ("grant"). */
typedef struct {
    char id[ID_BUF];
    char entitlement[ID_BUF];
    char customer[ID_BUF];
    opt_time active_from, expiry_at;
    opt_dec quantity, quantity_used;
    char *contract_id, *source_type, *source_id, *invoice_id, *event, *feature_option_value,
        *status;
    opt_num block_amount, numeric_value;
    int64_t created_at, updated_at;
} model_grant;

/* The fields a PATCH of a row may name; absent ones keep their value. */
enum {
    GRANT_F_ACTIVE_FROM = 1 << 0,
    GRANT_F_EXPIRY_AT = 1 << 1,
    GRANT_F_QUANTITY = 1 << 2,
    GRANT_F_QUANTITY_USED = 1 << 3,
};

typedef struct {
    unsigned fields; /* GRANT_F_* present in the body */
    opt_time active_from, expiry_at;
    opt_dec quantity, quantity_used;
} model_grant_patch;

/* Text may hold NUL characters (JSON allows "\u0000" and pydantic keeps it),
 * so a model string carries its length: a heap copy whose byte count is
 * stored just before its bytes, NUL-terminated as well for convenience.
 * mstr_len(NULL) is 0 and mstr_free(NULL) does nothing. */
char *mstr_new(const char *s, size_t n); /* NULL when out of memory */
size_t mstr_len(const char *s);
void mstr_free(char *s);

void model_entitlement_clear(model_entitlement *e);
void model_customer_clear(model_customer *c);
void model_grant_clear(model_grant *g);

/* Apply a patch to a row in memory; the store does this inside its transaction. */
void model_grant_apply(model_grant *g, const model_grant_patch *p);
/* The rule every stored row keeps: active_from <= expiry_at when both are set. */
bool model_grant_window_ok(const model_grant *g);

#endif
