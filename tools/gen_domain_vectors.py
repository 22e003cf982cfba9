#!/usr/bin/env python3
"""Write the domain test vectors from pydantic itself.

    python3 tools/gen_domain_vectors.py [--out tests/vectors]

pydantic v2 in lax python mode (what FastAPI runs after json.loads) is the
reference for what src/domain/dt.c, uid.c and num.c accept and for the exact
errors they give. Each file is a JSON list of cases:

    {"kind": K, "input": X, "ok": true,  "expect": E}
    {"kind": K, "input": X, "ok": false, "type": T, "msg": M, "error": C}

kind   "str"    input is the Python str (a JSON string)
       "int"    a Python int within int64 (a JSON integer)
       "bigint" a Python int beyond int64, as its decimal text (jansson,
                like most C JSON readers, cannot load it as a number)
       "float"  a Python float: a JSON real, or "nan" / "inf" / "-inf"
expect datetime.json: the instant as dt_format writes it (UTC, "Z", and
       ".ffffff" only when not zero; a naive result is taken as UTC)
       uuid.json: the canonical lower-case form
       float.json: the number, or "inf" / "-inf" / "nan"
error  ctx["error"] of pydantic's error, or null when it has no ctx

Run it again after a pydantic upgrade and diff the files.
"""
import argparse
import datetime
import json
import math
import os
import random
import uuid

from pydantic import TypeAdapter, ValidationError

DT = TypeAdapter(datetime.datetime)
UU = TypeAdapter(uuid.UUID)
FL = TypeAdapter(float)

INT64 = (-(2**63), 2**63 - 1)


# --- what the C side writes -------------------------------------------------

def civil_from_days(z):
    """Days since 1970-01-01 to (y, m, d), any year (H. Hinnant)."""
    z += 719468
    era = z // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = mp + 3 if mp < 10 else mp - 9
    return yoe + era * 400 + (m <= 2), m, d


def dt_format(us):
    """The text dt_format writes for an instant in microseconds."""
    sec, frac = divmod(us, 1_000_000)
    days, rem = divmod(sec, 86400)
    y, m, d = civil_from_days(days)
    year = f"-{-y:04d}" if y < 0 else f"{y:04d}"
    text = f"{year}-{m:02d}-{d:02d}T{rem // 3600:02d}:{rem // 60 % 60:02d}:{rem % 60:02d}"
    return text + (f".{frac:06d}Z" if frac else "Z")


def instant(dt):
    """Microseconds since the epoch, computed without datetime arithmetic so an
    offset may carry the instant into year 0 or 10000."""
    days = dt.date().toordinal() - datetime.date(1970, 1, 1).toordinal()
    secs = days * 86400 + dt.hour * 3600 + dt.minute * 60 + dt.second
    off = dt.utcoffset()
    if off is not None:  # naive: taken as UTC
        secs -= off.days * 86400 + off.seconds
    return secs * 1_000_000 + dt.microsecond


# --- one case ---------------------------------------------------------------

def encode_input(x):
    if isinstance(x, str):
        return "str", x
    if isinstance(x, bool):
        raise TypeError("bools are the caller's business")
    if isinstance(x, int):
        return ("int", x) if INT64[0] <= x <= INT64[1] else ("bigint", str(x))
    if isinstance(x, float):
        if math.isnan(x):
            return "float", "nan"
        if math.isinf(x):
            return "float", "inf" if x > 0 else "-inf"
        return "float", x
    raise TypeError(type(x))


def case(adapter, x, expect):
    kind, enc = encode_input(x)
    c = {"kind": kind, "input": enc}
    try:
        value = adapter.validate_python(x)
    except ValidationError as e:
        err = e.errors(include_url=False)[0]
        c.update(ok=False, type=err["type"], msg=err["msg"],
                 error=(err.get("ctx") or {}).get("error"))
        return c
    c.update(ok=True, expect=expect(value))
    return c


def float_expect(v):
    if math.isnan(v):
        return "nan"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    return v


def dt_case(x):
    return case(DT, x, lambda v: dt_format(instant(v)))


def uuid_case(x):
    return case(UU, x, str)


def float_case(x):
    return case(FL, x, float_expect)


# --- the inputs -------------------------------------------------------------

