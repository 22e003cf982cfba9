/* query: a list's query string, read against the list's spec into a
 * store list_query, with FastAPI-style 422 items for whatever is wrong, and
 * the opaque keyset cursors the lists hand out. */
#ifndef ENTITLED_QUERY_H
#define ENTITLED_QUERY_H

#include "http/http.h"
#include "store/store.h"

#include <jansson.h>

typedef enum { QF_UUID, QF_TEXT, QF_NUM, QF_TIME, QF_BOOL, QF_ENUM } qf_type;
/* as LIST_KIND_COUNT (store.h): the last type + 1 */
enum { QF_TYPE_COUNT = QF_ENUM + 1 };

#define QO(op) (1u << (op))
#define QO_CMP (QO(LOP_EQ) | QO(LOP_GT) | QO(LOP_GTE) | QO(LOP_LT) | QO(LOP_LTE) | QO(LOP_NEQ))

typedef struct {
    const char *name;  /* the parameter's base name: "quantity" */
    const char *field; /* the store's field, NULL: same as name */
    qf_type type;
    unsigned ops;               /* QO(LOP_...) accepted */
    const char *const *choices; /* QF_ENUM */
} qfield;

typedef struct {
    list_kind kind;
    const qfield *fields;     /* NULL-name terminated */
    const char *const *sorts; /* NULL-terminated sortable fields, the first the default */
    bool default_desc;
    int default_limit;
    bool populate;         /* accepts populate=customer,product,contract,invoice */
    bool search_customers; /* search covers the customer's name too */
    bool expand;           /* accepts (and ignores) the reference's apiversion and expand */
    /* the customer lists: search takes field=value pairs (query_search_fields),
     * and search_name_external_id is accepted */
    bool customer_search;
} list_spec;

/* The fields of search=field=value on the customer lists, NULL-terminated. */
extern const char *const query_search_fields[];

#define QUERY_MAX_VALUES 400

typedef struct {
    list_query q;
    bool populate_customer, populate_product, populate_contract, populate_invoice;
    bool from_cursor; /* a cursor was given */
    int64_t total;    /* the total a cursor carries (q.skip_total set) */
    /* storage behind q's pointers */
    list_value values[QUERY_MAX_VALUES];
    size_t nvalues;
    char ids[QUERY_MAX_VALUES][ID_BUF]; /* canonical UUID values */
    size_t nids;
    char *owned[LIST_MAX_FILTERS + 4];
    size_t nowned;
    /* the parameter of each filter; NULL for a pair of search */
    const char *filter_keys[LIST_MAX_FILTERS];
} list_params;

/* Read the request's query string. Returns the 422 items (an empty array when
 * all is well; the caller owns it). */
json_t *query_parse(http_req *r, const list_spec *spec, int64_t now, list_params *p);

/* A source of query arguments: calls `fn` for each in order, as
 * http_query_each() does (which is the source query_parse() uses). */
typedef size_t (*query_args_fn)(
    void *src, bool (*fn)(void *cls, const char *key, const char *value, size_t len), void *cls);
/* query_parse() on arguments from `each`, for the caller's organisation
 * `org`: query_parse() itself is this on the request's arguments. Apart so
 * that the query fuzzer (fuzz/fuzz_query.c) runs the real parser without a
 * libmicrohttpd connection. */
json_t *query_parse_args(query_args_fn each, void *src, const char *org, const list_spec *spec,
                         int64_t now, list_params *p);

/* The spec of a list operation, by its operationId (routes.c); NULL when
 * `operation_id` is not a list. Defined with the specs in h_lists.c. */
const list_spec *api_list_spec(const char *operation_id);
void list_params_free(list_params *p);

/* pydantic's lax int from a string ("10", " 1_0 ", "1.0"); values past
 * 2^62 are clamped. False: not an integer ("int_parsing"). */
bool query_int(const char *s, int64_t *out);

/* The cursor to the rows after (next) or before (previous) row i of `res`,
 * read with `p`'s sort; heap text, NULL when out of memory. */
char *query_cursor(const list_params *p, const list_result *res, size_t i, bool next);

#endif
