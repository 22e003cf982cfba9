#!/usr/bin/env python3
"""Write docs/openapi.json: entitled's own OpenAPI 3.1 document.

    python3 tools/gen_openapi.py            # (re)write docs/openapi.json
    python3 tools/gen_openapi.py --check    # exit 1 when the file is stale
    python3 tools/gen_openapi.py --out F    # write elsewhere ("-": stdout)

The document describes what the server does, as docs/API.md decides it:
every route of src/api/routes.c with its operationId (Zenskar's where the
reference has one), every parameter each route accepts (an unknown query
parameter is a 422), the request bodies, and every answer with the exact
shape the server writes (src/api/answer.c). Response schemas are strict:
`required` lists what is always written, a field that can be null says so,
and `additionalProperties: false` refuses keys the server does not write;
tests/api/harness.py validates every answer of the API tests against them.

The document is embedded into the binary at build time (cmake/embed.cmake)
and served at GET /openapi.json; GET /docs renders it. Python 3 standard
library only; the output is deterministic (no dates; keys in the order
written here, which is the order the /docs page shows).
"""

import argparse
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
OUT = os.path.join(ROOT, "docs", "openapi.json")

# --------------------------------------------------------------------------
# Schema helpers


def ref(name):
    return {"$ref": "#/components/schemas/" + name}


def nullable(schema, **extra):
    out = {"anyOf": [schema, {"type": "null"}]}
    out.update(extra)
    return out


def with_(schema, **extra):
    out = dict(schema)
    out.update(extra)
    return out


STR = {"type": "string"}
NUM = {"type": "number"}
INT = {"type": "integer"}
BOOL = {"type": "boolean"}
UUID = {"type": "string", "format": "uuid"}
DT = {"type": "string", "format": "date-time"}
QTY = {"type": "number", "minimum": 0}
OBJ = {"type": "object"}


def obj(props, required=(), strict=True, **extra):
    """An object schema. strict: additionalProperties false (answers)."""
    out = {"type": "object", "properties": props}
    if required:
        out["required"] = list(required)
    if strict:
        out["additionalProperties"] = False
    out.update(extra)
    return out


def answer_obj(props, **extra):
    """An answer object: every property always written, nothing else."""
    return obj(props, required=list(props), strict=True, **extra)


DT_IN = ("A date-time as pydantic accepts it: RFC 3339 with `Z` or an offset "
         "(`T`, `t`, `_` or a space between date and time, up to 6 fraction "
         "digits), a naive time (UTC), a date alone (midnight UTC), or Unix "
         "seconds as a number or numeric string (milliseconds past 2e10). "
         "Must fall within years 0001 to 9999 in UTC.")
DT_OUT = ("UTC, written `YYYY-MM-DDTHH:MM:SSZ`, with `.ffffff` only when the "
          "fraction is not zero.")
UUID_IN = ("A UUID in any form pydantic accepts (hyphenated, 32 hex digits, "
           "braced, `urn:uuid:`, any case).")

# --------------------------------------------------------------------------
# Components: schemas

SCHEMAS = {}

# ---- errors ----------------------------------------------------------------

SCHEMAS["ErrorDetail"] = answer_obj(
    {"detail": with_(STR, minLength=1, description="A sentence saying what went wrong.")},
    title="ErrorDetail",
    description="Every error answer but 422: `{\"detail\": \"<sentence>\"}`.")

SCHEMAS["ValidationError"] = obj(
    {
        "type": with_(STR, title="Error Type",
                      description="pydantic's error type: `missing`, `string_type`, "
                                  "`uuid_parsing`, `json_invalid`, `extra_forbidden`, ..."),
        "loc": {"type": "array", "title": "Location", "minItems": 1,
                "items": {"anyOf": [STR, INT]},
                "description": "Where: `body`, `path`, `query` or `header`, then the field "
                               "(or, for `json_invalid`, the position in the body)."},
        "msg": with_(STR, title="Message"),
        "input": {"description": "The offending value as sent (any JSON value; a number no "
                                 "double can hold is echoed as the text that was sent)."},
        "ctx": with_(OBJ, description="Details, where pydantic gives them "
                                      "(`{\"ge\": 0}`, `{\"error\": \"...\"}`, ...)."),
    },
    required=["type", "loc", "msg", "input"],
    title="ValidationError",
    description="One FastAPI/pydantic v2 validation error.")

SCHEMAS["HTTPValidationError"] = answer_obj(
    {"detail": {"type": "array", "minItems": 1, "items": ref("ValidationError"),
                "title": "Detail"}},
    title="HTTPValidationError",
    description="FastAPI's 422 answer: every error of the request at once, path errors "
                "first, then query, then body errors in the schema's field order.")

SCHEMAS["HealthStatus"] = answer_obj({"status": {"const": "ok"}}, title="HealthStatus")

# ---- entitlements -----------------------------------------------------------

SCHEMAS["EntitlementType"] = {"type": "string", "enum": ["Feature", "Quantity", "Credits"],
                              "title": "EntitlementType"}
SCHEMAS["SourceType"] = with_(STR, title="SourceType", description="Free text, stored as sent.")
SCHEMAS["EntitlementEvent"] = with_(STR, title="EntitlementEvent",
                                    description="Free text, stored as sent.")
SCHEMAS["EntitlementCustomerStatus"] = with_(STR, title="EntitlementCustomerStatus",
                                             description="Free text, stored as sent.")

ENT_FIELDS_IN = {
    "name": with_(STR, title="Name", description="Entitlement name"),
    "description": nullable(STR, title="Description", description="Entitlement Description"),
    "entitlement_type": nullable(ref("EntitlementType"),
                                 description="Entitlement Type (422 `enum` otherwise)"),
    "units": nullable(STR, title="Units", description="Entitlement Units"),
    "is_active": nullable(BOOL, title="Is Active",
                          description="Entitlement is active (pydantic's lax booleans: "
                                      "`true`, `1`, `\"yes\"`, `\"off\"`, ...)"),
    "product_id": nullable(with_(UUID, description=UUID_IN), title="Product Id",
                           description="Product ID"),
}

create_ent = json.loads(json.dumps(ENT_FIELDS_IN))
create_ent["is_active"]["default"] = True
SCHEMAS["CreateEntitlementRequestSchema"] = obj(
    create_ent, required=["name"], strict=False, title="CreateEntitlementRequestSchema",
    description="Unknown fields are ignored. `is_active` defaults to true.")

SCHEMAS["UpdateEntitlementRequestSchema"] = obj(
    json.loads(json.dumps(ENT_FIELDS_IN)), required=["name"], strict=False,
    title="UpdateEntitlementRequestSchema",
    description="`name` is required. Of the other fields, an absent one keeps its value "
                "and `null` clears it. Unknown fields are ignored.")

SCHEMAS["EntitlementResponseSchema"] = answer_obj(
    {
        "id": with_(UUID, title="Id", description="Entitlement Id"),
        "name": with_(STR, title="Name", description="Entitlement name"),
        "description": nullable(STR, title="Description"),
        "entitlement_type": nullable(ref("EntitlementType")),
        "units": nullable(STR, title="Units"),
        "is_active": nullable(BOOL, title="Is Active"),
        "product_id": nullable(UUID, title="Product Id"),
        "created_at": with_(DT, title="Created At", description=DT_OUT),
    },
    title="EntitlementResponseSchema",
    description="An entitlement, as every operation answers it.")


def list_envelope(item, title, extra=None, key="results", total="total_count"):
    props = {
        key: {"type": "array", "items": item},
        "next": nullable(STR, description="Cursor of the following page; null on the last."),
        "previous": nullable(STR, description="Cursor of the preceding page; null on the "
                                              "first."),
        total: with_(INT, minimum=0, description="Rows matching the filters, whatever the "
                                                 "page."),
    }
    if extra:
        props.update(extra)
    return answer_obj(props, title=title)


SCHEMAS["EntitlementListResponse"] = list_envelope(ref("EntitlementResponseSchema"),
                                                   "EntitlementListResponse")

# ---- customer entitlement rows ------------------------------------------------

