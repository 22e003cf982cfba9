/* Entitlements (the catalog): create and get. */
#include "api/api.h"

#include "domain/dt.h"
#include "domain/uid.h"

#include <stdlib.h>
#include <string.h>

static const char *const TYPES[] = {"Feature", "Quantity", "Credits", NULL};

enum { F_NAME, F_DESCRIPTION, F_TYPE, F_UNITS, F_ACTIVE, F_PRODUCT, F_COUNT };
/* The reference's CreateEntitlementRequestSchema. */
static const vfield CREATE[F_COUNT] = {
    [F_NAME] = {.name = "name", .type = V_STR, .required = true},
    [F_DESCRIPTION] = {.name = "description", .type = V_STR, .nullable = true},
    [F_TYPE] = {.name = "entitlement_type", .type = V_ENUM, .nullable = true, .choices = TYPES},
    [F_UNITS] = {.name = "units", .type = V_STR, .nullable = true},
    [F_ACTIVE] = {.name = "is_active", .type = V_BOOL, .nullable = true},
    [F_PRODUCT] = {.name = "product_id", .type = V_UUID, .nullable = true},
};

void h_entitlement_create(void *appv, http_req *r) {
    api_app *app = appv;
    json_t *body = NULL, *errors = json_array();
    vval v[F_COUNT];
    model_entitlement e = {0};
    int oom = 0;
    if (!api_read_body(r, &body)) goto out;
    validate_body(body, CREATE, F_COUNT, v, errors);
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
    uid_format(&id, e.id);
    e.name = validate_strdup(&v[F_NAME], &CREATE[F_NAME], &oom);
    e.description = validate_strdup(&v[F_DESCRIPTION], &CREATE[F_DESCRIPTION], &oom);
    e.entitlement_type = validate_strdup(&v[F_TYPE], &CREATE[F_TYPE], &oom);
    e.units = validate_strdup(&v[F_UNITS], &CREATE[F_UNITS], &oom);
    e.is_active = !v[F_ACTIVE].present ? 1 : v[F_ACTIVE].null ? -1 : v[F_ACTIVE].b;
    e.product_id = validate_strdup(&v[F_PRODUCT], &CREATE[F_PRODUCT], &oom);
    e.created_at = e.updated_at = dt_now();
    if (oom) {
        http_reply_detail(r, 500, "Internal Server Error: out of memory");
        goto out;
    }
    /* The answer first (issue 7): built after the insert, memory running
     * out answered 500 for an entitlement that was made. A store failure
     * then replaces it. */
    api_reply_entitlement(r, &e);
    if (r->status != 200) goto out;
    store_rc rc = store_entitlement_create(app->st, r->org, &e);
    if (rc != STORE_OK) api_reply_store(r, rc, "Entitlement");
out:
    model_entitlement_clear(&e);
    json_decref(errors);
    json_decref(body);
}

void h_entitlement_get(void *appv, http_req *r) {
    api_app *app = appv;
    char id[ID_BUF];
    if (!api_path_id(r, "entitlement_id", id)) return;
    model_entitlement e;
    store_rc rc = store_entitlement_get(app->st, r->org, id, &e);
    if (rc != STORE_OK) {
        api_reply_store(r, rc, "Entitlement");
        return;
    }
    api_reply_entitlement(r, &e);
    model_entitlement_clear(&e);
}

enum { U_NAME, U_DESCRIPTION, U_TYPE, U_UNITS, U_ACTIVE, U_PRODUCT, U_COUNT };
/* The reference's UpdateEntitlementRequestSchema (plus description, which
 * create takes too): name required, the rest optional and nullable. */
static const vfield UPDATE[U_COUNT] = {
    [U_NAME] = {.name = "name", .type = V_STR, .required = true},
    [U_DESCRIPTION] = {.name = "description", .type = V_STR, .nullable = true},
    [U_TYPE] = {.name = "entitlement_type", .type = V_ENUM, .nullable = true, .choices = TYPES},
    [U_UNITS] = {.name = "units", .type = V_STR, .nullable = true},
    [U_ACTIVE] = {.name = "is_active", .type = V_BOOL, .nullable = true},
    [U_PRODUCT] = {.name = "product_id", .type = V_UUID, .nullable = true},
};
const api_schema api_entitlement_schemas[] = {
    {"Create-entitlement", CREATE, F_COUNT},
    {"Update-entitlement", UPDATE, U_COUNT},
    {NULL, NULL, 0},
};

typedef struct {
    vval v[U_COUNT];
    char *text[U_COUNT]; /* new values, made before the transaction */
} ent_patch;

/* Runs inside the store's transaction, so it must not fail: absent keeps,
 * null clears, and the new texts move into the row. */
static void apply_ent(void *ctx, model_entitlement *e) {
    ent_patch *p = ctx;
    char **fields[U_COUNT] = {[U_NAME] = &e->name,
                              [U_DESCRIPTION] = &e->description,
                              [U_TYPE] = &e->entitlement_type,
                              [U_UNITS] = &e->units,
                              [U_PRODUCT] = &e->product_id};
    for (int i = 0; i < U_COUNT; i++) {
        if (!p->v[i].present) continue;
        if (i == U_ACTIVE) {
            e->is_active = p->v[i].null ? -1 : p->v[i].b;
            continue;
        }
        mstr_free(*fields[i]);
        *fields[i] = p->text[i];
        p->text[i] = NULL;
    }
}

void h_entitlement_update(void *appv, http_req *r) {
    api_app *app = appv;
    json_t *body = NULL, *errors = json_array();
    char id[ID_BUF];
    ent_patch p = {0};
    if (!api_read_body(r, &body)) goto out;
    api_path_uuid(r, "entitlement_id", id, errors);
    validate_body(body, UPDATE, U_COUNT, p.v, errors);
    if (json_array_size(errors)) {
        api_reply_errors(r, errors);
        errors = NULL;
        goto out;
    }
    int oom = 0;
    for (int i = 0; i < U_COUNT; i++)
        if (i != U_ACTIVE) p.text[i] = validate_strdup(&p.v[i], &UPDATE[i], &oom);
    if (oom) {
        http_reply_detail(r, 500, "Internal Server Error: out of memory");
        goto out;
    }
    model_entitlement e;
    bool held; /* the answer is built before the commit (issue 7) */
    if (!api_write_begin(app, r, &held)) goto out;
    store_rc rc = store_entitlement_update(app->st, r->org, id, apply_ent, &p, dt_now(), &e);
    if (rc != STORE_OK) {
        api_reply_store(r, rc, "Entitlement");
    } else {
        api_reply_entitlement(r, &e);
        model_entitlement_clear(&e);
    }
    api_write_end(app, r, held);
out:
    for (int i = 0; i < U_COUNT; i++)
        mstr_free(p.text[i]);
    json_decref(errors);
    json_decref(body);
}

void h_entitlement_delete(void *appv, http_req *r) {
    api_app *app = appv;
    char id[ID_BUF];
    if (!api_path_id(r, "entitlement_id", id)) return;
    model_entitlement e;
    bool held; /* the answer is built before the commit (issue 7) */
    if (!api_write_begin(app, r, &held)) return;
    store_rc rc = store_entitlement_delete(app->st, r->org, id, &e);
    if (rc == STORE_CONFLICT) {
        http_reply_detail(r, 409,
                          "The entitlement is granted to customers: delete its customer "
                          "entitlements first");
    } else if (rc != STORE_OK) {
        api_reply_store(r, rc, "Entitlement");
    } else {
        api_reply_entitlement(r, &e);
        model_entitlement_clear(&e);
    }
    api_write_end(app, r, held);
}
