#!/usr/bin/env python3
"""Write tests/vectors/json_invalid.json: request bodies and what Python's
json.loads(bytes) makes of them, as FastAPI runs it, plus what src/validate/
pyjson.c must answer where it parts from Python on purpose (see pyjson.h).

Run with the machine's python3 (3.11): python3 tools/gen_json_vectors.py
The file is data: the C unit test tests/unit/test_pyjson.c reads it and needs
no Python.

py_expect(bytes) is the reference: importable, so that a differential run can
compare pyjson against it on any input.
"""
import base64
import json
import os
import sys

MAX_DEPTH = 64  # PYJSON_MAX_DEPTH
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
CONSTANTS = ("NaN", "Infinity", "-Infinity")


class _Constant(Exception):
    pass


def _refuse_constant(name):
    raise _Constant(name)


def _decoder(**kw):
    return json.JSONDecoder(parse_constant=_refuse_constant, **kw)


def _reaches(s, i):
    """True when Python's parse of s, with s[i] replaced by NUL, gets to i as a
    value (fails there with "Expecting value"): the parse reached i with no
    error before it."""
    s2 = s[:i] + "\x00" + s[i + 1:]
    try:
        _decoder().decode(s2)
    except json.JSONDecodeError as e:
        return e.msg == "Expecting value" and e.pos == i
    except Exception:
        return False
    return False


def _too_deep_at(s):
    """Index of the bracket that opens nesting level MAX_DEPTH + 1, the way a
    plain scan sees it (strings skipped), or None."""
    depth, i, n = 0, 0, len(s)
    while i < n:
        c = s[i]
        if c == '"':
            i += 1
            while i < n and s[i] != '"':
                i += 2 if s[i] == "\\" else 1
        elif c in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                return i
        elif c in "]}":
            depth -= 1
        i += 1
    return None


def _first_lone_surrogate(s):
    """In a valid document: ("escape", index of the u) or ("raw", index) of
    the first lone surrogate that ends up in a string, else None."""
    i, n = 0, len(s)
    while i < n:
        if s[i] != '"':
            i += 1
            continue
        i += 1
        while s[i] != '"':
            c = s[i]
            if c == "\\":
                if s[i + 1] != "u":
                    i += 2
                    continue
                cp = int(s[i + 2:i + 6], 16)
                after = i + 6
                if (0xD800 <= cp <= 0xDBFF and after + 6 < n and s[after] == "\\"
                        and s[after + 1] == "u"):
                    cp2 = int(s[after + 2:after + 6], 16)
                    if 0xDC00 <= cp2 <= 0xDFFF:
                        cp = 0x10000
                        after += 6
                if 0xD800 <= cp <= 0xDFFF:
                    return ("escape", i + 1)
                i = after
                continue
            if 0xD800 <= ord(c) <= 0xDFFF:
                return ("raw", i)
            i += 1
        i += 1
    return None


def _value(s):
    """The parsed value with big numbers as {"$big": literal}."""

    def pint(t):
        v = int(t)
        return v if INT64_MIN <= v <= INT64_MAX else {"$big": t}

    def pfloat(t):
        v = float(t)
        return {"$big": t} if v in (float("inf"), float("-inf")) else v

    return _decoder(parse_int=pint, parse_float=pfloat).decode(s)


def python_outcome(b):
    """What json.loads(b) does: {"ok": true}, {"msg", "pos"} or {"exception"}."""
    try:
        json.loads(b)
    except json.JSONDecodeError as e:
        return {"msg": e.msg, "pos": e.pos}
    except Exception as e:  # UnicodeDecodeError, ValueError, RecursionError
        return {"exception": type(e).__name__}
    return {"ok": True}