SCHEMAS["CreateEntitlementCustomerRequestSchema"] = obj(
    {
        "id": nullable(with_(UUID, description=UUID_IN), title="Id",
                       description="Optional id for the row; an id that exists already is "
                                   "409. Without it, a UUIDv7 is made."),
        "entitlement": nullable(STR, title="Entitlement",
                                description="Entitlement ID; when given it must name the "
                                            "path's entitlement (any UUID spelling), else "
                                            "422 `value_error`."),
        "customer": with_(STR, title="Customer",
                          description="Customer ID: a UUID (422 `value_error` otherwise) "
                                      "naming a customer of the caller's organisation (404 "
                                      "otherwise)."),
        "expiry_at": nullable(with_(DT, description=DT_IN), title="Expiry At",
                              description="End of the window (exclusive); null: open."),
        "active_from": nullable(with_(DT, description=DT_IN), title="Active From",
                                description="Start of the window (inclusive); null: open. "
                                            "Not after `expiry_at` (422 `value_error`)."),
        "quantity": nullable(QTY, title="Quantity",
                             description="Units granted: a finite number >= 0 (numeric "
                                         "strings accepted)."),
        "quantity_used": nullable(QTY, title="Quantity Used",
                                  description="Units consumed: a finite number >= 0."),
        "contract_id": nullable(UUID, title="Contract Id"),
        "source_type": nullable(ref("SourceType")),
        "source_id": nullable(UUID, title="Source Id"),
        "block_amount": nullable(NUM, title="Block Amount",
                                 description="A finite number; may be negative."),
        "invoice_id": nullable(UUID, title="Invoice Id"),
        "event": nullable(ref("EntitlementEvent")),
        "numeric_value": nullable(NUM, title="Numeric Value",
                                  description="A finite number; may be negative."),
        "feature_option_value": nullable(STR, title="Feature Option Value"),
        "status": nullable(ref("EntitlementCustomerStatus")),
    },
    required=["customer"], strict=False, title="CreateEntitlementCustomerRequestSchema",
    description="All 16 fields are stored. Unknown fields are ignored.")

SCHEMAS["UpdateEntitlementCustomerRequestSchema"] = obj(
    {
        "entitlement": with_(STR, title="Entitlement",
                             description="Must name the path's entitlement (any UUID "
                                         "spelling), else 422 `value_error`."),
        "customer": with_(STR, title="Customer",
                          description="Must name the path's customer (any UUID spelling), "
                                      "else 422 `value_error`."),
        "expiry_at": nullable(with_(DT, description=DT_IN), title="Expiry At"),
        "active_from": nullable(with_(DT, description=DT_IN), title="Active From"),
        "quantity": nullable(QTY, title="Quantity"),
        "quantity_used": nullable(QTY, title="Quantity Used",
                                  description="May exceed `quantity`."),
    },
    required=["entitlement", "customer"], strict=False,
    title="UpdateEntitlementCustomerRequestSchema",
    description="An absent field keeps its value; `null` clears it. When the merged row "
                "would have `active_from` after `expiry_at`, the 422 names the bound that "
                "was sent.")


def grant_props():
    return {
        "id": with_(UUID, title="Id", description="Row id"),
        "entitlement": with_(UUID, title="Entitlement"),
        "customer": with_(UUID, title="Customer"),
        "expiry_at": nullable(DT, title="Expiry At"),
        "active_from": nullable(DT, title="Active From"),
        "quantity": nullable(QTY, title="Quantity"),
        "quantity_used": nullable(QTY, title="Quantity Used"),
        "created_at": with_(DT, title="Created At", description=DT_OUT),
        "quantity_remaining": nullable(
            NUM, title="Quantity Remaining",
            description="`quantity - quantity_used` (a null `quantity_used` counts as 0); "
                        "null when `quantity` is null; negative when more was used than "
                        "granted."),
        "contract_id": nullable(UUID, title="Contract Id"),
        "source_type": nullable(ref("SourceType")),
        "source_id": nullable(UUID, title="Source Id"),
        "block_amount": nullable(NUM, title="Block Amount"),
        "invoice_id": nullable(UUID, title="Invoice Id"),
        "event": nullable(ref("EntitlementEvent")),
        "numeric_value": nullable(NUM, title="Numeric Value"),
        "feature_option_value": nullable(STR, title="Feature Option Value"),
        "status": nullable(ref("EntitlementCustomerStatus")),
        "updated_at": with_(DT, title="Updated At", description=DT_OUT),
    }


SCHEMAS["SingleEntitlementCustomerResponseSchema"] = answer_obj(
    grant_props(), title="SingleEntitlementCustomerResponseSchema",
    description="A customer entitlement row: the reference's fields first, then "
                "`quantity_remaining`, the stored optional create fields and `updated_at`.")

ENT_OF_ROW = {
    "name": with_(STR, description="The entitlement's name."),
    "units": nullable(STR, description="The entitlement's units."),
    "type": nullable(ref("EntitlementType"), description="The entitlement's type."),
}

p = grant_props()
p.update(json.loads(json.dumps(ENT_OF_ROW)))
SCHEMAS["EntitlementCustomerResponseSchema"] = answer_obj(
    p, title="EntitlementCustomerResponseSchema",
    description="A row of a customer's list: the row plus `name`, `units` and `type` of its "
                "entitlement.")
SCHEMAS["EntitlementCustomerListResponse"] = list_envelope(
    ref("EntitlementCustomerResponseSchema"), "EntitlementCustomerListResponse")

SCHEMAS["TotalEntitlementCustomerResponseSchema"] = answer_obj(
    {
        "entitlement": with_(UUID, title="Entitlement"),
        "customer": with_(UUID, title="Customer"),
        "quantity": with_(QTY, title="Quantity",
                          description="Sum of `quantity` (nulls count as 0) over the pair's "
                                      "rows whose window overlaps the period."),
    },
    title="TotalEntitlementCustomerResponseSchema")

SCHEMAS["UniqueEntitlementForCustomer"] = answer_obj(
    {
        "entitlement": ref("EntitlementResponseSchema"),
        "total_quantity": with_(QTY, description="Sum of `quantity` over the rows not "
                                                 "expired now (nulls count as 0)."),
        "total_quantity_used": with_(QTY, description="Sum of `quantity_used` over the rows "
                                                      "not expired now (nulls count as 0)."),
        "total_expired_entitlements": with_(INT, minimum=0,
                                            description="Number of rows expired now."),
    },
    title="UniqueEntitlementForCustomer")
SCHEMAS["UniqueEntitlementListResponse"] = list_envelope(
    ref("UniqueEntitlementForCustomer"), "UniqueEntitlementListResponse")

SCHEMAS["EntitlementBalanceRelatedObject"] = answer_obj(
    {
        "id": UUID,
        "name": nullable(STR),
        "email": nullable(STR),
    },
    title="EntitlementBalanceRelatedObject",
    description="A populated customer: its id, `customer_name` and `email`.")
SCHEMAS["EntitlementBalanceRelatedId"] = answer_obj(
    {
        "id": UUID,
        "name": {"type": "null"},
    },
    title="EntitlementBalanceRelatedId",
    description="A populated product, contract or invoice: entitled keeps no catalogue of "
                "them, so the id is all it knows and `name` is null.")

p = grant_props()
p.update(json.loads(json.dumps(ENT_OF_ROW)))
p["customer"] = {"anyOf": [UUID, ref("EntitlementBalanceRelatedObject")],
                 "description": "The customer's id; with `populate=customer`, "
                                "`{\"id\", \"name\", \"email\"}`."}
for key, what, pop in (("product", "the entitlement's `product_id`", "product"),
                       ("contract", "the row's `contract_id`", "contract"),
                       ("invoice", "the row's `invoice_id`", "invoice")):
    p[key] = nullable(ref("EntitlementBalanceRelatedId"),
                      description="Only with `populate=%s`: %s as `{\"id\", \"name\": "
                                  "null}`, or null when the row has none." % (pop, what))
SCHEMAS["CustomerEntitlementBalance"] = obj(
    p, required=[k for k in p if k not in ("product", "contract", "invoice")], strict=True,
    title="CustomerEntitlementBalance",
    description="A row of the balances list: the row plus `name`, `units` and `type` of its "
                "entitlement.")
SCHEMAS["CustomerEntitlementBalanceListResponse"] = list_envelope(
    ref("CustomerEntitlementBalance"), "CustomerEntitlementBalanceListResponse",
    extra={"total": with_(INT, minimum=0, description="The same as `total_count` (the "
                                                      "reference's name).")})