DT_STRINGS = [
    # RFC 3339 / ISO 8601 shapes that are accepted
    "2026-01-31T12:00:00Z", "2026-01-31T12:00:00z", "2026-01-31t12:00:00Z",
    "2026-01-31 12:00:00Z", "2026-01-31_12:00:00Z", "2026-01-31T12:00Z",
    "2026-01-31T12:00", "2026-01-31T12:00:00", "2026-01-31T12:00:59",
    "2026-01-31T23:59:59.999999Z", "2026-01-31T12:00:00.5Z", "2026-01-31T12:00:00.05Z",
    "2026-01-31T12:00:00.123Z", "2026-01-31T12:00:00.000001Z", "2026-01-31T12:00:00.000000Z",
    "2026-01-31T12:00:00,25Z", "2026-01-31T12:00:00.1234567Z",
    "2026-01-31T12:00:00.123456789123456789Z", "2026-01-31T12:00:00.9999999Z",
    "2026-01-31T12:00:00+05:30", "2026-01-31T12:00:00-08:00", "2026-01-31T12:00:00-0800",
    "2026-01-31T12:00:00+0000", "2026-01-31T12:00:00-00:00", "2026-01-31T12:00+01:00",
    "2026-01-31T12:00:00.5+05:30", "2026-01-31T12:00:00\u221205:30",
    "2026-01-31T12:00:00\u22120530", "2026-01-31T00:30:00+01:00", "2026-01-01T00:00:00+23:59",
    "2026-01-01T00:00:00-23:59", "2026-01-31", "2024-02-29", "2000-02-29T00:00:00Z",
    "1969-12-31T23:59:59.999999Z", "1970-01-01T00:00:00Z", "1900-01-01T00:00:00Z",
    "1500-06-15T12:00:00Z", "0001-01-01T00:00:00Z", "0001-01-01", "9999-12-31",
    "9999-12-31T23:59:59.999999Z", "9999-12-31T23:59:59-01:00", "0001-01-01T00:00:00+00:01",
    "0001-01-01T00:30:00+01:00",
    # numbers in strings (Unix seconds, or ms past 2e10)
    "0", "1700000000", "+1700000000", "-1", "-0", "01700000000", "20000000000", "20000000001",
    "-20000000000", "-20000000001", "253402300799999", "-62135596800000", "1.5", "-1.5", "-1.25",
    ".5", "1.", "-.5", "+.5", "00.5", "1.5e3", "1.5E+3", "1.e5", "1.5e-3", "-0.0000006",
    "-0.0000001", "0.9999996", "1700000000.123456", "1700000000.1234567", "1700000000.0000005",
    "1700000000.0000015", "20000000000.5", "-25000000000.0006", "253402300799000.0",
    "25000000000000.0", "0.0e9999999999", "1.0e-400",
    # refused: the date grammar's messages
    "", "x", "foo", "2026", "2026-1-01", "2026-01-1", " 2026-01-01", "2026-01-01 ",
    "abcd-01-01", "20a6-01-01", "2026/01/01", "2026-01/01", "2026-x1-01", "2026-0x-01",
    "2026-01-x1", "2026-01-0x", "2026-13-01", "2026-00-01", "2026-02-29", "2026-04-31",
    "2026-01-00", "2026-01-32", "1900-02-29", "2026-01-01Z", "2026-01-01T", "2026-01-01T12",
    "2026-01-01T12:", "2026-01-01T12:0", "2026-01-01T25:00", "2026-01-01T24:00:00",
    "2026-01-01T12:60", "2026-01-01T12:00:60", "2026-01-01T23:59:60Z", "2026-01-01T12:00:0",
    "2026-01-01T12:00:00.", "2026-01-01T12:00:00.Z", "2026-01-01T12:00.5",
    "2026-01-01T12:00:00+05", "2026-01-01T12:00:00+5:30", "2026-01-01T12:00:00+05:3",
    "2026-01-01T12:00:00+24:00", "2026-01-01T12:00:00+05:60", "2026-01-01T12:00:00+",
    "2026-01-01T12:00:00\u2212", "2026-01-01T12:00:00\u2213", "2026-01-01T12:00:00ZZ",
    "2026-01-01T12:00:00+05:30:15", "2026-01-01T12:00:00 Z", "2026-01-01X12:00:00",
    "2026-01-01T1a:00", "2026-01-01T12-00", "\uff12\uff10\uff12\uff16-01-01", "\u0661\u0662",
    "2026-01-01\u00a0", "1e5", "nan", "inf", "NaN.", ".", "-", "+", "--1", "1..5", "1.5e",
    "1.5.", "1_700_000_000", " 1700000000", "1700000000 ", "0x10", "1.0e400", "-1.0e400",
    "9223372036854775807", "-9223372036854775807", "9223372036854775808",
    "-9223372036854775808", "99999999999999999999", "253402300800000", "-62167219200001",
    "123456789012", "-62135596800001",
    # speedate reads digits with wrapping 64-bit arithmetic, refusing only a
    # negative running value: 2**64 + n is read as n
    "18446744073709551616", "36893488147419103242", "-36893488147419103237",
    "18446744073709551615", "18446744073709551616.5", "9999999999999999999.5",
    "15308227203447688609.e-13",
    # refused with datetime_parsing: year 0
    "0000-01-01", "0000-12-31T23:59:59Z", "0000-06-01T00:00:00+05:00", "-62167219200000",
]