def py_expect(b):
    """What pyjson_parse must answer for the bytes b:
    {"rc": "ok", "value": ...} | {"rc": "invalid", "msg", "pos"} |
    {"rc": "not_utf8"} | {"rc": "too_deep"}."""
    try:
        s = b.decode(json.detect_encoding(b), "surrogatepass")
    except UnicodeDecodeError:
        return {"rc": "not_utf8"}
    deep = _too_deep_at(s)
    if deep is not None and s[deep] in "[{" and _reaches(s, deep):
        return {"rc": "too_deep"}
    try:
        _decoder().decode(s)  # not json.loads(str): that refuses a leading U+FEFF
    except json.JSONDecodeError as e:
        return {"rc": "invalid", "msg": e.msg, "pos": e.pos}
    except _Constant:
        for i in range(len(s)):
            if s.startswith(CONSTANTS, i) and _reaches(s, i):
                return {"rc": "invalid", "msg": "Expecting value", "pos": i}
        raise AssertionError("constant not found in %r" % s)
    except ValueError:  # Exceeds the limit (4300 digits) for integer string conversion
        return {"rc": "not_utf8"}
    lone = _first_lone_surrogate(s)
    if lone is not None:
        kind, pos = lone
        if kind == "escape":
            return {"rc": "invalid", "msg": "Invalid \\uXXXX escape", "pos": pos}
        return {"rc": "not_utf8"}
    return {"rc": "ok", "value": _value(s)}


def _nul_key(v):
    if isinstance(v, dict):
        return any("\x00" in k or _nul_key(x) for k, x in v.items())
    if isinstance(v, list):
        return any(_nul_key(x) for x in v)
    return False


def U(text):
    return text.encode("utf-8")