# ---- consumption, balance at an instant, the ledger (issue 5) -----------------

SCHEMAS["ConsumeRequest"] = obj(
    {
        "quantity": with_(NUM, exclusiveMinimum=0, title="Quantity",
                          description="Units to consume: a finite number greater than 0 "
                                      "(422 `greater_than`, `ctx {\"gt\": 0}` otherwise; "
                                      "numeric strings accepted)."),
        "at": nullable(with_(DT, description=DT_IN), title="At",
                       description="The instant of the consumption: the rows active then "
                                   "(`active_from <= at < expiry_at`, a null bound open) "
                                   "are drawn from. Absent or null: now."),
    },
    required=["quantity"], strict=True, title="ConsumeRequest",
    description="Any other member is 422 `extra_forbidden`.")

SCHEMAS["ConsumeDraw"] = answer_obj(
    {
        "id": with_(UUID, title="Id", description="The row drawn from."),
        "quantity_drawn": with_(NUM, exclusiveMinimum=0, title="Quantity Drawn",
                                description="What this consumption took from the row."),
        "quantity": nullable(QTY, title="Quantity",
                             description="The row's `quantity`; null: the row has no limit."),
        "quantity_used": with_(QTY, title="Quantity Used",
                               description="The row's `quantity_used` after the draw."),
        "quantity_remaining": nullable(NUM, title="Quantity Remaining",
                                       description="`quantity - quantity_used` after the "
                                                   "draw; null for a row without a limit."),
    },
    title="ConsumeDraw",
    description="One row drawn from, with its values after the draw.")

SCHEMAS["ConsumeResponse"] = answer_obj(
    {
        "entitlement": with_(UUID, title="Entitlement",
                             description="The entitlement's id (the path's `entitlement_id`)."),
        "customer": with_(UUID, title="Customer",
                          description="The customer's id (the path's `customer_id`)."),
        "quantity": with_(NUM, exclusiveMinimum=0, title="Quantity",
                          description="The quantity consumed (the request's)."),
        "at": with_(DT, title="At", description="The instant of the consumption. " + DT_OUT),
        "ledger_seq": with_(INT, minimum=1, title="Ledger Seq",
                            description="The change's sequence number in the ledger (its "
                                        "entries, one per row drawn from, share it)."),
        "draws": {"type": "array", "items": ref("ConsumeDraw"), "minItems": 1,
                  "title": "Draws", "description": "In burn order, one per row drawn from."},
        "quantity_remaining": nullable(QTY, title="Quantity Remaining",
                                       description="The sum of what the active rows hold "
                                                   "after the draw (`max(0, quantity - "
                                                   "quantity_used)` each); null when one of "
                                                   "them has no limit."),
    },
    title="ConsumeResponse",
    description="A consumption, drawn in one transaction from the rows active at `at` in "
                "burn order: rows with a `quantity` before rows without one; among them, "
                "earliest `expiry_at` first (open-ended last), then earliest `active_from` "
                "(null first), then oldest `created_at`, then `id`.")

SCHEMAS["ConsumeShort"] = answer_obj(
    {
        "detail": with_(STR, minLength=1,
                        description="`Not enough remaining: requested <q>, available <a>`."),
        "requested": with_(NUM, exclusiveMinimum=0, description="The quantity requested."),
        "available": with_(QTY, description="What the rows active at `at` hold."),
    },
    title="ConsumeShort",
    description="A consume the active rows cannot cover: nothing changed.")

SCHEMAS["Balance"] = answer_obj(
    {
        "entitlement": with_(UUID, title="Entitlement",
                             description="The entitlement's id (the path's `entitlement_id`)."),
        "customer": with_(UUID, title="Customer",
                          description="The customer's id (the path's `customer_id`)."),
        "at": with_(DT, title="At", description="The instant of the balance. " + DT_OUT),
        "quantity": with_(QTY, title="Quantity",
                          description="Sum of `quantity` over the active rows that have one."),
        "quantity_used": with_(QTY, title="Quantity Used",
                               description="Sum of `quantity_used` over the active rows "
                                           "(null counts as 0)."),
        "quantity_remaining": nullable(QTY, title="Quantity Remaining",
                                       description="Sum of `max(0, quantity - "
                                                   "quantity_used)` over the active rows; "
                                                   "null when one of them has no limit."),
        "unlimited": with_(BOOL, title="Unlimited",
                           description="An active row has no `quantity` (no limit)."),
        "active_rows": with_(INT, minimum=0, title="Active Rows",
                             description="How many of the pair's rows were active at `at`."),
    },
    title="Balance",
    description="The pair's balance at an instant, computed from the ledger alone: for each "
                "row, its latest entry made at or before `at` (a row deleted by then does not "
                "count), counted when the window recorded in that entry contains `at`.")

SCHEMAS["LedgerEntryKind"] = {"type": "string", "enum": ["create", "update", "consume",
                                                         "delete"],
                              "title": "LedgerEntryKind",
                              "description": "`create`: POST of a row; `update`: PATCH of a "
                                             "row (also when nothing changed); `consume`; "
                                             "`delete`."}

SCHEMAS["LedgerEntry"] = answer_obj(
    {
        "seq": with_(INT, minimum=1, title="Seq",
                     description="The change's sequence number, per organisation from 1 "
                                 "without gaps in commit order; the entries of one change "
                                 "share it."),
        "at": with_(DT, title="At", description="When the change was made. " + DT_OUT),
        "kind": ref("LedgerEntryKind"),
        "entitlement": with_(UUID, title="Entitlement",
                             description="The entitlement's id (the path's `entitlement_id`)."),
        "customer": with_(UUID, title="Customer",
                          description="The customer's id (the path's `customer_id`)."),
        "row_id": with_(UUID, title="Row Id", description="The customer entitlement row."),
        "quantity_delta": with_(NUM, title="Quantity Delta",
                                description="`quantity` after minus before (null counts as "
                                            "0)."),
        "quantity_used_delta": with_(NUM, title="Quantity Used Delta",
                                     description="`quantity_used` after minus before (null "
                                                 "counts as 0)."),
        "quantity": nullable(QTY, title="Quantity",
                             description="The row's value after the change (null for "
                                         "`delete`)."),
        "quantity_used": nullable(QTY, title="Quantity Used",
                                  description="The row's value after the change (null for "
                                              "`delete`)."),
        "active_from": nullable(DT, title="Active From",
                                description="The row's value after the change (null for "
                                            "`delete`)."),
        "expiry_at": nullable(DT, title="Expiry At",
                              description="The row's value after the change (null for "
                                          "`delete`)."),
        "request_id": nullable(STR, title="Request Id",
                               description="The `X-Request-Id` of the request that made the "
                                           "change; null for an entry written when a database "
                                           "made before the ledger was migrated."),
        "idempotency_key": nullable(STR, title="Idempotency Key",
                                    description="The request's `Idempotency-Key`, or null."),
    },
    title="LedgerEntry",
    description="One entry of the append-only ledger: one per row a change touched. Entries "
                "are never updated or deleted.")

SCHEMAS["LedgerListResponse"] = list_envelope(ref("LedgerEntry"), "LedgerListResponse")

# ---- customers ------------------------------------------------------------------

ADDRESS_PROPS = {k: nullable(STR) for k in
                 ("line1", "line2", "line3", "city", "state", "zipCode", "country",
                  "country_code", "validation_status")}
ADDRESS_PROPS["connector_validation"] = nullable(OBJ)

SCHEMAS["Address"] = obj(json.loads(json.dumps(ADDRESS_PROPS)), strict=False, title="Address",
                         description="Validated field by field; stored as sent.")
SCHEMAS["AddressResponse"] = obj(json.loads(json.dumps(ADDRESS_PROPS)), strict=False,
                                 title="AddressResponse",
                                 description="The address as it was sent.")
SCHEMAS["TaxId"] = obj({"country_code": STR, "tax_code": STR, "tax_id": STR}, strict=False,
                       title="TaxId")
SCHEMAS["ConnectorInfo"] = obj({"name": nullable(STR), "reference_id": nullable(STR)},
                               strict=False, title="ConnectorInfo")
