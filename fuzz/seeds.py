#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets into fuzz/corpus/<target>/:
a few dozen small, named inputs each, valid and invalid, partly taken from
the test vectors (tests/vectors/*.json). The corpus of `pyjson` is kept as it
is (it predates this script). Run it again after changing it; it replaces the
files it writes and leaves any other file in place.

    python3 fuzz/seeds.py
"""
import base64
import json
import os
import struct
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CORPUS = os.path.join(ROOT, "fuzz", "corpus")
VECTORS = os.path.join(ROOT, "tests", "vectors")

# The path ids fuzz_body.c uses.
E = "00000000-0000-4000-8000-000000000001"
C = "00000000-0000-4000-8000-000000000002"
R = "00000000-0000-4000-8000-000000000003"


def write(target, name, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode("utf-8", "surrogatepass")
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def vectors(name):
    with open(os.path.join(VECTORS, name)) as f:
        return json.load(f)


def spell(ident, how):
    u = uuid.UUID(ident)
    return {"upper": str(u).upper(), "simple": u.hex, "urn": u.urn, "braced": "{%s}" % u}[how]


def placeholders(text):
    for key, ident in (("E", E), ("C", C), ("R", R)):
        for how in ("upper", "simple", "urn", "braced"):
            text = text.replace("{%s:%s}" % (key, how), spell(ident, how))
        text = text.replace("{%s}" % key, ident)
    return text


def body_seeds():
    vs = vectors("patch.json")["vectors"]
    picked = {}
    for i, v in enumerate(vs):
        if "body_b64" in v:
            data = base64.b64decode(v["body_b64"])
        else:
            data = placeholders(v["body"]).encode("utf-8", "surrogatepass")
        if len(data) > 512 or data in picked.values():
            continue
        # every third vector, and all the refusals of a kind not seen yet
        if i % 3 == 0:
            picked["patch-%03d" % i] = data
    for name, data in picked.items():
        write("body", name, data)
    deep = '{"customer_name": "deep", "custom_data": %s}' % ('{"d": [' * 31 + "1" + "]}" * 31)
    bodies = {
        "customer-create": '{"customer_name": "Acme", "external_id": "ext-1", "email": "a@b.c"}',
        "customer-full": json.dumps({
            "customer_name": "Acme", "external_id": "x" * 20, "custom_data": {"k": [1, 2.5, None]},
            "address": {"line1": "1 Main St", "city": "Paris", "connector_validation": {}},
            "ship_to_address": {"country": "FR"},
            "tax_info": [{"country_code": "FR", "tax_code": "VAT", "tax_id": "123"}],
            "phone_number": "+33", "connector": {"name": "n", "reference_id": "r"},
            "communications_enabled": "yes", "auto_charge_enabled": 0,
            "business_entity_id": spell(E, "braced")}),
        "customer-bad-nested": json.dumps({
            "customer_name": 5, "address": [], "tax_info": [{"country_code": 1}, 7],
            "connector": {"name": {}}, "communications_enabled": "maybe",
            "business_entity_id": "\u0000"}),
        "customer-update-null": '{"customer_name": null, "address": null, "tax_info": null}',
        "customer-deep": deep,
        "entitlement-create": '{"name": "API calls", "entitlement_type": "Quantity", "units": "calls", "is_active": true, "product_id": "%s"}' % E,
        "entitlement-bad-enum": '{"name": "x", "entitlement_type": "quantity", "is_active": "perhaps"}',
        "grant-create": json.dumps({
            "id": R, "entitlement": E, "customer": C, "expiry_at": "2027-01-01T00:00:00Z",
            "active_from": 1700000000, "quantity": "1_000", "quantity_used": 0.5,
            "contract_id": None, "source_type": "manual", "block_amount": -3,
            "numeric_value": "1e3", "status": "active"}),
        "consume": '{"quantity": 2.5, "at": "2026-01-31T12:00:00Z"}',
        "consume-zero-extra": '{"quantity": 0, "at": null, "note": 1}',
        "uuid-nul": '{"id": "00000000-0000-4000-8000-00000000000\\u0000", "product_id": "\\u0000"}',
        "big-numbers": '{"quantity": 123456789012345678901234567890, "numeric_value": -1e400, "expiry_at": 1e400}',
        "deep-echo": '{"customer_name": %s}' % ("[" * 62 + "]" * 62),
        "string-too-long": '{"customer_name": "n", "external_id": "%s"}' % ("\u00e9" * 256),
    }
    for name, text in bodies.items():
        write("body", name, text)


def dt_seeds():
    vs = vectors("datetime.json")
    seen = set()
    k = 0
    for i, v in enumerate(vs):
        if v.get("kind") != "str" or not isinstance(v.get("input"), str):
            continue
        if i % 4 and not (v.get("ok") is False and v.get("type") not in seen):
            continue
        seen.add(v.get("type"))
        write("dt", "vector-%03d" % i, v["input"])
        k += 1
    extra = {
        "plain": "2026-01-31T12:00:00Z", "fraction": "2026-01-31T12:00:00.123456Z",
        "min": "0001-01-01T00:00:00Z", "max": "9999-12-31T23:59:59.999999Z",
        "offset-past-max": "9999-12-31T23:59:59-01:00", "minus-sign": "2026-01-31T12:00:00\u221205:00",
        "unix": "1700000000", "unix-ms": "1700000000123", "unix-float": "-1.25",
        "int-beyond": "18446744073709551621", "leap": "2024-02-29",
    }
    for name, text in extra.items():
        write("dt", name, text)
    write("dt", "bytes-int64", struct.pack("<q", 1700000000) + b"Z")
    write("dt", "bytes-double", struct.pack("<d", 1700000000.5))


def uid_seeds():
    vs = vectors("uuid.json")
    for i, v in enumerate(vs):
        if i % 2 == 0 or v.get("ok") is False and i % 3 == 0:
            write("uid", "vector-%03d" % i, v["input"])
    write("uid", "not-utf8", b"\xff" * 36)
    write("uid", "urn-upper", "URN:UUID:" + E)


def router_seeds():
    routes = [
        ("GET", "/healthz"), ("GET", "/openapi.json"), ("GET", "/docs"),
        ("GET", "/entitlements"), ("POST", "/entitlements"),
        ("GET", "/entitlements/%s" % E), ("PATCH", "/entitlements/%s" % E),
        ("DELETE", "/entitlements/%s" % E), ("POST", "/entitlements/%s/customer" % E),
        ("GET", "/entitlements/%s/customer/%s/%s" % (E, C, R)),
        ("PATCH", "/entitlements/E/customer/C/R"), ("DELETE", "/entitlements/E/customer/C/R"),
        ("GET", "/entitlements/E/customer/C/total"), ("POST", "/entitlements/E/customer/C/consume"),
        ("GET", "/entitlements/E/customer/C/balance"), ("GET", "/entitlements/customer/C/ledger"),
        ("GET", "/entitlements/customer/C"), ("GET", "/entitlements/customer/unique/C"),
        ("GET", "/entitlements/customers_balances"), ("GET", "/customers"),
        ("POST", "/customers"), ("GET", "/customers/C"), ("PATCH", "/customers/C"),
        ("DELETE", "/customers/C"), ("GET", "/customer"), ("POST", "/customer"),
        # 405, 404 and edge shapes
        ("PUT", "/entitlements"), ("POST", "/entitlements/customers_balances"),
        ("GET", "/entitlements/"), ("GET", "//entitlements"), ("GET", "/entitlements//customer"),
        ("GET", "/customers/" + "a" * 300), ("OPTIONS", "/entitlements/E/customer/C/total"),
        ("GET", "entitlements"), ("GET", ""),
    ]
    for i, (m, p) in enumerate(routes):
        write("router", "route-%02d" % i, "%s %s" % (m, p))
    write("router", "no-method", "/entitlements/x/customer/y/consume")


LISTS = ["ent", "cust", "rows", "unique", "balances", "ledger"]


def query_seeds():
    qs = {
        0: ["", "limit=5&order=-name", "id__in=%s,%s" % (E, C), "name__ilike=api&is_active=yes",
            "entitlement_type=Quantity&created_at__gte=2026-01-01&created_at__lte=1700000000",
            "sort_key=name&sort_type=desc&search=a%20b", "limit=0", "limit=1_0", "order=bogus",
            "product_id=nope&unknown=1", "entitlement_type=quantity"],
        1: ["email__ilike=%40acme&external_id__isnull=true&communications_enabled=off",
            "customer_name__ilike=x&id__isnull=0&phone_number__like=%2B33",
            "expand=all&apiversion=2&created_at__neq=2026-01-31T12:00:00Z", "search=%00%ff",
            "email__in=a,b,,c", "search=customer_name%3DAcme", "search=customer_name=Acme,email=x",
            "search=customer_name=Acme,%20Inc,external_id=a=b", "search==", "search=foo=bar",
            "search=customer_name=", "search=Acme,email=x", "search=phone_number=%25_%00",
            "search_name_external_id=acme&order=-customer_name",
            "search_name_external_id=&search=email=%C3%84", "search_name_external_id=%ff",
            "search=" + ",".join("email=%d" % i for i in range(50))],
        2: ["entitlement=%s&customer__isnull=false&contract_id__in=%s" % (E, R), "order=-quantity",
            "id__isnull=maybe"],
        3: ["entitlement__in=%s" % E, "limit=100&order=created_at"],
        4: ["quantity__gt=1.5&quantity_used__lte=1e3&expiry_at__lt=2030-01-01&populate=customer,product",
            "populate=customer&active_from__gte=-1&quantity__neq=inf", "populate=" + "x" * 70,
            "customer=" + "&customer=".join([E] * 5),
            "populate=customer,contract,product,invoice", "populate=invoice,,contract",
            "populate=contract,", "search_name_external_id=x"],
        5: ["kind__in=create,consume&seq__gt=10&at__lte=2026-01-01T00:00:00Z&row=%s" % R,
            "kind=refund&seq__gte=abc", "search=ignored&sort_type=up"],
    }
    for idx, items in qs.items():
        for k, q in enumerate(items):
            write("query", "%s-%02d" % (LISTS[idx], k), bytes([idx]) + q.encode())
    # a cursor-bearing query
    payload = "1|created_at|d|n|%s|42|t1767225600000000" % E
    cur = base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")
    write("query", "ent-cursor", bytes([0]) + ("cursor=" + cur).encode())
    # a ranked customer list's cursor (search_name_external_id), and one sent without it
    payload = "2|created_at|d|n|%s|42|1|t1767225600000000" % E
    cur = base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")
    write("query", "cust-ranked-cursor", bytes([1]) + ("search_name_external_id=acme&cursor=" + cur).encode())
    write("query", "cust-ranked-cursor-alone", bytes([1]) + ("cursor=" + cur).encode())
    write("query", "ent-many-filters", bytes([0]) + "&".join("name__ilike=%d" % i for i in range(60)).encode())


def cursor_seeds():
    sorts = {0: ["created_at", "id", "name"], 1: ["created_at", "id", "customer_name"],
             2: ["created_at", "id", "quantity", "quantity_used", "active_from", "expiry_at"],
             3: ["created_at", "id", "name"],
             4: ["created_at", "id", "quantity", "quantity_used", "active_from", "expiry_at"],
             5: ["seq"]}
    values = {"created_at": "t1767225600000000", "id": "s" + E, "name": "sAPI|calls",
              "customer_name": "sAcme\u00e9", "quantity": "n12.5", "quantity_used": "n0",
              "active_from": "-", "expiry_at": "t-62135596800000000", "seq": "t17"}
    for lst, ss in sorts.items():
        for s in ss:
            d = "d" if lst in (0, 1, 2, 3) else "a"
            payload = "1|%s|%s|n|%s|42|%s" % (s, d, E, values[s])
            # mode 0: the payload, encoded by the harness
            write("cursor", "raw-%s-%s" % (LISTS[lst], s), bytes([lst * 3]) + payload.encode())
        # mode 1: cursor text as sent
        s = ss[0]
        payload = "1|%s|%s|p|%s|0|%s" % (s, "d" if lst < 4 else "a", C, values[s])
        text = base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")
        write("cursor", "text-%s" % LISTS[lst], bytes([lst * 3 + 1]) + text.encode())
        # mode 2: a row's makings: sort/flags byte, 16 id bytes, total, value
        for k in range(len(ss)):
            flags = k | (0x80 if k % 2 else 0) | (0x40 if k % 3 else 0)
            row = bytes([flags]) + uuid.UUID(R).bytes + struct.pack("<q", 7)
            row += struct.pack("<q", 1767225600000000) if ss[k] not in ("name", "customer_name") else b"A|b\x00c"
            write("cursor", "row-%s-%s" % (LISTS[lst], ss[k]), bytes([lst * 3 + 2]) + row)
    bad = ["1|created_at|d|n|%s|-1|t0" % E, "1|created_at|x|n|%s|1|t0" % E,
           "2|created_at|d|n|%s|1|t0" % E, "1|created_at|d|n|%s|1|nnan" % E.upper(),
           "1|created_at|d|n|%s|1|t12x" % E, "1|created_at|d|n|%s|1|" % E, "1|created_at|d|n"]
    for k, payload in enumerate(bad):
        write("cursor", "raw-bad-%d" % k, bytes([0]) + payload.encode())
    write("cursor", "text-not-b64", bytes([1]) + b"!!!!")


if __name__ == "__main__":
    body_seeds()
    dt_seeds()
    uid_seeds()
    router_seeds()
    query_seeds()
    cursor_seeds()
    for t in sorted(os.listdir(CORPUS)):
        print("%-8s %d files" % (t, len(os.listdir(os.path.join(CORPUS, t)))))
