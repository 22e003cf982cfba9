#!/usr/bin/env python3
"""Write tests/vectors/patch.json: requests to the seed operation
PATCH /entitlements/{entitlement_id}/customer/{customer_id}/{ec_id} and the
answer Zenskar's FastAPI would give them, computed here with the machine's
pydantic (2.13.4) and an emulation of FastAPI's request handling (FastAPI is
not installed; what is emulated is written next to each step below), plus
the rules entitled adds (see `about` in the output and docs of the API).

Run with the machine's python3: python3 tools/gen_vectors.py
The tests that read the file need no pydantic.
"""
import base64
import json
import math
import os
import re
import sys
import uuid
from datetime import datetime, timezone
from typing import Annotated, Optional

import pydantic
from decimal import Decimal

from pydantic import AfterValidator, BaseModel, Field, TypeAdapter, ValidationError
from pydantic_core import PydanticCustomError

sys.dont_write_bytecode = True  # no __pycache__ beside the tools
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gen_json_vectors import py_expect, python_outcome  # noqa: E402

# ---- the model ----------------------------------------------------------------

def entitled_decimal(v):
    """entitled's rule for quantities (issue 13, src/domain/dec.h): the float
    becomes the decimal of its shortest text (repr), which must have at most
    6 decimal places and then be below 10^12, else a 422 with pydantic's
    own condecimal error types and words."""
    d = Decimal(repr(v))
    if d.as_tuple().exponent < -6:
        raise PydanticCustomError("decimal_max_places",
                                  "Decimal input should have no more than {decimal_places} "
                                  "decimal places", {"decimal_places": 6})
    if abs(d) >= Decimal(10) ** 12:
        raise PydanticCustomError("decimal_whole_digits",
                                  "Decimal input should have no more than {whole_digits} digits "
                                  "before the decimal point", {"whole_digits": 12})
    return v


Q = Annotated[float, Field(ge=0, allow_inf_nan=False), AfterValidator(entitled_decimal)]


class UpdateEntitlementCustomerRequestSchema(BaseModel):
    entitlement: str
    customer: str
    expiry_at: Optional[datetime] = None
    active_from: Optional[datetime] = None
    quantity: Optional[Q] = None
    quantity_used: Optional[Q] = None


# FastAPI (pydantic v2) validates a body model through a TypeAdapter with
# from_attributes=True: that is why a body that is not an object gives
# "model_attributes_type" rather than "model_type".
BODY = TypeAdapter(UpdateEntitlementCustomerRequestSchema)
UUID = TypeAdapter(uuid.UUID)
PATH_PARAMS = ("entitlement_id", "customer_id", "ec_id")
PARSE_ERROR = "There was an error parsing the body"

# ---- ids and placeholders ---------------------------------------------------------

# Fixed ids with hex letters, so that the upper-case form differs.
IDS = {
    "E": "aaaaaaaa-1111-4111-8111-0000000000e1",
    "C": "cccccccc-2222-4222-8222-0000000000c2",
    "R": "bbbbbbbb-3333-4333-8333-0000000000b3",
}
FORMS = {
    "": lambda u: u,
    "upper": lambda u: u.upper(),
    "simple": lambda u: u.replace("-", ""),
    "urn": lambda u: "urn:uuid:" + u,
    "braced": lambda u: "{" + u + "}",
}
PLACEHOLDER = re.compile(r"\{([ECR])(?::(upper|simple|urn|braced))?\}")


def subst(text):
    return PLACEHOLDER.sub(lambda m: FORMS[m.group(2) or ""](IDS[m.group(1)]), text)


def unsubst(v):
    """Fixed ids back to placeholders, in every string of v."""
    if isinstance(v, str):
        # longest forms first: braced and urn contain the plain form
        for form in ("braced", "urn", "", "upper", "simple"):
            for k, u in IDS.items():
                v = v.replace(FORMS[form](u), "{%s%s}" % (k, ":" + form if form else ""))
        return v
    if isinstance(v, list):
        return [unsubst(x) for x in v]
    if isinstance(v, dict):
        return {unsubst(k): unsubst(x) for k, x in v.items()}
    return v


# ---- writing JSON with the body's own literals ----------------------------------

INT64 = (-(2**63), 2**63 - 1)