SCHEMAS["ContactResponseSchema"] = with_(OBJ, title="ContactResponseSchema")
SCHEMAS["InvoiceDetailsObject"] = with_(OBJ, title="InvoiceDetailsObject")


def customer_in(update):
    name = with_(STR, title="Customer Name", description="Full name of the customer or company")
    if update:
        name["description"] = "Customer name; cannot be cleared (`null` is 422 `value_error`)."
    return {
        "customer_name": name,
        "external_id": nullable(with_(STR, maxLength=255), title="External Id",
                                description="Your identifier for this customer, at most 255 "
                                            "characters."),
        "custom_data": (nullable(OBJ, title="Custom Data") if update else
                        with_(OBJ, title="Custom Data",
                              description="Free key-value pairs; `{}` by default.")),
        "address": (nullable(ref("Address"), description="Billing address, merged: members "
                                                           "present replace (`null` makes one "
                                                           "null), members absent stay; `null` "
                                                           "clears the whole address.")
                    if update else
                    with_(ref("Address"), description="Billing address; `{}` by default.")),
        "ship_to_address": (nullable(ref("Address"), description="Shipping address, merged "
                                                                  "like `address`; `null` "
                                                                  "clears it whole.")
                            if update else with_(ref("Address"), description="Shipping address.")),
        "tax_info": nullable({"type": "array", "items": ref("TaxId")}, title="Tax Info"),
        "email": nullable(with_(STR, format="email"), title="Email",
                          description="An email address as pydantic's `EmailStr` checks it "
                                      "(email-validator's rules, no deliverability check; a "
                                      "422 `value_error` otherwise), stored normalised (the "
                                      "domain lower-cased, in Unicode form). Unique among the "
                                      "organisation's customers, compared with A-Z "
                                      "lower-cased: a duplicate is 400."),
        "phone_number": nullable(STR, title="Phone Number"),
        "connector": (nullable(ref("ConnectorInfo"), description="`null` clears it.") if update
                      else with_(ref("ConnectorInfo"),
                                 description="External connector information.")),
        "communications_enabled": nullable(BOOL, title="Communications Enabled",
                                           description="true by default."),
        "auto_charge_enabled": nullable(BOOL, title="Auto Charge Enabled",
                                        description="true by default."),
        "business_entity_id": nullable(with_(UUID, description=UUID_IN),
                                       title="Business Entity Id"),
    }


SCHEMAS["CreateCustomerRequestSchema"] = obj(
    customer_in(False), required=["customer_name"], strict=False,
    title="CreateCustomerRequestSchema",
    description="Every field is stored. Unknown fields are ignored.")
SCHEMAS["UpdateCustomerRequestSchema"] = obj(
    customer_in(True), strict=False, title="UpdateCustomerRequestSchema",
    description="Every field optional: an absent field keeps its value, `null` clears it "
                "(except `customer_name`, which cannot be cleared). Unknown fields are "
                "ignored.")

SCHEMAS["CustomerResponseSchema"] = answer_obj(
    {
        "id": with_(UUID, title="Id", description="Customer ID"),
        "external_id": nullable(STR, title="External Id"),
        "customer_name": with_(STR, title="Customer Name"),
        "custom_data": with_(OBJ, title="Custom Data", description="`{}` by default."),
        "address": with_(ref("AddressResponse"), description="`{}` by default."),
        "ship_to_address": with_(ref("AddressResponse"), description="`{}` when unset."),
        "tax_info": nullable({"type": "array", "items": ref("TaxId")}, title="Tax Info"),
        "phone_number": nullable(STR, title="Phone Number"),
        "email": nullable(STR, title="Email"),
        "contacts": {"type": "array", "items": ref("ContactResponseSchema"),
                     "title": "Contacts", "description": "Always `[]`."},
        "custom_attributes": with_(OBJ, title="Custom Attributes",
                                   description="Always `{}`."),
        "communications_enabled": nullable(BOOL, title="Communications Enabled"),
        "auto_charge_enabled": nullable(BOOL, title="Auto Charge Enabled"),
        "invoice_details": with_(ref("InvoiceDetailsObject"), description="Always `{}`."),
        "connector": nullable(ref("ConnectorInfo")),
        "business_entity_id": nullable(UUID, title="Business Entity Id"),
        "created_at": with_(DT, title="Created At", description=DT_OUT),
        "updated_at": with_(DT, title="Updated At", description=DT_OUT),
    },
    title="CustomerResponseSchema",
    description="A customer, as every operation answers it.")

SCHEMAS["CustomerListResponse"] = list_envelope(ref("CustomerResponseSchema"),
                                                "CustomerListResponse", key="data",
                                                total="total")

# --------------------------------------------------------------------------
# Parameters


def path_param(name, what):
    return {"name": name, "in": "path", "required": True,
            "description": "%s. %s A malformed one is 422 `uuid_parsing`." % (what, UUID_IN),
            "schema": with_(UUID, title=name.replace("_", " ").title())}


P_ENT = path_param("entitlement_id", "The entitlement's id")
P_CUST = path_param("customer_id", "The customer's id")
P_EC = path_param("ec_id", "The customer entitlement row's id")


def q(name, schema, description):
    return {"name": name, "in": "query", "required": False, "description": description,
            "schema": schema}


def list_params(default_limit, sort_keys, filters, desc=True, sort_note="", search=None):
    direction = "descending" if desc else "ascending"
    ps = [
        q("cursor", STR, "An opaque cursor from a previous answer's `next` or `previous`; "
                         "send it with the same filters and sort. A malformed one, or one of "
                         "another sort, is 422 `value_error`."),
        q("limit", with_(INT, minimum=1, maximum=100, default=default_limit),
          "Rows per page, 1 to 100 (422 `int_parsing`, `greater_than_equal` or "
          "`less_than_equal` otherwise)."),
        q("search", STR, search or "Only rows where one of the list's search fields contains "
                                   "this text, %s." % ILIKE),
        q("sort_key", {"type": "string", "enum": list(sort_keys)},
          "Sort by this field, in the direction `sort_type` gives (ascending by default); "
          "the id breaks ties, in the same direction; nulls sort first ascending and last "
          "descending.%s Without `sort_key` or `order`: `created_at`, %s." % (sort_note,
                                                                             direction)),
        q("sort_type", with_({"type": "string", "enum": ["asc", "desc"]},
                             **({} if desc else {"default": "asc"})),
          "The direction: with `sort_key`, ascending by default; it also overrides the "
          "direction of `order` and of the list's default sort (`created_at`, %s)."
          % direction),
        q("order", {"type": "string", "enum": [k for key in sort_keys for k in (key, "-" + key)]},
          "Another way to sort: a sort key, ascending, or `-` and a sort key, descending "
          "(422 `value_error` otherwise). Ignored when `sort_key` is given."),
    ]
    return ps + filters


def f_uuid(name, what):
    return q(name, UUID, "Only rows whose %s is this id." % what)


def f_uuid_in(name, what):
    return q(name, STR, "Only rows whose %s is one of these ids (comma-separated)." % what)


def f_text(name, what):
    return q(name, STR, "Only rows whose %s equals this text." % what)


def f_text_in(name, what):
    return q(name, STR, "Only rows whose %s is one of these texts (comma-separated)." % what)


ILIKE = ("case-insensitively (Unicode simple case folding, every script), `%` and `_` "
         "being plain characters")


def f_ilike(name, what):
    return q(name, STR, "Only rows whose %s contains this text, %s." % (what, ILIKE))


def f_isnull(name, what):
    return q(name, BOOL, "`true`: only rows without a %s; `false`: only rows with one." % what)


OPS_WORDS = {"": "equal to", "__gt": "greater than", "__gte": "at least",
             "__lt": "less than", "__lte": "at most",
             "__neq": "not equal to (or null)"}


def f_range(field, schema, ops=("", "__gt", "__gte", "__lt", "__lte", "__neq")):
    out = []
    for op in ops:
        d = "Only rows whose `%s` is %s this value." % (field, OPS_WORDS[op])
        if schema.get("format") == "date-time":
            d += " Any date-time form the bodies accept."
        out.append(q(field + op, schema, d))
    return out


