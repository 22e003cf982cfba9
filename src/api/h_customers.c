/* Customers: create and get (the rest of the Customers API comes with the
 * list operations). Nested objects (addresses, tax ids, connector,
 * custom_data) are validated for shape and stored as JSON text. */
#include "api/api.h"

#include "domain/dt.h"
#include "domain/uid.h"
#include "validate/pyjson.h"

#include <stdlib.h>
#include <string.h>

#define N(a) (sizeof(a) / sizeof((a)[0]))

static const vfield ADDRESS[] = {
    {.name = "line1", .type = V_STR, .nullable = true},
    {.name = "line2", .type = V_STR, .nullable = true},
    {.name = "line3", .type = V_STR, .nullable = true},
    {.name = "city", .type = V_STR, .nullable = true},
    {.name = "state", .type = V_STR, .nullable = true},
    {.name = "zipCode", .type = V_STR, .nullable = true},
    {.name = "country", .type = V_STR, .nullable = true},
    {.name = "country_code", .type = V_STR, .nullable = true},
    {.name = "validation_status", .type = V_STR, .nullable = true},
    {.name = "connector_validation", .type = V_DICT, .nullable = true},
};
static const vfield TAX_ID[] = {
    {.name = "country_code", .type = V_STR},
    {.name = "tax_code", .type = V_STR},
    {.name = "tax_id", .type = V_STR},
};
static const vfield CONNECTOR[] = {
    {.name = "name", .type = V_STR, .nullable = true},
    {.name = "reference_id", .type = V_STR, .nullable = true},
};

enum {
    F_NAME,
    F_EXTERNAL_ID,
    F_CUSTOM_DATA,
    F_ADDRESS,
    F_SHIP_TO,
    F_TAX_INFO,
    F_EMAIL,
    F_PHONE,
    F_CONNECTOR,
    F_COMMS,
    F_AUTOCHARGE,
    F_BUSINESS_ENTITY,
    F_COUNT
};
/* The reference's CreateCustomerRequestSchema, in its order. */
static const vfield CREATE[F_COUNT] = {
    [F_NAME] = {.name = "customer_name", .type = V_STR, .required = true},
    [F_EXTERNAL_ID] = {.name = "external_id", .type = V_STR, .nullable = true, .max_length = 255},
    [F_CUSTOM_DATA] = {.name = "custom_data", .type = V_DICT},
    [F_ADDRESS] = {.name = "address",
                   .type = V_MODEL,
                   .class_name = "Address",
                   .sub = ADDRESS,
                   .nsub = N(ADDRESS)},
    [F_SHIP_TO] = {.name = "ship_to_address",
                   .type = V_MODEL,
                   .class_name = "Address",
                   .sub = ADDRESS,
                   .nsub = N(ADDRESS)},
    [F_TAX_INFO] = {.name = "tax_info",
                    .type = V_LIST_MODEL,
                    .nullable = true,
                    .class_name = "TaxId",
                    .sub = TAX_ID,
                    .nsub = N(TAX_ID)},
    [F_EMAIL] = {.name = "email", .type = V_EMAIL, .nullable = true},
    [F_PHONE] = {.name = "phone_number", .type = V_STR, .nullable = true},
    [F_CONNECTOR] = {.name = "connector",
                     .type = V_MODEL,
                     .class_name = "ConnectorInfo",
                     .sub = CONNECTOR,
                     .nsub = N(CONNECTOR)},
    [F_COMMS] = {.name = "communications_enabled", .type = V_BOOL, .nullable = true},
    [F_AUTOCHARGE] = {.name = "auto_charge_enabled", .type = V_BOOL, .nullable = true},
    [F_BUSINESS_ENTITY] = {.name = "business_entity_id", .type = V_UUID, .nullable = true},
};

/* A validated JSON value as stored text, NULL when absent or null. */
static char *json_text(const vval *v, int *oom) {
    if (!v->present || v->null || !v->json) return NULL;
    jw w;
    jw_init(&w, 1u << 20);
    jw_value(&w, v->json);
    size_t n = 0;
    char *t = jw_take(&w, &n), *m = t ? mstr_new(t, n) : NULL;
    free(t);
    if (!m) *oom = 1;
    return m;
}

static opt_bool opt_b(const vval *v, opt_bool dflt) {
    if (!v->present) return dflt;
    return v->null ? -1 : v->b;
}