def cases():
    c = []

    def add(name, doc, note=None):
        c.append((name, U(doc) if isinstance(doc, str) else doc, note))

    # empty and whitespace
    add("empty", b"")
    add("space", " ")
    add("whitespace mix", " \t\r\n")
    add("form feed is not whitespace", "\f1")
    add("vertical tab is not whitespace", "\v1")
    add("nbsp is not whitespace", "\u00a01")
    add("whitespace around value", " \t\n\r{}\n\r\t ")
    # literals
    add("null", "null")
    add("true", "true")
    add("false", "false")
    add("nul", "nul")
    add("tru", "tru")
    add("fals", "fals")
    add("Null", "Null")
    add("TRUE", "TRUE")
    add("nullx", "nullx")
    add("true false", "true false")
    add("undefined", "undefined")
    add("NaN", "NaN", "NaN refused on purpose")
    add("Infinity", "Infinity", "Infinity refused on purpose")
    add("-Infinity", "-Infinity", "-Infinity refused on purpose")
    add("NaN in object", '{"quantity": NaN}', "NaN refused on purpose")
    add("Infinity in array", "[1, Infinity]", "Infinity refused on purpose")
    add("-Infinity after unicode", '{"é": -Infinity}', "-Infinity refused on purpose")
    add("nan lower", "nan")
    add("Inf", "Inf")
    add("-Inf", "-Inf")
    add("NaN inside string is fine", '"NaN"')
    # numbers
    add("zero", "0")
    add("minus zero", "-0")
    add("minus zero real", "-0.0")
    add("int", "12")
    add("negative int", "-12")
    add("real", "12.5")
    add("exponent", "1E+2")
    add("exponent lower", "1e2")
    add("exponent minus", "1e-2")
    add("leading zero", "01")
    add("leading zeros", "-007")
    add("trailing dot", "1.")
    add("leading dot", ".5")
    add("minus alone", "-")
    add("minus space", "- 1")
    add("plus sign", "+1")
    add("exponent without digits", "1e")
    add("exponent sign without digits", "1e+")
    add("exponent sign then bracket", "[1e-]")
    add("dot exponent", "1.e5")
    add("double dot", "1.2.3")
    add("hex", "0x10")
    add("underscore", "1_000")
    add("int64 max", "9223372036854775807")
    add("int64 max + 1", "9223372036854775808")
    add("int64 min", "-9223372036854775808")
    add("int64 min - 1", "-9223372036854775809")
    add("10**30", "1" + "0" * 30)
    add("1e308", "1e308")
    add("1.7976931348623157e308", "1.7976931348623157e308")
    add("1e309 overflows", "1e309")
    add("1e400", "1e400")
    add("-1e400", "-1e400")
    add("1e-400 underflows to 0", "1e-400")
    add("5e-324", "5e-324")
    add("huge exponent", "1e99999999999999999999")
    add("many digits real", "0." + "1" * 400)
    add("real with 400 integer digits", "9" * 400 + ".5")
    add("4300 digits int", "9" * 4300)
    add("4301 digits int", "9" * 4301, "Python raises ValueError: FastAPI answers 400")
    add("-4300 digits int", "-" + "9" * 4300)
    add("4301 digits real", "9" * 4301 + ".0")
    add("number then letters", "123abc")
    add("number in array then garbage", "[1 2]")
    add("fullwidth digit", "\uff11")
    # strings
    add("string", '"abc"')
    add("empty string", '""')
    add("unterminated string", '"abc')
    add("unterminated after unicode", '"héllo')
    add("unterminated in object", '{"a": "b}')
    add("single quotes", "'a'")
    add("all escapes", '"\\" \\\\ \\/ \\b \\f \\n \\r \\t"')
    add("invalid escape", '"\\x41"')
    add("invalid escape after unicode", '"日本\\q"')
    add("escape at end", '"abc\\')
    add("escaped quote at end", '"abc\\"')
    add("u escape", '"\\u00e9"')
    add("u escape upper hex", '"\\u00E9\\uABCD"')
    add("u escape short", '"\\u12"')
    add("u escape unterminated", '"\\u1234')
    add("u escape bad hex", '"\\uzzzz"')
    add("u escape with 0x", '"\\u0x12"')
    add("u escape NUL", '"a\\u0000b"')
    add("surrogate pair", '"\\ud83d\\ude00"')
    add("surrogate pair upper", '"\\uD83D\\uDE00"')
    add("high surrogate alone", '"\\ud800"', "lone surrogate refused on purpose")
    add("low surrogate alone", '"x\\udc00"', "lone surrogate refused on purpose")
    add("high then non-surrogate", '"\\ud800\\u0041"', "lone surrogate refused on purpose")
    add("high then bad hex", '"\\ud800\\uzzzz"')
    add("high then short escape", '"\\ud800\\u12"')
    add("high at end of unterminated", '"\\ud800')
    add("two highs then low", '"\\ud800\\ud800\\udc00"', "lone surrogate refused on purpose")
    add("lone surrogate then error", '["\\ud800" 1]')
    add("lone surrogate in key", '{"\\udfff": 1}', "lone surrogate refused on purpose")
    add("control char in string", '"a\x01b"')
    add("tab in string", '"a\tb"')
    add("newline in string", '"a\nb"')
    add("NUL in string", b'"a\x00b"')
    add("DEL in string is fine", '"a\x7fb"')
    add("control char after unicode", '"日本語\x1f"')
    add("unicode string", '"日本語 🎉 é"')
    add("emoji then error", '["🎉🎉", 1,]')
    add("astral char before error", '{"a": "𝄞"} x')
    # objects
    add("empty object", "{}")
    add("object", '{"a": 1, "b": [true, null]}')
    add("unterminated object", "{")
    add("unterminated object after key", '{"a"')
    add("unterminated object after colon", '{"a":')
    add("unterminated object after value", '{"a": 1')
    add("unterminated object after comma", '{"a": 1,')
    add("object trailing comma", '{"a": 1,}')
    add("object missing colon", '{"a" 1}')
    add("object missing comma", '{"a": 1 "b": 2}')
    add("object unquoted key", "{a: 1}")
    add("object single-quoted key", "{'a': 1}")
    add("object numeric key", "{1: 1}")
    add("object leading comma", '{, "a": 1}')
    add("object double comma", '{"a": 1,, "b": 2}')
    add("object missing value", '{"a": }')
    add("object equals sign", '{"a" = 1}')
    add("object close bracket", '{"a": 1]')
    add("duplicate keys", '{"a": 1, "b": 2, "a": 3}')
    add("key with NUL escape", '{"a\\u0000b": 1, "a": 2}')
    add("key with unicode before error", '{"ключ": 1 "x": 2}')
    # arrays
    add("empty array", "[]")
    add("array", "[1, 2.5, \"x\", null, true, false, {}, []]")
    add("unterminated array", "[")
    add("unterminated array after value", "[1")
    add("unterminated array after comma", "[1,")
    add("array trailing comma", "[1,]")
    add("array leading comma", "[,1]")
    add("array double comma", "[1,,2]")
    add("array close brace", "[1}")
    add("array missing comma", '["a" "b"]')
    # trailing data
    add("extra data", "{} {}")
    add("extra data after whitespace", "1 \n 2")
    add("extra close", "{}}")
    add("extra comma", "[],")
    add("extra data after unicode", '"é"x')
    add("two documents", '{"a":1}\n{"a":2}')
    # BOM and encodings
    add("utf-8 BOM", b"\xef\xbb\xbf{}")
    add("utf-8 BOM then error", b"\xef\xbb\xbf{,}")
    add("two utf-8 BOMs", b"\xef\xbb\xbf\xef\xbb\xbf{}")
    add("BOM inside", b"{}\xef\xbb\xbf")
    add("utf-16-le BOM", b"\xff\xfe" + '{"a": "é"}'.encode("utf-16-le"))
    add("utf-16-be BOM", b"\xfe\xff" + '[1, "🎉"]'.encode("utf-16-be"))
    add("utf-16-le no BOM", '{"a": 1}'.encode("utf-16-le"))
    add("utf-16-be no BOM error", '{"a" 1}'.encode("utf-16-be"))
    add("utf-32-le BOM", b"\xff\xfe\x00\x00" + '["x"]'.encode("utf-32-le"))
    add("utf-32-be no BOM", '[1,]'.encode("utf-32-be"))
    add("utf-16 odd length", b"\xff\xfe{\x00}", "UnicodeDecodeError: FastAPI answers 400")
    add("utf-32 code point too large", b"\xff\xfe\x00\x00\x00\x00\x11\x00",
        "UnicodeDecodeError: FastAPI answers 400")
    add("utf-16 lone surrogate", b"\xff\xfe" + '"\ud800"'.encode("utf-16-le", "surrogatepass"),
        "lone surrogate refused on purpose (400)")
    add("one char then NUL is utf-16", b"1\x00")
    add("NUL alone", b"\x00")
    add("NUL after value", b"{}\x00")
    add("NULs after value (utf-16 guess fails)", b"{}\x00\x00")
    add("four NULs", b"\x00\x00\x00\x00")
    # not UTF-8
    add("invalid byte", b"\xff", "UnicodeDecodeError: FastAPI answers 400")
    add("latin-1 in string", b'{"a": "caf\xe9"}', "UnicodeDecodeError: FastAPI answers 400")
    add("truncated utf-8", b'"\xe6\x97"', "UnicodeDecodeError: FastAPI answers 400")
    add("overlong NUL", b'"\xc0\x80"', "UnicodeDecodeError: FastAPI answers 400")
    add("overlong 3 bytes", b'"\xe0\x80\xaf"', "UnicodeDecodeError: FastAPI answers 400")
    add("beyond U+10FFFF", b'"\xf4\x90\x80\x80"', "UnicodeDecodeError: FastAPI answers 400")
    add("stray continuation", b'"\x80"', "UnicodeDecodeError: FastAPI answers 400")
    add("invalid byte after JSON error", b"{,\xff}", "UnicodeDecodeError: FastAPI answers 400")
    add("raw surrogate in string", b'"\xed\xa0\x80"', "lone surrogate refused on purpose (400)")
    add("raw surrogate outside string", b"[\xed\xa0\x80]")
    add("raw surrogate then JSON error", b'["\xed\xa0\x80" 1]')
    # nesting
    add("depth 64 arrays", "[" * 64 + "]" * 64)
    add("depth 65 arrays", "[" * 65 + "]" * 65, "nesting limit on purpose")
    add("depth 64 objects", '{"a":' * 64 + "1" + "}" * 64)
    add("depth 65 objects", '{"a":' * 65 + "1" + "}" * 65, "nesting limit on purpose")
    add("depth 65 mixed", '[{"a":' * 33 + "[]" + "}]" * 33, "nesting limit on purpose")
    add("error before depth 65", "[" * 10 + "x" + "[" * 80)
    add("depth 1000 arrays", "[" * 1000 + "]" * 1000, "nesting limit on purpose")
    add("deep unterminated", "[" * 64)
    # a realistic body
    add("patch body", '{"entitlement": "11111111-1111-4111-8111-111111111111", '
        '"customer": "22222222-2222-4222-8222-222222222222", "quantity": 12.5, '
        '"expiry_at": "2026-01-31T12:00:00Z", "active_from": null}')
    add("patch body missing comma", '{"entitlement": "e", "customer": "c" "quantity": 1}')
    add("patch body with comment", '{"quantity": 1 /* units */}')
    add("patch body trailing comma", '{"quantity": 1,\n}')
    return c


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out = os.path.join(root, "tests", "vectors", "json_invalid.json")
    vectors = []
    names = set()
    for name, b, note in cases():
        assert name not in names, name
        names.add(name)
        v = {"name": name}
        try:
            text = b.decode("utf-8")
            v["doc"] = text
        except UnicodeDecodeError:
            v["doc_b64"] = base64.b64encode(b).decode("ascii")
        v["python"] = python_outcome(b)
        v["expect"] = py_expect(b)
        py, ex = v["python"], v["expect"]
        same = (("ok" in py and ex["rc"] == "ok")
                or ("msg" in py and ex["rc"] == "invalid" and ex["msg"] == py["msg"]
                    and ex["pos"] == py["pos"])
                or (py.get("exception") in ("UnicodeDecodeError", "ValueError")
                    and ex["rc"] == "not_utf8"))
        if not same:
            assert note and "on purpose" in note, (name, py, ex)
        elif note and "on purpose" in note:
            raise AssertionError("%s: marked as a departure but agrees with Python" % name)
        if note:
            v["note"] = note
        if ex["rc"] == "ok" and _nul_key(ex["value"]):
            # jansson cannot load a key with NUL: the unit test's tables check it
            del ex["value"]
            ex["value_note"] = "a key holds U+0000: checked by test_pyjson.c's tables"
        vectors.append(v)
    doc = {
        "about": (
            "Request bodies and what Python 3.11's json.loads(bytes) makes of them "
            "(`python`: ok, or msg+pos of the JSONDecodeError, or the other exception, "
            "which FastAPI answers with 400), and what pyjson_parse must answer "
            "(`expect`: rc ok with the value (absent when a key holds U+0000), big numbers as {\"$big\": literal}; "
            "rc invalid with Python's msg and pos, a code-point index; rc not_utf8 "
            "(FastAPI's 400); rc too_deep). `expect` differs from `python` only where "
            "pyjson.h says so, and then `note` says why. `doc` is the body when it is "
            "UTF-8, else `doc_b64`. Generated by tools/gen_json_vectors.py; do not edit."),
        "python": sys.version.split()[0],
        "vectors": vectors,
    }
    with open(out, "w", encoding="utf-8") as f:
        json.dump(doc, f, ensure_ascii=True, indent=1)
        f.write("\n")
    print("%d vectors -> %s" % (len(vectors), out))


if __name__ == "__main__":
    main()