LIST_ENTITLEMENTS = list_params(10, ["id", "created_at", "name"], [
    f_uuid("id", "id"),
    f_uuid_in("id__in", "id"),
    f_text("name", "name"),
    f_ilike("name__ilike", "name"),
    q("entitlement_type", ref("EntitlementType"), "Only entitlements of this type."),
    q("is_active", BOOL, "Only active (`true`) or inactive (`false`) entitlements."),
    f_uuid("product_id", "product_id"),
] + f_range("created_at", DT, ("__gte", "__lte")))

def f_like(name, what):
    return q(name, STR, "Only rows whose %s contains this text, case-sensitively." % what)


LIST_CUSTOMERS = [
    q("apiversion", INT, "Accepted for the reference's clients; changes nothing."),
    q("expand", STR, "Accepted for the reference's clients; changes nothing (entitled has no "
                     "expansions)."),
] + list_params(10, ["id", "created_at", "customer_name"], [
    q("search_name_external_id", STR,
      "Only customers whose `customer_name` or `external_id` contains this text, %s; "
      "ranked: a name or external id equal to it (case-insensitively) first, then one "
      "starting with it, then the others, each rank in the list's sort. Paged by cursor "
      "like the rest (the cursor carries the rank). Empty: no condition." % ILIKE),
    f_uuid("id", "id"),
    f_uuid_in("id__in", "id"),
    f_isnull("id__isnull", "id"),
    f_text("external_id", "external_id"),
    f_ilike("external_id__ilike", "external_id"),
    f_like("external_id__like", "external_id"),
    f_text_in("external_id__in", "external_id"),
    f_isnull("external_id__isnull", "external_id"),
    f_text("email", "email"),
    f_ilike("email__ilike", "email"),
    f_like("email__like", "email"),
    f_text_in("email__in", "email"),
    f_isnull("email__isnull", "email"),
    f_ilike("phone_number__ilike", "phone_number"),
    f_like("phone_number__like", "phone_number"),
    f_isnull("phone_number__isnull", "phone_number"),
    f_ilike("customer_name__ilike", "customer_name"),
    q("communications_enabled", BOOL, "Only customers with communications on or off."),
    q("auto_charge_enabled", BOOL, "Only customers with auto-charge on or off."),
    f_uuid("business_entity_id", "business_entity_id"),
] + f_range("created_at", DT), search=(
    "`field=value` pairs, comma separated, each field one of `customer_name`, `email`, "
    "`external_id`, `phone_number`: only customers whose every named field contains its "
    "value, %s (`customer_name=Acme,email=@acme.com`). The text is cut at each `,`; a part "
    "holding `=` starts a pair (the field before its first `=`, the value after, `=` "
    "included); a part without `=` belongs to the value before it, comma included. An "
    "unknown field, or text before the first pair, is 422 `value_error`. Text without `=` "
    "keeps the plain meaning: customers whose customer_name, email or external_id contains "
    "it." % ILIKE))

ROW_SORT = ["id", "created_at", "quantity", "quantity_used", "active_from", "expiry_at"]

LIST_CUSTOMER_ROWS = [P_CUST] + list_params(10, ROW_SORT, [
    f_uuid("id", "id"),
    f_uuid_in("id__in", "id"),
    f_isnull("id__isnull", "id"),
    f_uuid("entitlement", "entitlement"),
    f_uuid_in("entitlement__in", "entitlement"),
    f_isnull("entitlement__isnull", "entitlement"),
    f_uuid("customer", "customer (the path's customer: another gives no rows)"),
    f_uuid_in("customer__in", "customer"),
    f_isnull("customer__isnull", "customer"),
    f_uuid("contract_id", "contract_id"),
    f_uuid_in("contract_id__in", "contract_id"),
    f_isnull("contract_id__isnull", "contract_id"),
])

LIST_UNIQUE = [P_CUST] + list_params(10, ["id", "created_at", "name"], [
    f_uuid("entitlement", "entitlement"),
    f_uuid_in("entitlement__in", "entitlement"),
], sort_note=" `name` is the entitlement's name.")

LIST_BALANCES = list_params(50, ROW_SORT, [
    q("populate", {"type": "string",
                   "pattern": "^(customer|product|contract|invoice)"
                              "(,(customer|product|contract|invoice))*$",
                   "examples": ["customer,contract,product,invoice"]},
      "Comma separated, in any order: `customer` writes `customer` as `{\"id\", \"name\", "
      "\"email\"}`; `product`, `contract` and `invoice` add that member, `{\"id\", "
      "\"name\": null}` (entitled keeps no such catalogue) or null when the row has no "
      "such id. Anything else is 422 `value_error`."),
    f_uuid("customer", "customer"),
    f_uuid_in("customer__in", "customer"),
    f_uuid("entitlement", "entitlement"),
    f_uuid_in("entitlement__in", "entitlement"),
    f_uuid("contract_id", "contract_id"),
    f_uuid_in("contract_id__in", "contract_id"),
] + f_range("quantity", NUM) + f_range("quantity_used", NUM) + f_range("created_at", DT)
    + f_range("active_from", DT) + f_range("expiry_at", DT), desc=False)

TOTAL_PARAMS = [
    P_ENT, P_CUST,
    q("start_date", INT, "Start of the period, Unix seconds (an integer: 422 `int_parsing` "
                         "otherwise). Alone, the period has no end."),
    q("end_date", INT, "End of the period (exclusive), Unix seconds. Alone, the period has no "
                       "start. `start_date` after `end_date` is 422 `value_error`."),
]

BALANCE_PARAMS = [
    P_ENT, P_CUST,
    q("at", DT, "The instant of the balance; absent: now. " + DT_IN),
]


def entries_range(field, schema, words):
    out = []
    for op in ("__gt", "__gte", "__lt", "__lte"):
        d = "Only entries whose `%s` is %s this value." % (field, OPS_WORDS[op])
        if words:
            d += " " + words
        out.append(q(field + op, schema, d))
    return out


LIST_LEDGER = [
    P_CUST,
    q("cursor", STR, "An opaque cursor from a previous answer's `next` or `previous`; send it "
                     "with the same filters and sort. A malformed one, or one of "
                     "another sort, is 422 `value_error`."),
    q("limit", with_(INT, minimum=1, maximum=100, default=50),
      "Entries per page, 1 to 100 (422 `int_parsing`, `greater_than_equal` or "
      "`less_than_equal` otherwise)."),
    q("sort_key", {"type": "string", "enum": ["seq"]},
      "The one sort: `seq` (then the row id), in the direction `sort_type` gives."),
    q("sort_type", with_({"type": "string", "enum": ["asc", "desc"]}, default="asc"),
      "`asc`: oldest first (the default); `desc`: newest first."),
    q("order", {"type": "string", "enum": ["seq", "-seq"]},
      "Another way to say it: `seq` oldest first, `-seq` newest first. Ignored when "
      "`sort_key` is given."),
    q("entitlement", UUID, "Only entries of rows of this entitlement."),
    q("entitlement__in", STR, "Only entries of rows of one of these entitlements "
                              "(comma-separated ids)."),
    q("row", UUID, "Only entries of this customer entitlement row (its id)."),
    q("kind", ref("LedgerEntryKind"), "Only entries of this kind."),
    q("kind__in", STR, "Only entries of one of these kinds (comma-separated)."),
] + entries_range("seq", NUM, "A number, compared with the integer `seq`.") + entries_range("at", DT, "Any date-time form the bodies "
                                                             "accept.")

# --------------------------------------------------------------------------
# Responses


def json_content(schema):
    return {"application/json": {"schema": schema}}


def ok(schema, description="Successful Response"):
    return {"description": description, "content": json_content(schema)}


def err(description):
    return {"description": description, "content": json_content(ref("ErrorDetail"))}


FRAMING = (" Or the body's length is ambiguous (`Content-Length` with `Transfer-Encoding`, or "
           "two different `Content-Length`s): the connection is then closed.")
R400 = err("The body could not be parsed: not UTF-8, or JSON nested deeper than `serve "
           "--max-json-depth` levels, 64 by default (`There was an error parsing the body`); "
           "or more query parameters than `serve --max-query-params` allows (`Too many query "
           "parameters (limit N)`)." + FRAMING)
R400_QUERY = err("More query parameters than `serve --max-query-params` allows (64 by "
                 "default): `Too many query parameters (limit N)`." + FRAMING)