void h_customer_create(void *appv, http_req *r) {
    api_app *app = appv;
    json_t *body = NULL, *errors = json_array();
    vval v[F_COUNT];
    model_customer c = {0};
    int oom = 0;
    if (!api_read_body(r, &body)) goto out;
    validate_body(body, CREATE, F_COUNT, v, errors);
    if (validate_oom(v, F_COUNT)) {
        http_reply_detail(r, 500, "Internal Server Error: out of memory");
        goto out;
    }
    if (json_array_size(errors)) {
        api_reply_errors(r, errors);
        errors = NULL;
        goto out;
    }
    uid_t16 id;
    if (uid_new_v7(&id) != 0) {
        http_reply_detail(r, 500, "Internal Server Error: no randomness for a new id");
        goto out;
    }
    uid_format(&id, c.id);
    c.customer_name = validate_strdup(&v[F_NAME], &CREATE[F_NAME], &oom);
    c.external_id = validate_strdup(&v[F_EXTERNAL_ID], &CREATE[F_EXTERNAL_ID], &oom);
    c.email = validate_strdup(&v[F_EMAIL], &CREATE[F_EMAIL], &oom);
    c.phone_number = validate_strdup(&v[F_PHONE], &CREATE[F_PHONE], &oom);
    c.business_entity_id = validate_strdup(&v[F_BUSINESS_ENTITY], &CREATE[F_BUSINESS_ENTITY], &oom);
    c.communications_enabled = opt_b(&v[F_COMMS], 1);
    c.auto_charge_enabled = opt_b(&v[F_AUTOCHARGE], 1);
    c.custom_data = json_text(&v[F_CUSTOM_DATA], &oom);
    c.address = json_text(&v[F_ADDRESS], &oom);
    c.ship_to_address = json_text(&v[F_SHIP_TO], &oom);
    c.tax_info = json_text(&v[F_TAX_INFO], &oom);
    c.connector = json_text(&v[F_CONNECTOR], &oom);
    c.created_at = c.updated_at = dt_now();
    if (oom) {
        http_reply_detail(r, 500, "Internal Server Error: out of memory");
        goto out;
    }
    /* The answer first (issue 7): built after the insert, memory running
     * out answered 500 for a customer that was made. A store failure then
     * replaces it. */
    api_reply_customer(r, &c);
    if (r->status != 200) goto out;
    store_rc rc = store_customer_create(app->st, r->org, &c);
    if (rc != STORE_OK) api_reply_store(r, rc, "Customer");
out:
    model_customer_clear(&c);
    json_decref(errors);
    json_decref(body);
}

void h_customer_get(void *appv, http_req *r) {
    api_app *app = appv;
    char id[ID_BUF];
    if (!api_path_id(r, "customer_id", id)) return;
    model_customer c;
    store_rc rc = store_customer_get(app->st, r->org, id, &c);
    if (rc != STORE_OK) {
        api_reply_store(r, rc, "Customer");
        return;
    }
    api_reply_customer(r, &c);
    model_customer_clear(&c);
}

/* The reference's UpdateCustomerRequestSchema: every field optional; the
 * nested objects may also be null, to clear them ("null clears"). */
static const vfield UPDATE[F_COUNT] = {
    [F_NAME] = {.name = "customer_name", .type = V_STR, .nullable = true},
    [F_EXTERNAL_ID] = {.name = "external_id", .type = V_STR, .nullable = true, .max_length = 255},
    [F_CUSTOM_DATA] = {.name = "custom_data", .type = V_DICT, .nullable = true},
    [F_ADDRESS] = {.name = "address",
                   .type = V_MODEL,
                   .nullable = true,
                   .class_name = "Address",
                   .sub = ADDRESS,
                   .nsub = N(ADDRESS)},
    [F_SHIP_TO] = {.name = "ship_to_address",
                   .type = V_MODEL,
                   .nullable = true,
                   .class_name = "Address",
                   .sub = ADDRESS,
                   .nsub = N(ADDRESS)},
    [F_TAX_INFO] = {.name = "tax_info",
                    .type = V_LIST_MODEL,
                    .nullable = true,
                    .class_name = "TaxId",
                    .sub = TAX_ID,
                    .nsub = N(TAX_ID)},
    [F_EMAIL] = {.name = "email", .type = V_EMAIL, .nullable = true},
    [F_PHONE] = {.name = "phone_number", .type = V_STR, .nullable = true},
    [F_CONNECTOR] = {.name = "connector",
                     .type = V_MODEL,
                     .nullable = true,
                     .class_name = "ConnectorInfo",
                     .sub = CONNECTOR,
                     .nsub = N(CONNECTOR)},
    [F_COMMS] = {.name = "communications_enabled", .type = V_BOOL, .nullable = true},
    [F_AUTOCHARGE] = {.name = "auto_charge_enabled", .type = V_BOOL, .nullable = true},
    [F_BUSINESS_ENTITY] = {.name = "business_entity_id", .type = V_UUID, .nullable = true},
};
const api_schema api_customer_schemas[] = {
    {"Create-customer", CREATE, F_COUNT},
    {"Legacy-create-customer", CREATE, F_COUNT},
    {"Update-customer", UPDATE, F_COUNT},
    {NULL, NULL, 0},
};

typedef struct {
    vval v[F_COUNT];
    char *text[F_COUNT]; /* new values, made before the transaction */
    int oom;             /* an address merge ran out of memory: answer 500 */
} cust_patch;

/* An address of a PATCH merged onto the stored one, as dict.update does:
 * members present replace (null included: the member is then null),
 * members absent stay. NULL when memory ran out (*oom set). */