def needs_text(v):
    """True when v holds a number plain JSON tools cannot carry: a non-finite
    float, or an int outside int64 (jansson refuses both)."""
    if isinstance(v, bool) or v is None or isinstance(v, str):
        return False
    if isinstance(v, int):
        return not INT64[0] <= v <= INT64[1]
    if isinstance(v, float):
        return not math.isfinite(v)
    if isinstance(v, list):
        return any(needs_text(x) for x in v)
    if isinstance(v, dict):
        return any(needs_text(x) for x in v.values())
    raise TypeError(type(v))


def dump_text(v, literals):
    """JSON text of v, a non-finite float written as the body's literal."""
    if isinstance(v, float) and not math.isfinite(v):
        return literals["+" if v > 0 else "-"]
    if isinstance(v, list):
        return "[" + ",".join(dump_text(x, literals) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ",".join(json.dumps(k) + ":" + dump_text(x, literals)
                              for k, x in v.items()) + "}"
    return json.dumps(v)


NUMBER = re.compile(r'"(?:[^"\\]|\\.)*"|(-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?)')


def overflow_literals(text):
    """The number literals of a body that are infinite as Python floats,
    by sign; each sign must use a single spelling in one vector."""
    found = {}
    for m in NUMBER.finditer(text):
        lit = m.group(1)
        if lit and re.search(r"[.eE]", lit) and math.isinf(float(lit)):
            sign = "-" if lit.startswith("-") else "+"
            assert found.setdefault(sign, lit) == lit, "one spelling per sign: %s" % text
    return found


# ---- FastAPI, emulated ----------------------------------------------------------------


def missing_body():
    # fastapi._compat.get_missing_field_error(loc=("body",))
    return {"type": "missing", "loc": ["body"], "msg": "Field required", "input": None}


def with_loc(errors, prefix):
    # fastapi.routing._regenerate_error_with_loc
    return [{**e, "loc": list(prefix) + list(e["loc"])} for e in errors]


def ctx_ints(errors):
    """ctx values that are integral floats written as ints (ge 0.0 -> 0): our
    server writes the shortest number; `input` echoes are left as they are."""
    for e in errors:
        if "ctx" in e:
            e["ctx"] = {k: int(x) if isinstance(x, float) and x.is_integer() else x
                        for k, x in e["ctx"].items()}
    return errors


def utc_text(dt):
    if dt.tzinfo is not None:
        dt = dt.replace(tzinfo=None) - dt.utcoffset()
    text = "%04d-%02d-%02dT%02d:%02d:%02d" % (dt.year, dt.month, dt.day, dt.hour, dt.minute,
                                              dt.second)
    if dt.microsecond:
        text += ".%06d" % dt.microsecond
    return text + "Z"


def as_utc(dt):
    return dt.replace(tzinfo=timezone.utc) if dt.tzinfo is None else dt


def answer(path, body_bytes):
    """(status, detail or None, expect or None) for the request."""
    # 1. The body is read before anything is validated (fastapi.routing
    #    get_request_handler): json.loads(bytes); JSONDecodeError -> 422
    #    json_invalid alone; any other exception -> 400. NaN / Infinity are
    #    refused as "Expecting value" (our decision, pyjson.h).
    body = None
    if body_bytes:
        py = python_outcome(body_bytes)
        if "exception" in py:
            return 400, PARSE_ERROR, None
        ex = py_expect(body_bytes)
        if ex["rc"] == "invalid":
            return 422, [{"type": "json_invalid", "loc": ["body", ex["pos"]],
                          "msg": "JSON decode error", "input": {},
                          "ctx": {"error": ex["msg"]}}], None
        assert ex["rc"] == "ok", (body_bytes, ex)
        body = json.loads(body_bytes)

    # 2. Path parameters, in the order of the signature, then the body.
    errors, ids = [], {}
    for name in PATH_PARAMS:
        try:
            ids[name] = UUID.validate_python(path[name])
        except ValidationError as e:
            errors += with_loc(e.errors(include_url=False), ("path", name))
    model = None
    if body is None:  # no bytes, or JSON null: the required body is missing
        errors.append(missing_body())
    else:
        try:
            model = BODY.validate_python(body, from_attributes=True)
        except ValidationError as e:
            errors += with_loc(e.errors(include_url=False), ("body",))

    # 3. entitled's own rules, once the request is otherwise valid.
    if not errors:
        for field, param in (("entitlement", "entitlement_id"), ("customer", "customer_id")):
            try:
                same = UUID.validate_python(getattr(model, field)) == ids[param]
            except ValidationError:
                same = False
            if not same:
                errors.append({"type": "value_error", "loc": ["body", field],
                               "msg": "Value error, %s does not match %s in the path"
                               % (field, param),
                               "input": body[field]})
    if not errors and model.active_from is not None and model.expiry_at is not None:
        if as_utc(model.active_from) > as_utc(model.expiry_at):
            errors.append({"type": "value_error", "loc": ["body", "active_from"],
                           "msg": "Value error, active_from must not be after expiry_at",
                           "input": body["active_from"]})
    if errors:
        return 422, ctx_ints(errors), None

    expect = {"id": "{R}", "entitlement": "{E}", "customer": "{C}"}
    for f in ("expiry_at", "active_from", "quantity", "quantity_used"):
        if f in model.model_fields_set:
            v = getattr(model, f)
            expect[f] = None if v is None else utc_text(v) if isinstance(v, datetime) else v
    return 200, None, expect


# ---- the vectors ------------------------------------------------------------------------

P = {"entitlement_id": "{E}", "customer_id": "{C}", "ec_id": "{R}"}
IDS_BODY = '"entitlement": "{E}", "customer": "{C}"'


def body(extra=""):
    return "{" + IDS_BODY + (", " + extra if extra else "") + "}"


def vectors():
    v = []

    def add(name, text=None, path=None, raw=None, note=None):
        v.append((name, path or P, text, raw, note))

    # ---- valid requests (200)
    add("minimal body", body())
    add("all fields", body('"expiry_at": "2026-01-31T12:00:00Z", '
                           '"active_from": "2026-01-01T00:00:00Z", "quantity": 12.5, '
                           '"quantity_used": 2'))
    add("all fields cleared with null", body('"expiry_at": null, "active_from": null, '
                                             '"quantity": null, "quantity_used": null'))
    add("upper-case body ids match", '{"entitlement": "{E:upper}", "customer": "{C:upper}"}')
    add("braced and urn body ids match", '{"entitlement": "{E:braced}", "customer": "{C:urn}"}')
    add("32-hex body ids match", '{"entitlement": "{E:simple}", "customer": "{C:simple}"}')
    add("upper-case path ids", body(),
        path={"entitlement_id": "{E:upper}", "customer_id": "{C:upper}", "ec_id": "{R:upper}"})
    add("urn path id", body(), path={**P, "entitlement_id": "{E:urn}"})
    add("32-hex path id", body(), path={**P, "ec_id": "{R:simple}"})
    add("braced path id", body(), path={**P, "customer_id": "{C:braced}"})
    add("quantity int", body('"quantity": 12'))
    add("quantity numeric string", body('"quantity": "12.5"'))
    add("quantity string with spaces", body('"quantity": " 12 "'))
    add("quantity string with underscore", body('"quantity": "1_000"'))
    add("quantity string with exponent", body('"quantity": "1e3"'))
    add("quantity true is 1", body('"quantity": true'), note="pydantic's lax float takes a bool")
    add("quantity false is 0", body('"quantity": false'))
    add("quantity int beyond int64", body('"quantity": 1000000000000000000000000000000'),
        note="a Python int of 31 digits is a valid float (1e30)")
    add("quantity 1e308", body('"quantity": 1e308'))
    add("quantity -0", body('"quantity": -0'))
    add("quantity -0.0", body('"quantity": -0.0'), note="-0.0 >= 0 holds")
    add("quantity 1E+2", body('"quantity": 1E+2'))
    add("quantity smallest subnormal", body('"quantity": 5e-324'))
    add("quantity_used only", body('"quantity_used": 3.25'))
    add("expiry_at with offset", body('"expiry_at": "2026-01-31T12:00:00+05:30"'))
    add("expiry_at with -00:00", body('"expiry_at": "2026-01-31T12:00:00-00:00"'))
    add("expiry_at offset without colon", body('"expiry_at": "2026-01-31T12:00:00+0530"'))
    add("expiry_at lower-case t and z", body('"expiry_at": "2026-01-31t12:00:00z"'))
    add("expiry_at fraction of 9 digits", body('"expiry_at": "2026-01-31T12:00:00.123456789Z"'),
        note="digits past the microsecond are dropped, not rounded")
    add("expiry_at fraction of 1 digit", body('"expiry_at": "2026-01-31T12:00:00.5Z"'))
    add("expiry_at fraction with comma", body('"expiry_at": "2026-01-31T12:00:00,25Z"'))
    add("expiry_at space separator, naive", body('"expiry_at": "2026-01-31 12:00:00"'),
        note="a naive date-time is taken as UTC")
    add("expiry_at underscore separator", body('"expiry_at": "2026-01-31_12:00:00"'))
    add("expiry_at without seconds", body('"expiry_at": "2026-01-31T12:00"'))
    add("expiry_at date only", body('"expiry_at": "2026-01-31"'), note="midnight UTC")
    add("expiry_at unix seconds int", body('"expiry_at": 1700000000'))
    add("expiry_at unix seconds float", body('"expiry_at": 1700000000.5'))
    add("expiry_at unix seconds string", body('"expiry_at": "1700000000"'))
    add("expiry_at unix milliseconds", body('"expiry_at": 1700000000123'),
        note="past 2e10 the number is milliseconds")
    add("expiry_at 2e10 is still seconds", body('"expiry_at": 20000000000'))
    add("expiry_at negative unix seconds", body('"expiry_at": -1'))
    add("expiry_at leap day", body('"expiry_at": "2024-02-29T00:00:00Z"'))
    add("expiry_at largest", body('"expiry_at": "9999-12-31T23:59:59.999999Z"'))
    add("active_from equal to expiry_at", body('"active_from": "2026-01-01T00:00:00Z", '
                                               '"expiry_at": "2026-01-01T00:00:00Z"'))
    add("bounds ordered in UTC, not as text",
        body('"active_from": "2026-01-01T10:00:00+02:00", "expiry_at": "2026-01-01T09:00:00Z"'))
    add("active_from only", body('"active_from": "2026-03-01T00:00:00Z", "expiry_at": null'))
    add("unknown fields ignored", body('"id": "nope", "status": 7, "foo": {"bar": [1e400]}'),
        note="unknown fields are ignored, whatever they hold")
    add("duplicate key, last wins", body('"quantity": -1, "quantity": 5'))
    add("duplicate entitlement, last wins", '{"entitlement": "x", "customer": "{C}", '
        '"entitlement": "{E}"}')
    add("pretty-printed body", '{\n\t"entitlement" : "{E}" ,\r\n  "customer":"{C}",\n'
        '  "quantity" : 7\n}\n')
    add("utf-8 BOM before the body", "\ufeff" + body('"quantity": 1'))
    add("unicode in an unknown field", body('"note": "café 日本 🎉 \\u00e9\\ud83c\\udf89"'))

    # ---- malformed JSON (422 json_invalid, alone)
    add("json: missing comma", '{"entitlement": "{E}" "customer": "{C}"}')
    add("json: trailing comma", body('"quantity": 1,'))
    add("json: single quotes", "{'entitlement': '{E}'}")
    add("json: unterminated string", '{"customer": "{C}", "entitlement": "{E}')
    add("json: quote missing before a key", '{"entitlement": "{E}, "customer": "{C}"}')
    add("json: truncated", '{"entitlement": "{E}", ')
    add("json: extra data", body() + " x")
    add("json: two objects", body() + body())
    add("json: NaN", body('"quantity": NaN'),
        note="refused as JSON (our decision); FastAPI would fail with 500 rendering NaN")
    add("json: Infinity", body('"quantity": Infinity'), note="refused as JSON (our decision)")
    add("json: -Infinity", body('"quantity_used": -Infinity'),
        note="refused as JSON (our decision)")
    add("json: not JSON at all", "hello")
    add("json: raw tab in a string", '{"entitlement": "a\tb"}')
    add("json: unicode before the error", '{"note": "日本語 🎉", "entitlement" "{E}"}',
        note="pos counts code points")
    add("json: error with bad path ids", '{"quantity": }',
        path={"entitlement_id": "nope", "customer_id": "123", "ec_id": "{R}"},
        note="the body is read before the path is validated")
    add("json: whitespace only", "  \n ")
    add("json: invalid escape", '{"entitlement": "\\x41"}')
    add("json: comment", body('"quantity": 1 /* units */'))
    add("json: minus alone", body('"quantity": -'))
    add("json: leading zero", body('"quantity": 012'))

    # ---- bodies that cannot be read (400)
    add("not UTF-8: latin-1 byte", raw=b'{"entitlement": "caf\xe9"}')
    add("not UTF-8: stray byte", raw=b"\xff")
    add("integer of 4301 digits", body('"quantity": ' + "1" * 4301),
        note="Python's int limit raises ValueError: FastAPI answers 400")
    add("nesting past Python's recursion limit", body('"x": ' + "[" * 5000 + "]" * 5000),
        note="RecursionError: FastAPI answers 400; pyjson refuses past depth 64")

    # ---- body missing or not an object
    add("empty body", "")
    add("empty body and bad path", "", path={**P, "ec_id": "123"})
    add("JSON null body", "null")
    add("empty array body", "[]")
    add("array body", '[{"entitlement": "{E}", "customer": "{C}"}]')
    add("string body", '"{E}"')
    add("number body", "5")
    add("boolean body", "true")
    add("real body", "1.5")
    add("UTF-16 body, fields missing", raw=b"\xff\xfe" + '{"quantity": "x"}'.encode("utf-16-le"),
        note="json.loads reads UTF-16 too")

    # ---- required fields
    add("empty object", "{}")
    add("customer missing", '{"entitlement": "{E}", "quantity": 2}')
    add("entitlement missing", '{"customer": "{C}", "expiry_at": "2026-01-31T12:00:00Z"}')
    add("entitlement null", '{"entitlement": null, "customer": "{C}"}')
    add("customer null", '{"entitlement": "{E}", "customer": null}')
    add("entitlement int", '{"entitlement": 123, "customer": "{C}"}')
    add("entitlement real", '{"entitlement": 1.5, "customer": "{C}"}')
    add("entitlement bool", '{"entitlement": true, "customer": "{C}"}')
    add("entitlement list", '{"entitlement": ["{E}"], "customer": "{C}"}')
    add("entitlement object", '{"entitlement": {"id": "{E}"}, "customer": "{C}"}')
    add("customer int", '{"entitlement": "{E}", "customer": 42}')
    add("customer real", '{"entitlement": "{E}", "customer": 4.5}')
    add("customer bool", '{"entitlement": "{E}", "customer": false}')
    add("customer object", '{"entitlement": "{E}", "customer": {}}')
    add("both ids wrong types", '{"entitlement": false, "customer": []}')

    # ---- quantities
    add("quantity not a number", body('"quantity": "abc"'))
    add("quantity empty string", body('"quantity": ""'))
    add("quantity hex string", body('"quantity": "0x10"'))
    add("quantity list", body('"quantity": [1]'))
    add("quantity object", body('"quantity": {"value": 1}'))
    add("quantity negative", body('"quantity": -1'))
    add("quantity negative real", body('"quantity": -0.5'))
    add("quantity negative string", body('"quantity": "-1"'))
    add("quantity huge negative", body('"quantity": -1e308'))
    add("quantity string nan", body('"quantity": "nan"'))
    add("quantity string inf", body('"quantity": "inf"'))
    add("quantity string Infinity", body('"quantity": "-Infinity"'))
    add("quantity 1e400", body('"quantity": 1e400'),
        note="echoed as the literal; FastAPI would fail with 500 rendering inf")
    add("quantity -1e400", body('"quantity": -1e400'))
    add("quantity 1e309", body('"quantity": 1e309'))
    add("quantity_used 1e400 and echo in missing", '{"entitlement": "{E}", "quantity_used": 1e400}')
    add("quantity_used not a number", body('"quantity_used": "ten"'))
    add("quantity_used object", body('"quantity_used": {}'))
    add("quantity_used null and quantity 0", body('"quantity_used": null, "quantity": 0'))
    add("quantity_used negative", body('"quantity_used": -3'))
    add("quantity_used bool list", body('"quantity_used": [true]'))

    # ---- date-times
    for name, value in [
        ("day out of range", '"2026-02-30T00:00:00Z"'),
        ("not a leap year", '"2023-02-29"'),
        ("month 13", '"2026-13-01T00:00:00Z"'),
        ("year 0000", '"0000-01-01T00:00:00Z"'),
        ("year 10000", '"10000-01-01T00:00:00Z"'),
        ("hour 25", '"2026-01-31T25:00:00Z"'),
        ("hour 24", '"2026-01-31T24:00:00Z"'),
        ("second 60", '"2026-01-31T12:00:60Z"'),
        ("offset +25:00", '"2026-01-31T12:00:00+25:00"'),
        ("hour only", '"2026-01-31T12"'),
        ("one-digit month", '"2026-1-31"'),
        ("day first", '"31/01/2026"'),
        ("leading space", '" 2026-01-31T12:00:00Z"'),
        ("word", '"tomorrow"'),
        ("empty string", '""'),
        ("bool", "true"),
        ("list", '["2026-01-31T12:00:00Z"]'),
        ("object", '{}'),
        ("unix seconds too large", "1e20"),
        ("int beyond int64", "100000000000000000000000000000"),
        ("string nan", '"nan"'),
    ]:
        add("expiry_at " + name, body('"expiry_at": ' + value))
    add("active_from bad, expiry_at bad", body('"active_from": "x", "expiry_at": 1e20'))
    add("active_from 1e400", body('"active_from": 1e400'))
    add("active_from bool", body('"active_from": false'))
    add("active_from list", body('"active_from": []'))
    add("active_from real unix seconds", body('"active_from": 0.25'))

    # ---- path ids
    add("path entitlement_id short", body(), path={**P, "entitlement_id": "123"})
    add("path customer_id not hex", body(),
        path={**P, "customer_id": "zzzzzzzz-zzzz-zzzz-zzzz-zzzzzzzzzzzz"})
    add("path ec_id one char too long", body(), path={**P, "ec_id": "{R}0"})
    add("path ec_id brace not closed", body(), path={**P, "ec_id": "{{R}"})
    add("path ec_id with bad group", body(),
        path={**P, "ec_id": "bbbbbbbb-3333-4333-8333-0000000000b"})
    add("path all three bad and body bad", '{"quantity": -1}',
        path={"entitlement_id": "x", "customer_id": "not-a-uuid", "ec_id": "12345"})
    add("path bad, body ids mismatched", '{"entitlement": "other", "customer": "{C}"}',
        path={**P, "ec_id": "nope"}, note="our rules apply only to an otherwise valid request")

    # ---- our rules: ids in the body, and the window
    add("entitlement differs from path",
        '{"entitlement": "99999999-9999-4999-8999-999999999999", "customer": "{C}"}')
    add("customer differs from path",
        '{"entitlement": "{E}", "customer": "99999999-9999-4999-8999-999999999999"}')
    add("both ids differ", '{"entitlement": "{C}", "customer": "{E}"}')
    add("entitlement not a UUID", '{"entitlement": "abc", "customer": "{C}"}')
    add("entitlement with a space", '{"entitlement": " {E}", "customer": "{C}"}')
    add("active_from after expiry_at", body('"active_from": "2026-02-01T00:00:00Z", '
                                            '"expiry_at": "2026-01-01T00:00:00Z"'))
    add("active_from after expiry_at, unix seconds",
        body('"active_from": 1700000001, "expiry_at": 1700000000'))
    add("active_from after expiry_at in UTC only",
        body('"active_from": "2026-01-01T09:00:00Z", "expiry_at": "2026-01-01T10:00:00+02:00"'))
    add("active_from one microsecond after",
        body('"active_from": "2026-01-01T00:00:00.000001Z", "expiry_at": "2026-01-01"'))
    add("ids mismatch and window reversed", '{"entitlement": "{E}", "customer": "x", '
        '"active_from": "2027-01-01", "expiry_at": "2026-01-01"}',
        note="the window is checked only when the ids match")
    add("field error and ids mismatch", '{"entitlement": "x", "customer": "y", "quantity": -1}',
        note="our rules apply only to an otherwise valid request")
    return v


ABOUT = (
    "Vectors for PATCH /entitlements/{entitlement_id}/customer/{customer_id}/{ec_id}, made "
    "by tools/gen_vectors.py with pydantic (version below) and an emulation of FastAPI: "
    "do not edit. "
    "Placeholders: {E}, {C}, {R} are the seeded entitlement, customer and row ids, lower-case "
    "hyphenated; {X:upper}, {X:simple} (32 hex digits), {X:urn} (urn:uuid:...) and "
    "{X:braced} ({...}) are other spellings of the same id. Replace them in `path` values, "
    "in `body`, and in every string of `detail` / `detail_text` / `expect`; then "
    "percent-encode each path value as one segment. "
    "Send `body` as UTF-8, or the bytes of `body_b64` as they are (no placeholders there); "
    "an empty `body` means no body at all; Content-Type: application/json. "
    "The seeded row has active_from, expiry_at, quantity and quantity_used null. "
    "`status` is the answer's status. For 400 `detail` is the string FastAPI gives. For 422 "
    "the expected detail list is `detail`, or, when it holds a number that plain JSON tools "
    "cannot carry (an int outside int64 or a non-finite float such as the body's 1e400), "
    "`detail_text`: the JSON text of the list with those numbers written as the body wrote "
    "them (parse it with Python's json.loads). Compare parsed values: numbers by value "
    "(12 == 12.0), objects without regard to key order. "
    "`ctx` values are written as the server writes numbers (ge: 0, not 0.0); `input` echoes "
    "are the request's values. "
    "For 200, `expect` gives the fields of the answer that the request fixes: id, "
    "entitlement and customer (lower-case) and each of expiry_at, active_from, quantity, "
    "quantity_used present in the body; date-times in UTC as YYYY-MM-DDTHH:MM:SS[.ffffff]Z. "
    "Rules on top of pydantic, applied only when the path and body are otherwise valid: "
    "the body's entitlement and customer must be UUIDs (any spelling pydantic accepts) equal "
    "to the path's (value_error at [body, entitlement] then [body, customer], input echoed); "
    "then, if both are set, active_from must not be after expiry_at (value_error at "
    "[body, active_from]). Quantities are exact decimals (issue 13): the float's shortest "
    "text must have at most 6 decimal places (decimal_max_places) and be below 10^12 "
    "(decimal_whole_digits), checked with the field's other rules. "
    "Where FastAPI itself would differ, `note` says so.")


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out = os.path.join(root, "tests", "vectors", "patch.json")
    result, names = [], set()
    for name, path, text, raw, note in vectors():
        assert name not in names, name
        names.add(name)
        if raw is not None:
            assert not PLACEHOLDER.search(raw.decode("latin-1")), name
            body_bytes = raw
        else:
            body_bytes = subst(text).encode("utf-8")
        status, detail, expect = answer({k: subst(x) for k, x in path.items()}, body_bytes)
        vec = {"name": name, "path": path}
        if raw is not None:
            vec["body_b64"] = base64.b64encode(raw).decode("ascii")
        else:
            vec["body"] = text
        vec["status"] = status
        if status == 200:
            vec["expect"] = unsubst(expect)
            assert not needs_text(expect), name
        elif isinstance(detail, str):
            vec["detail"] = detail
        else:
            detail = unsubst(detail)
            if needs_text(detail):
                vec["detail_text"] = dump_text(detail, overflow_literals(text))
                assert json.loads(vec["detail_text"]) == detail, name
            else:
                vec["detail"] = detail
        if note:
            vec["note"] = note
        result.append(vec)
    doc = {"about": ABOUT, "pydantic": pydantic.VERSION, "python": sys.version.split()[0],
           "vectors": result}
    text = json.dumps(doc, ensure_ascii=True, indent=1, allow_nan=False) + "\n"
    with open(out, "w", encoding="ascii") as f:
        f.write(text)
    n422 = sum(1 for x in result if x["status"] == 422)
    n200 = sum(1 for x in result if x["status"] == 200)
    n400 = sum(1 for x in result if x["status"] == 400)
    print("%d vectors (%d x 422, %d x 200, %d x 400) -> %s" % (len(result), n422, n200, n400, out))


if __name__ == "__main__":
    main()