R400_EMAIL = err(R400["description"] + " Or another customer of the organisation has "
                 "this email (compared with A-Z lower-cased): `A customer with this email "
                 "already exists`, and nothing was changed.")
R431 = err("The request line and headers are larger than `serve --max-header-bytes` (65536 "
           "by default; each header, query parameter and cookie counts 64 bytes more): "
           "`Request line and headers too large (limit N bytes)`, and the connection is "
           "closed. Past that limit and 8 KiB more, libmicrohttpd's own 431, not JSON.")
R501 = err("A `Transfer-Encoding` other than `chunked` alone: `Transfer-Encoding X is not "
           "supported: only chunked`; the body is not read and the connection is closed.")
R414 = err("The path and query string, decoded, are longer than `serve --max-url-bytes` "
           "(16384 by default): `URI too long (limit N bytes)`.")
R401 = err("No `x-api-key`; a key that is unknown, malformed or revoked; or no "
           "`organisation` header.")
R403 = err("The `organisation` header does not name the key's organisation.")
R413 = err("The body is larger than 1 MiB (refused from `Content-Length`, or once the "
           "uploaded bytes pass the limit).")
R422 = {"description": "Validation Error (FastAPI's shape: every error of the request).",
        "content": json_content(ref("HTTPValidationError"))}
R422_DETAIL = ("Validation Error: FastAPI's shape, every error of the request (a malformed "
               "`Idempotency-Key` included, loc `[\"header\", \"idempotency-key\"]`); or "
               "`{\"detail\": \"Idempotency-Key was already used with a different "
               "request\"}` when the key came with another method, path or body.")
R422_WRITE = {"description": R422_DETAIL,
              "content": json_content({"anyOf": [ref("HTTPValidationError"),
                                                 ref("ErrorDetail")]})}
R500 = err("Internal error (never for a client's mistake); nothing was written.")
R507 = err("The database's disk is full, or its file reached the process's size limit "
           "(RLIMIT_FSIZE); nothing was written.")
R503 = {"description": "The database is busy or unavailable, or the server is shutting "
                       "down, or (a GET) answers waiting for slow clients hold the memory "
                       "`serve --max-unsent-bytes` allows them; retry after `Retry-After` "
                       "seconds. On a SQLite server whose "
                       "fsync of the database failed, writes are refused until it is "
                       "restarted, and the detail says whether the change of this request "
                       "may have been kept (then read the object, or retry with the same "
                       "`Idempotency-Key` after the restart, to learn the outcome) or "
                       "nothing was changed.",
        "headers": {"Retry-After": {"description": "Seconds to wait: 1 (5 when the server "
                                                   "must be restarted first).",
                                    "required": True, "schema": with_(INT, minimum=0)}},
        "content": json_content(ref("ErrorDetail"))}


def responses(ok_resp, body=False, not_found=None, conflict=None, public=False,
              unprocessable=None):
    """The answers of an operation: 200, then every error it can give. conflict: a
    sentence (an ErrorDetail 409) or a whole response; unprocessable: a 422 response
    other than R422."""
    out = {"200": ok_resp}
    out["400"] = R400 if body else R400_QUERY
    if not public:
        out["401"] = R401
        out["403"] = R403
    if not_found:
        out["404"] = err(not_found)
    if conflict:
        out["409"] = conflict if isinstance(conflict, dict) else err(conflict)
    out["413"] = R413
    out["414"] = R414
    out["431"] = R431
    if not public:
        out["422"] = unprocessable or R422
    out["500"] = R500
    out["501"] = R501
    if not public:
        out["503"] = R503
        out["507"] = R507
    return out


def body_of(name, description=None):
    out = {"required": True, "content": json_content(ref(name))}
    out["description"] = description or (
        "A JSON object (no content type, `application/json` or `application/*+json`; "
        "another content type is 422 `model_attributes_type`). Empty or `null`: 422 "
        "`missing`; malformed JSON: 422 `json_invalid`.")
    return out


def op(op_id, tag, summary, description, params=(), body=None, resp=None, public=False):
    o = {"tags": [tag], "summary": summary, "description": description, "operationId": op_id}
    if public:
        o["security"] = []
    if params:
        o["parameters"] = list(params)
    if body:
        o["requestBody"] = body
    o["responses"] = resp
    return o


ENT = ref("EntitlementResponseSchema")
ROW = ref("SingleEntitlementCustomerResponseSchema")
CUST = ref("CustomerResponseSchema")

NF_ENT = "The entitlement is not the caller's organisation's (`Entitlement not found`)."
NF_CUST = "The customer is not the caller's organisation's (`Customer not found`)."
NF_ROW = ("No row of that id belongs to the path's entitlement, customer and the caller's "
          "organisation (`Customer entitlement not found`).")
LIST_NOTE = (" Keyset paging: pass `next` or `previous` back as `cursor`. Unknown query "
             "parameters are 422 `extra_forbidden`.")