DT_INTS = [
    0, 1, -1, 86400, 1700000000, 20000000000, 20000000001, -20000000000, -20000000001,
    253402300799, 253402300799999, 253402300800000, -62135596800000, -62135596800001,
    -62167219200000, -62167219200001, -62167219201000, 2**53, 2**63 - 1, -(2**63) + 1,
    -(2**63),
    # beyond int64
    2**63, -(2**63) - 1, 2**64, -(2**64), 10**30, -(10**30),
    2**1024 - 2**970 - 1, -(2**1024 - 2**970 - 1), 2**1024 - 2**970, -(2**1024 - 2**970),
    10**400,
]

DT_FLOATS = [
    0.0, -0.0, 1.5, -1.5, -1.25, -0.25, -0.75, -6e-7, -1e-7, -5e-7, 5e-7, 1.5e-6, 2.5e-6,
    0.9999996, -100.9999996, -100.0000004, 1700000000.0, 1700000000.123456,
    1700000000.0000005, 20000000000.0, 20000000000.5, 20000000001.0, -20000000001.0,
    -25000000000.0006, -25000000000.0004, 25000000000.0015, 253402300799000.0,
    253402300799999.9, 253402300800000.0, -62135596800000.0, -62135596800000.5,
    -62135596800001.0, -62167219200000.0, -62167219200001.0, 999999999999999.9, 1e15,
    -1e15, 1e300, -1e300, 5e-324, -5e-324, 1.7976931348623157e308, float("nan"),
    float("inf"), float("-inf"),
]

UUID_STRINGS = [
    "00000000-0000-4000-8000-000000000000", "0193a0f4-8c3e-7d2a-9b1c-5e6f7a8b9c0d",
    "F9168C5E-CEB2-4FAA-B6BF-329BF39FA1E4", "f9168C5e-ceb2-4faa-B6bf-329bf39fa1e4",
    "67e5504410b1426f9247bb680e5fe0c8", "67E5504410B1426F9247BB680E5FE0C8",
    "{67e55044-10b1-426f-9247-bb680e5fe0c8}", "urn:uuid:67e55044-10b1-426f-9247-bb680e5fe0c8",
    "00000000000000000000000000000000", "ffffffff-ffff-ffff-ffff-ffffffffffff",
    # length
    "", "a", "abc", "0000000000000000000000000000000", "000000000000000000000000000000000",
    "67e5504410b1426f9247bb680e5fe0cg8", "231231212212423424324323477343246663",
    "{00000000000000000000000000000000}", "urn:uuid:67e5504410b1426f9247bb680e5fe0c8",
    # characters
    "00000000000040008000000000000001x", "00000000-0000-4000-8000-00000000000Z",
    "67e5504410b1426%9247bb680e5fe0c8", "67e550X410b1426f9247bb680e5fe0cd",
    "F9168C5E-CEB2-4faa-BGBF-329BF39FA1E4", "F9168C5E-CEB2-4faaXB6BFF329BF39FA1E4",
    " 00000000-0000-4000-8000-000000000000", "00000000-0000-4000-8000-000000000000 ",
    "{00000000-0000-4000-8000-000000000000", "00000000-0000-4000-8000-000000000000}",
    "URN:UUID:00000000-0000-4000-8000-000000000000", "uuid:00000000-0000-4000-8000-000000000000",
    "\u00e90000000-0000-4000-8000-000000000000", "0\u00e9000000-0000-4000-8000-000000000000",
    "00000000-0000-4000-8000-0000000000\u00e9", "00000000-0000-4000-8000-00000000000\U0001f600",
    "\U0001f600", "{\u00e9}", "urn:uuid:\u00e9", "\u20ac", "0000000\u0661-0000-4000-8000-000000000000",
    "\x00", "00000000-0000-4000-8000-00000000000\x00", "g", "{g}", "urn:uuid:g",
    # group count
    "0000-00", "{}", "{0}", "urn:uuid:", "urn:uuid:0", "------------------------------------",
    "0000000000000000000000000000000-", "-0000000-0000-4000-8000-000000000000",
    "F9168C5E-CEB2F4faaFB6BFF329BF39FA1E4", "F9168C5E-CEB2-4faaFB6BFF329BF39FA1E4",
    "F9168C5E-CEB2-4faa-B6BFF329BF39FA1E4", "00000000-0000-4000-8000-00000000000-0",
    "{00000000000040008000000000000000}", "{00000000-0000-4000-8000-000000000000}}",
    # group length
    "0000000-00000-4000-8000-000000000000", "000000000-000-4000-8000-000000000000",
    "F9168C5E-CEB-24fa-eB6BFF32-BF39FA1E4", "01020304-1112-2122-3132-41424344",
    "67e550-4105b1426f9247bb680e5fe0c", "F9168C5E-CEB2-4faa-B6BF1-02BF39FA1E4",
    "00000000-0000-4000-8000-0000000000000", "00000000-0000-4000-8000-00000000000",
    "urn:uuid:00000000-0000-4000-8000-00000000000", "{00000000-0000-4000-8000-0000000000000}",
    "{00000000-0000-4000-8000-00000000000}", "0-0-0-0-0",
]