static char *merge_address(const char *stored, const json_t *patch, int *oom) {
    /* read back as it was written: pyjson keeps numbers past a double */
    json_t *obj = NULL;
    pyjson_error perr;
    if (stored && pyjson_parse(stored, strlen(stored), &obj, &perr) != PYJSON_OK) obj = NULL;
    if (!json_is_object(obj)) {
        json_decref(obj);
        obj = json_object();
    }
    char *m = NULL;
    if (obj && json_object_update(obj, (json_t *)patch) == 0) {
        vval v = {.present = true, .json = obj};
        m = json_text(&v, oom);
    } else {
        *oom = 1;
    }
    json_decref(obj);
    return m;
}

/* Runs inside the store's transaction, so it cannot fail: absent keeps,
 * null clears, new texts move into the row. */
static void apply_cust(void *ctx, model_customer *c) {
    cust_patch *p = ctx;
    char **fields[F_COUNT] = {
        [F_NAME] = &c->customer_name,
        [F_EXTERNAL_ID] = &c->external_id,
        [F_CUSTOM_DATA] = &c->custom_data,
        [F_ADDRESS] = &c->address,
        [F_SHIP_TO] = &c->ship_to_address,
        [F_TAX_INFO] = &c->tax_info,
        [F_EMAIL] = &c->email,
        [F_PHONE] = &c->phone_number,
        [F_CONNECTOR] = &c->connector,
        [F_BUSINESS_ENTITY] = &c->business_entity_id,
    };
    for (int i = 0; i < F_COUNT; i++) {
        if (!p->v[i].present) continue;
        if (i == F_COMMS)
            c->communications_enabled = opt_b(&p->v[i], -1);
        else if (i == F_AUTOCHARGE)
            c->auto_charge_enabled = opt_b(&p->v[i], -1);
        else if ((i == F_ADDRESS || i == F_SHIP_TO) && !p->v[i].null) {
            char *m = merge_address(*fields[i], p->v[i].json, &p->oom);
            if (!m) continue; /* p->oom: the handler answers 500, nothing is kept */
            mstr_free(*fields[i]);
            *fields[i] = m;
        } else {
            mstr_free(*fields[i]);
            *fields[i] = p->text[i];
            p->text[i] = NULL;
        }
    }
}

void h_customer_update(void *appv, http_req *r) {
    api_app *app = appv;
    json_t *body = NULL, *errors = json_array();
    char id[ID_BUF];
    cust_patch p = {0};
    int oom = 0;
    if (!api_read_body(r, &body)) goto out;
    api_path_uuid(r, "customer_id", id, errors);
    if (validate_body(body, UPDATE, F_COUNT, p.v, errors) && json_array_size(errors) == 0 &&
        p.v[F_NAME].null)
        validate_error(errors, "value_error", validate_loc("body", "customer_name", NULL),
                       "Value error, customer_name cannot be cleared", p.v[F_NAME].json, NULL);
    if (validate_oom(p.v, F_COUNT)) {
        http_reply_detail(r, 500, "Internal Server Error: out of memory");
        goto out;
    }
    if (json_array_size(errors)) {
        api_reply_errors(r, errors);
        errors = NULL;
        goto out;
    }
    for (int i = 0; i < F_COUNT; i++) {
        if (i == F_COMMS || i == F_AUTOCHARGE) continue;
        bool json = i == F_CUSTOM_DATA || i == F_ADDRESS || i == F_SHIP_TO || i == F_TAX_INFO ||
                    i == F_CONNECTOR;
        p.text[i] = json ? json_text(&p.v[i], &oom) : validate_strdup(&p.v[i], &UPDATE[i], &oom);
    }
    if (oom) {
        http_reply_detail(r, 500, "Internal Server Error: out of memory");
        goto out;
    }
    model_customer c;
    bool held; /* the answer is built before the commit (issue 7) */
    if (!api_write_begin(app, r, &held)) goto out;
    store_rc rc = store_customer_update(app->st, r->org, id, apply_cust, &p, dt_now(), &c);
    if (rc != STORE_OK) {
        api_reply_store(r, rc, "Customer");
    } else if (p.oom) {
        /* a 5xx: api_write_end() keeps nothing of the held write */
        http_reply_detail(r, 500, "Internal Server Error: out of memory");
        model_customer_clear(&c);
    } else {
        api_reply_customer(r, &c);
        model_customer_clear(&c);
    }
    api_write_end(app, r, held);
out:
    for (int i = 0; i < F_COUNT; i++)
        mstr_free(p.text[i]);
    json_decref(errors);
    json_decref(body);
}

void h_customer_delete(void *appv, http_req *r) {
    api_app *app = appv;
    char id[ID_BUF];
    if (!api_path_id(r, "customer_id", id)) return;
    model_customer c;
    bool held; /* the answer is built before the commit (issue 7) */
    if (!api_write_begin(app, r, &held)) return;
    store_rc rc = store_customer_delete(app->st, r->org, id, &c);
    if (rc == STORE_CONFLICT) {
        http_reply_detail(r, 409, "The customer holds customer entitlements: delete them first");
    } else if (rc != STORE_OK) {
        api_reply_store(r, rc, "Customer");
    } else {
        api_reply_customer(r, &c);
        model_customer_clear(&c);
    }
    api_write_end(app, r, held);
}