PATHS = {
    "/healthz": {
        "get": op("healthz", "Service", "Health check",
                  "Answers `{\"status\": \"ok\"}` while the server runs. No key needed.",
                  resp=responses(ok(ref("HealthStatus")), public=True), public=True),
    },
    "/openapi.json": {
        "get": op("openapi", "Service", "This OpenAPI document",
                  "entitled's OpenAPI 3.1 document, embedded in the binary. No key needed.",
                  resp=responses(ok({"type": "object", "required": ["openapi", "info", "paths"],
                                     "properties": {"openapi": {"const": "3.1.0"}}},
                                    "The OpenAPI document"), public=True),
                  public=True),
    },
    "/docs": {
        "get": op("docs", "Service", "API documentation page",
                  "A self-contained HTML page (no network needed) that renders this "
                  "document. No key needed.",
                  resp=responses({"description": "The HTML page",
                                  "content": {"text/html": {"schema": STR}}}, public=True),
                  public=True),
    },
    "/entitlements": {
        "get": op("List-entitlements", "Entitlements", "List entitlements",
                  "The organisation's entitlements; `search` looks in name and description."
                  + LIST_NOTE,
                  LIST_ENTITLEMENTS,
                  resp=responses(ok(ref("EntitlementListResponse")))),
        "post": op("Create-entitlement", "Entitlements", "Create entitlement",
                   "Create an entitlement definition; answers it.",
                   body=body_of("CreateEntitlementRequestSchema"),
                   resp=responses(ok(ENT), body=True)),
    },
    "/entitlements/{entitlement_id}": {
        "get": op("Get-entitlement", "Entitlements", "Get entitlement",
                  "One entitlement by its id.", [P_ENT],
                  resp=responses(ok(ENT), not_found=NF_ENT)),
        "patch": op("Update-entitlement", "Entitlements", "Update entitlement",
                    "Update an entitlement: `name` is required; of the other fields, absent "
                    "keeps and null clears. Answers the entitlement as it now stands.",
                    [P_ENT], body=body_of("UpdateEntitlementRequestSchema"),
                    resp=responses(ok(ENT), body=True, not_found=NF_ENT)),
        "delete": op("Delete-entitlement", "Entitlements", "Delete entitlement",
                     "Delete an entitlement no customer entitlement row uses; answers it as "
                     "it was.", [P_ENT],
                     resp=responses(ok(ENT), not_found=NF_ENT,
                                    conflict="Customer entitlement rows still use the "
                                             "entitlement; nothing was deleted.")),
    },
    "/entitlements/{entitlement_id}/customer": {
        "post": op("Create-entitlement-customer", "Customer entitlements",
                   "Create entitlement customer",
                   "Grant the entitlement to a customer: create a customer entitlement row. "
                   "Answers the row.", [P_ENT],
                   body=body_of("CreateEntitlementCustomerRequestSchema"),
                   resp=responses(ok(ROW), body=True,
                                  not_found="The entitlement or the customer is not the "
                                            "caller's organisation's.",
                                  conflict="A row with the body's `id` exists already.")),
    },
    "/entitlements/{entitlement_id}/customer/{customer_id}/{ec_id}": {
        "get": op("Get-customer-entitlement", "Customer entitlements",
                  "Get customer entitlement",
                  "One customer entitlement row, in the shape of the PATCH answer.",
                  [P_ENT, P_CUST, P_EC],
                  resp=responses(ok(ROW), not_found=NF_ROW)),
        "patch": op("Update-customer-entitlement", "Customer entitlements",
                    "Update customer entitlement",
                    "Change the fields present in the body (absent keeps, null clears); "
                    "body `entitlement` and `customer` must name the path's. Answers the row "
                    "as it now stands.", [P_ENT, P_CUST, P_EC],
                    body=body_of("UpdateEntitlementCustomerRequestSchema"),
                    resp=responses(ok(ROW), body=True, not_found=NF_ROW)),
        "delete": op("Delete-customer-entitlement", "Customer entitlements",
                     "Delete customer entitlement",
                     "Delete a customer entitlement row; answers it as it was.",
                     [P_ENT, P_CUST, P_EC],
                     resp=responses(ok(ROW), not_found=NF_ROW)),
    },
    "/entitlements/{entitlement_id}/customer/{customer_id}/total": {
        "get": op("Get-total-customer-entitlements", "Customer entitlements",
                  "Get total customer entitlements",
                  "Sum of `quantity` over the pair's rows whose window `[active_from, "
                  "expiry_at)` overlaps `[start_date, end_date)`; without either bound, the "
                  "rows active now. Unknown query parameters are 422 `extra_forbidden`.",
                  TOTAL_PARAMS,
                  resp=responses(ok(ref("TotalEntitlementCustomerResponseSchema")),
                                 not_found="The entitlement or the customer is not the "
                                           "caller's organisation's.")),
    },
    "/entitlements/{entitlement_id}/customer/{customer_id}/consume": {
        "post": op("Consume-customer-entitlement", "Consumption", "Consume customer entitlement",
                   "Consume `quantity` of the entitlement for the customer at `at` (default "
                   "now): drawn, in one transaction, from the pair's rows active at `at` in "
                   "burn order (see `ConsumeResponse`), each row giving at most `max(0, "
                   "quantity - quantity_used)` (a row without a `quantity` gives whatever is "
                   "left). Never overdraws: when the active rows hold less, 409 and nothing "
                   "changes. Writes one ledger entry per row drawn from, all with the "
                   "answer's `ledger_seq`. With an `Idempotency-Key`, a retry is never "
                   "counted twice.", [P_ENT, P_CUST],
                   body=body_of("ConsumeRequest",
                                "A JSON object `{\"quantity\", \"at\"?}`; any other "
                                "member is 422 `extra_forbidden` (no content type, "
                                "`application/json` or `application/*+json`; another "
                                "content type is 422 `model_attributes_type`). Empty or "
                                "`null`: 422 `missing`; malformed JSON: 422 "
                                "`json_invalid`."),
                   resp=responses(
                       ok(ref("ConsumeResponse")), body=True,
                       not_found="The entitlement (`Entitlement not found`) or the customer "
                                 "(`Customer not found`) is not the caller's "
                                 "organisation's.",
                       conflict={"description": "The rows active at `at` hold less than "
                                                "`quantity`; nothing changed.",
                                 "content": json_content(ref("ConsumeShort"))},
                       unprocessable={
                           "description": R422_DETAIL + " Also `{\"detail\": \"A Feature "
                                          "entitlement has nothing to consume\"}` when the "
                                          "entitlement's `entitlement_type` is `Feature`.",
                           "content": R422_WRITE["content"]})),
    },
    "/entitlements/{entitlement_id}/customer/{customer_id}/balance": {
        "get": op("Get-customer-entitlement-balance", "Consumption",
                  "Get customer entitlement balance",
                  "The pair's balance at `at` (default now), computed from the ledger alone. "
                  "Unknown query parameters are 422 `extra_forbidden`.", BALANCE_PARAMS,
                  resp=responses(ok(ref("Balance")),
                                 not_found="The entitlement (`Entitlement not found`) or the "
                                           "customer (`Customer not found`) is not the "
                                           "caller's organisation's.")),
    },
    "/entitlements/customer/{customer_id}": {
        "get": op("List-customer-entitlements", "Customer entitlements",
                  "List customer entitlements",
                  "The customer's rows, each with its entitlement's `name`, `units` and "
                  "`type`; `search` looks in the entitlement's name." + LIST_NOTE,
                  LIST_CUSTOMER_ROWS,
                  resp=responses(ok(ref("EntitlementCustomerListResponse")),
                                 not_found=NF_CUST)),
    },
    "/entitlements/customer/unique/{customer_id}": {
        "get": op("List-unique-entitlements-for-customer", "Customer entitlements",
                  "List unique entitlements for customer",
                  "One item per entitlement the customer holds: the entitlement, the sums "
                  "of `quantity` and `quantity_used` over the rows not expired now, and the "
                  "number of expired rows; `search` looks in the entitlement's name."
                  + LIST_NOTE, LIST_UNIQUE,
                  resp=responses(ok(ref("UniqueEntitlementListResponse")),
                                 not_found=NF_CUST)),
    },
    "/entitlements/customer/{customer_id}/ledger": {
        "get": op("List-customer-ledger", "Consumption", "List customer ledger",
                  "The customer's ledger entries, oldest first (`sort_type=desc`: newest "
                  "first): one per row a change touched, `create` (POST of a row), `update` "
                  "(PATCH), `consume` and `delete`, made in the same transaction as the "
                  "change and never updated or deleted." + LIST_NOTE, LIST_LEDGER,
                  resp=responses(ok(ref("LedgerListResponse")), not_found=NF_CUST)),
    },
    "/entitlements/customers_balances": {
        "get": op("List-customer-entitlement-balances-with-advanced-filtering",
                  "Customer entitlements",
                  "List customer entitlement balances with advanced filtering",
                  "Rows of all the organisation's customers, filtered and sorted, each with "
                  "its entitlement's `name`, `units` and `type`; `populate` enriches "
                  "`customer` and adds `product`, `contract` and `invoice`; `search` looks in "
                  "the entitlement's and "
                  "the customer's names." + LIST_NOTE, LIST_BALANCES,
                  resp=responses(ok(ref("CustomerEntitlementBalanceListResponse")))),
    },
    "/customers": {
        "get": op("List-customers-with-filtering-and-pagination", "Customers",
                  "List customers with filtering and pagination",
                  "The organisation's customers; `search` takes `field=value` pairs or plain "
                  "text, `search_name_external_id` ranks a name or external id match."
                  + LIST_NOTE, LIST_CUSTOMERS,
                  resp=responses(ok(ref("CustomerListResponse")))),
        "post": op("Create-customer", "Customers", "Create customer",
                   "Create a customer; answers it.",
                   body=body_of("CreateCustomerRequestSchema"),
                   resp=dict(responses(ok(CUST), body=True), **{"400": R400_EMAIL})),
    },
    "/customers/{customer_id}": {
        "get": op("Get-customer-by-ID", "Customers", "Get customer by ID",
                  "One customer by its id.", [P_CUST],
                  resp=responses(ok(CUST), not_found=NF_CUST)),
        "patch": op("Update-customer", "Customers", "Update customer",
                    "Update a customer: every field optional; absent keeps, null clears "
                    "(`customer_name` cannot be cleared). Answers the customer as it now "
                    "stands.", [P_CUST], body=body_of("UpdateCustomerRequestSchema"),
                    resp=dict(responses(ok(CUST), body=True, not_found=NF_CUST),
                              **{"400": R400_EMAIL})),
        "delete": op("Delete-customer", "Customers", "Delete customer",
                     "Delete a customer no customer entitlement row uses; answers it as it "
                     "was.", [P_CUST],
                     resp=responses(ok(CUST), not_found=NF_CUST,
                                    conflict="Customer entitlement rows still use the "
                                             "customer; nothing was deleted.")),
    },
    "/customer": {
        "get": op("Legacy-list-customers", "Customers", "List customers (legacy path)",
                  "The same as `GET /customers`." + LIST_NOTE, LIST_CUSTOMERS,
                  resp=responses(ok(ref("CustomerListResponse")))),
        "post": op("Legacy-create-customer", "Customers", "Create customer (legacy path)",
                   "The same as `POST /customers`.",
                   body=body_of("CreateCustomerRequestSchema"),
                   resp=dict(responses(ok(CUST), body=True), **{"400": R400_EMAIL})),
    },
}

# --------------------------------------------------------------------------
# Headers every operation shares (issue 5): X-Request-Id on every operation
# and answer; Idempotency-Key on every POST, PATCH and DELETE, whose answers
# may be replays (Idempotent-Replayed) and whose 422 may be the key's reuse.