FLOAT_STRINGS = [
    "0", "1", "-1", "+5", "12.5", ".5", "5.", "-.5", "1e3", "1E+3", "1e-3", "1.e1", "0.1e-0",
    "00012", "-0", "-0.0", "1e999", "-1e999", "1e-999", "5e-324", "2e-324", "1.7976931348623157e308",
    "1.7976931348623159e308", "0.1", "0.30000000000000004", "123456789012345678901234567890",
    "1e0000000000000000000000000001", "inf", "INF", "-Infinity", "+infinity", "nan", "-nan",
    "+NaN", "nAn", " 1 ", "\t1\n", "\x0b1\x0c", "\u00a01\u00a0", "\u20001", "\u30001", "\x851",
    "\u20281\u2029", "\u202f1\u205f", "1_000", "1_000.000_1", "1_.5", "1._5", "1e1_0", "1_e5",
    "1e_5", "-_1", "in_f", "n_an", "1_2_3",
    # refused
    "", " ", ".", "e5", "1e", "1e+", "+.e1", "--1", "+-1", "1.5e3.0", "1,5", "1d", "1f", "0x10",
    "1 000", "\u0661\u0662", "\uff11", "infinit", "infinityx", "snan", "nan(1)", "\u200b1",
    "\x1c1", "\ufeff1", "\u180e1", "\x001", " 1_000", "1_000 ", "_1", "1_", "1__0", "_", "_1_",
    "1.0.0", "true", "null", "0b1", "1/2",
]


def random_dt_strings(rng, n):
    """Valid-looking date-times with random fields, fractions and offsets."""
    out = []
    for _ in range(n):
        y = rng.choice([1, 1600, 1969, 1970, 2026, 9999, rng.randint(1, 9999)])
        s = f"{y:04d}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
        s += rng.choice("Tt _") + f"{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}"
        if rng.random() < 0.8:
            s += f":{rng.randint(0, 59):02d}"
            if rng.random() < 0.5:
                s += rng.choice(".,") + "".join(rng.choice("0123456789")
                                                for _ in range(rng.randint(1, 9)))
        tz = rng.random()
        if tz < 0.3:
            s += rng.choice("Zz")
        elif tz < 0.7:
            sign = rng.choice(["+", "-", "\u2212"])
            sep = rng.choice(["", ":"])
            s += f"{sign}{rng.randint(0, 23):02d}{sep}{rng.randint(0, 59):02d}"
        out.append(s)
    return out


def build():
    rng = random.Random(20260131)
    dts = [dt_case(x) for x in DT_STRINGS + random_dt_strings(rng, 40) + DT_INTS + DT_FLOATS]
    dts += [dt_case(rng.uniform(-7e10, 3e14)) for _ in range(15)]
    dts += [dt_case(rng.randint(-62167219200000, 253402300800000)) for _ in range(10)]
    uuids = [uuid_case(x) for x in UUID_STRINGS]
    floats = [float_case(x) for x in FLOAT_STRINGS]
    return {"datetime.json": dts, "uuid.json": uuids, "float.json": floats}


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=os.path.normpath(os.path.join(here, "..", "tests", "vectors")))
    args = ap.parse_args()
    for name, cases in build().items():
        path = os.path.join(args.out, name)
        with open(path, "w", encoding="utf-8") as f:
            # ensure_ascii keeps odd characters (U+0000, U+2212) visible in diffs
            json.dump(cases, f, indent=1, ensure_ascii=True)
            f.write("\n")
        print(f"{path}: {len(cases)} cases")


if __name__ == "__main__":
    main()