PRINTABLE = "^[\\x20-\\x7e]+$"  # printable ASCII, 0x20 to 0x7E
REQUEST_ID = {"type": "string", "minLength": 1, "maxLength": 128, "pattern": PRINTABLE}

H_REQUEST_ID = {
    "name": "X-Request-Id", "in": "header", "required": False,
    "description": "Your id for the request: when it is 1 to 128 printable ASCII characters "
                   "it is answered back in `X-Request-Id`, written in the log line and in "
                   "the ledger entries the request writes. Absent or of another form: the "
                   "server makes a UUID instead (never an error).",
    "schema": REQUEST_ID,
}
H_IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key", "in": "header", "required": False,
    "description": "Makes the request safe to retry: 1 to 255 printable ASCII characters "
                   "(0x20 to 0x7E), else 422 with one error, loc `[\"header\", "
                   "\"idempotency-key\"]` (`string_too_short`, `string_too_long` or "
                   "`string_pattern_mismatch`). Keys are per organisation, kept until an "
                   "operator prunes them (`entitled idempotency prune`).\n\n"
                   "The first request with a key runs; its answer (status and body; every "
                   "answer below 500, refusals such as 404, 409 and 422 included) is stored "
                   "in the same transaction as its effect. A later request with the key and "
                   "the same method, path and body gets that answer again, byte for byte, "
                   "with `Idempotent-Replayed: true`, and changes nothing. The key with "
                   "another method, path or body is 422 `{\"detail\": \"Idempotency-Key "
                   "was already used with a different request\"}` (not stored). A request "
                   "with a key in use by one still running waits for it and gets its answer "
                   "replayed. A 5xx is not stored and nothing of its request is kept: retry "
                   "with the key. Answers given before the operation runs (401, 403, 413) "
                   "do not look at the key.",
    "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": PRINTABLE},
}
RH_REQUEST_ID = {
    "description": "The request's `X-Request-Id`, or a UUID the server made when it sent "
                   "none of 1 to 128 printable ASCII characters.",
    "schema": REQUEST_ID,
}
RH_REPLAYED = {
    "description": "`true` when this is the stored answer of an earlier request with the "
                   "same `Idempotency-Key`, method, path and body (nothing was done again); "
                   "absent otherwise.",
    "schema": {"type": "string", "enum": ["true"]},
}
WRITES = ("post", "patch", "delete")
REPLAYABLE = ("200", "400", "404", "409", "422")  # the answers the operation itself gives


def shared_headers(paths):
    for item in paths.values():
        for method, o in list(item.items()):
            write = method in WRITES
            params = o.get("parameters", []) + (
                [H_REQUEST_ID, H_IDEMPOTENCY_KEY] if write else [H_REQUEST_ID])
            no = {k: v for k, v in o.items() if k not in ("parameters", "requestBody",
                                                          "responses")}
            no["parameters"] = params
            if "requestBody" in o:
                no["requestBody"] = o["requestBody"]
            item[method] = no
            out = {}
            for st, r in o["responses"].items():
                if write and st == "422" and r is R422:
                    r = R422_WRITE
                headers = dict(r.get("headers", {}))
                headers["X-Request-Id"] = RH_REQUEST_ID
                if write and st in REPLAYABLE:
                    headers["Idempotent-Replayed"] = RH_REPLAYED
                nr = {"description": r["description"], "headers": headers}
                nr.update({k: v for k, v in r.items() if k not in ("description", "headers")})
                out[st] = nr
            no["responses"] = out


shared_headers(PATHS)

DESCRIPTION = """\
entitled serves Zenskar's Entitlements API: entitlements, customers, and the \
customer entitlement rows that grant an entitlement to a customer, each \
organisation seeing only its own data; plus its own exact usage: consuming a \
customer's entitlement (never overdrawn, never counted twice), the balance at \
an instant, and an append-only ledger of every change of a row.

- **Keys.** Every operation but `/healthz`, `/openapi.json` and `/docs` takes \
two headers: `x-api-key` (made by `entitled apikey create`) and \
`organisation` (the organisation's UUID). Routing comes first: an unknown \
path is 404 `Not Found` and a known path with another method 405 `Method Not \
Allowed` (with `Allow`), whatever the headers. Then: no key, a bad key or no \
`organisation` is 401; another organisation's is 403.
- **Bodies** are JSON objects of at most 1 MiB (413 past that). Unknown \
fields are ignored (a consume's are 422 `extra_forbidden`).
- **Validation errors** are FastAPI's: 422 with `{"detail": [{"type", "loc", \
"msg", "input", "ctx"?}, ...]}`, pydantic v2's types and messages, every \
error of the request at once.
- **Other errors** are `{"detail": "<sentence>"}`: 400, 401, 403, 404, 405, \
409, 413, 500, 503 (with `Retry-After`) and 507 (the database's disk \
is full; nothing changed). A short consume's 409 adds \
`requested` and `available`; a 422 is `{"detail": "<sentence>"}` when an \
`Idempotency-Key` is reused with another request, or a Feature entitlement is \
consumed.
- **Request ids.** Every answer carries `X-Request-Id`: the request's own \
`X-Request-Id` when it is 1 to 128 printable ASCII characters, else a new \
UUID. It is in the log line and in the ledger entries the request wrote.
- **Idempotency.** Every POST, PATCH and DELETE accepts `Idempotency-Key`: \
the first request with a key runs and its answer is stored with its effect; \
the same request again with the key gets the same status and body, with \
`Idempotent-Replayed: true`, and changes nothing; the key with another \
request is 422. GET ignores it.
- **Date-times** are accepted as pydantic accepts them and written in UTC as \
`2026-01-31T12:00:00Z`, with `.ffffff` only when the fraction is not zero.
- **Numbers** are IEEE doubles written shortest (`500`, `12.5`); NaN, \
infinities and numbers too large for a double are 422 `finite_number`.
- **UUIDs** are accepted in any form pydantic accepts and written in lower \
case.
- **Lists** answer `{"results", "next", "previous", "total_count"}` (customers: \
`{"data", "next", "previous", "total"}`) with keyset cursors: a walk returns \
every row that existed throughout exactly once.
"""

TAGS = [
    {"name": "Entitlements", "description": "The catalogue of entitlements."},
    {"name": "Customer entitlements",
     "description": "Rows granting an entitlement to a customer, with a window "
                    "`[active_from, expiry_at)` and quantities; lists, totals and balances."},
    {"name": "Consumption",
     "description": "entitled's own: consuming a customer's entitlement, the balance at an "
                    "instant, and the ledger of every change of a row."},
    {"name": "Customers", "description": "The organisation's customers."},
    {"name": "Service", "description": "Health, this document and its page; no key needed."},
]


def document():
    return {
        "openapi": "3.1.0",
        "info": {"title": "entitled", "version": "0.1.0", "description": DESCRIPTION},
        "servers": [{"url": "http://127.0.0.1:8080"}],
        "security": [{"ApiTokenAuth": [], "OrganisationAuth": []}],
        "tags": TAGS,
        "paths": PATHS,
        "components": {
            "securitySchemes": {
                "ApiTokenAuth": {"type": "apiKey", "in": "header", "name": "x-api-key",
                                 "description": "An API key, `ek_<16 hex>_<43 base64url>`, "
                                               "made by `entitled apikey create`."},
                "OrganisationAuth": {"type": "apiKey", "in": "header", "name": "organisation",
                                     "description": "The key's organisation's UUID."},
            },
            "schemas": SCHEMAS,
        },
    }


def render():
    return json.dumps(document(), indent=2, ensure_ascii=False) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true",
                    help="exit 1 when docs/openapi.json differs from what would be written")
    ap.add_argument("--out", default=OUT, help="where to write (default docs/openapi.json)")
    args = ap.parse_args()
    text = render()
    if args.check:
        try:
            with open(args.out, encoding="utf-8") as f:
                cur = f.read()
        except OSError:
            cur = None
        if cur != text:
            sys.stderr.write("%s is stale: run python3 tools/gen_openapi.py\n" % args.out)
            return 1
        return 0
    if args.out == "-":
        sys.stdout.write(text)
        return 0
    tmp = args.out + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
