#!/usr/bin/env python3
"""Write tests/vectors/email.json: what pydantic's EmailStr does with a string.

    python3 tools/gen_email_vectors.py [--out tests/vectors]

Needs the pyenv python3 (pydantic 2.13) and Debian's email-validator:
`tools/gen_email_deps.sh` installs python3-email-validator (1.3.0, with
python3-idna 3.3 and python3-dnspython) from Debian's packages. Neither is
needed to build or test entitled, only to make this file again.

Why a shim. pydantic 2's EmailStr calls `email_validator.validate_email(email,
check_deliverability=False)` and keeps `parts.normalized`; it refuses to load
email-validator < 2 (`import_email_validator()` checks the version), and the
only email-validator this machine can install is Debian's 1.3.0. So this
script runs pydantic's own EmailStr code (networks.validate_email: the 2048
limit, the "Name <addr>" form, strip(), the error's shape and message) with
its `email_validator` module replaced by a shim over 1.3.0, whose result
names the normalised address `email` where 2.x says `normalized`. Nothing
else is changed. What 2.x would answer differently (2.x accepts quoted local
parts only with allow_quoted_local, has new messages for some failures, e.g.
"An email address must have an @-sign.") is not what these vectors say: they
are pydantic 2.13 + email-validator 1.3.0, and docs/API.md says so.

Each case, like the domain vectors (gen_domain_vectors.py):

    {"kind": "str", "input": X, "ok": true,  "expect": E}
    {"kind": "str", "input": X, "ok": false, "type": "value_error",
     "msg": M, "error": {"reason": R}}

expect  the value EmailStr stores (the normalised address)
error   the ctx of pydantic's error (for value_error: {"reason": ...})
"""
import argparse
import json
import os
import sys
import types

import pydantic
import pydantic.networks as networks
from pydantic import EmailStr, TypeAdapter, ValidationError

DEBIAN = "/usr/lib/python3/dist-packages"


def load_email_validator():
    # Debian's packages first, so that email_validator gets Debian's idna
    # (3.3) rather than the pyenv's, as Debian's python3 would.
    sys.path.insert(0, DEBIAN)
    try:
        import email_validator as ev
        import idna
    finally:
        sys.path.remove(DEBIAN)
    assert ev.__file__.startswith(DEBIAN), ev.__file__
    assert idna.__file__.startswith(DEBIAN), idna.__file__
    return ev, idna


def shim(ev):
    """The part of email-validator 2's interface that pydantic uses."""
    m = types.ModuleType("email_validator_shim")
    m.EmailNotValidError = ev.EmailNotValidError

    def validate_email(email, check_deliverability=True):
        r = ev.validate_email(email, check_deliverability=check_deliverability)
        return types.SimpleNamespace(normalized=r.email, local_part=r.local_part)

    m.validate_email = validate_email
    return m


def cases():
    local_ok = ["a", "user", "first.last", "user+tag", "x_y-z", "!#$%&'*+-/=?^_`{|}~", "1",
                "A" * 64, "Mixed.Case"]
    out = []
    for lp in local_ok:
        out.append(lp + "@example.com")
    out += [
        # the @-sign
        "", "plainaddress", "not-an-email", "@", "a@b@c.com", "@example.com", "user@",
        "a@@b.com",
        # local part
        ".user@example.com", "user.@example.com", "us..er@example.com", "us er@example.com",
        '"quoted"@example.com', '"a b"@example.com', "a(b)@example.com", "a,b@example.com",
        "a:b@example.com", "a;b@example.com", "a<b@example.com", "a>b@example.com",
        "a[b]@example.com", "a\\b@example.com", "a\x00b@example.com", "a\tb@example.com",
        "a\nb@example.com", "a\x7fb@example.com", "a\x1fb@example.com", "a\rb@example.com",
        "a. b@example.com", "'@example.com", "\"@example.com", "a'b\"c@example.com",
        "A" * 65 + "@example.com", "A" * 66 + "@example.com", "A" * 100 + "@example.com",
        # domain
        "user@EXAMPLE.COM", "User@Example.Com", "user@example", "user@localhost",
        "user@example.com.", "user@.example.com", "user@example..com", "user@-example.com",
        "user@example-.com", "user@ex--ample.com", "user@xx--ample.com", "user@ab--c.com",
        "user@ex_ample.com", "user@ex ample.com", "user@ex'ample.com", "user@ex\"ample.com",
        "user@ex\\ample.com", "user@ex\x00ample.com", "user@ex\tample.com", "user@ex!ample.com",
        "user@example.c0m", "user@example.123", "user@1.2.3.4", "user@[1.2.3.4]",
        "user@[IPv6:::1]", "user@example.invalid", "user@foo.local", "user@x.onion",
        "user@test", "user@a.test", "user@arpa", "user@10.in-addr.arpa", "user@example.org",
        "user@mail.example.com", "user@a.b.c.d.e.f.g.h.io", "user@a-b.co", "user@1a.com",
        "user@a.b", "user@a.b1", "user@" + "a" * 63 + ".com", "user@" + "a" * 64 + ".com",
        "user@" + ".".join(["a" * 60] * 4) + ".com", "user@" + ".".join(["a" * 61] * 4) + ".com",
        "user@" + ".".join(["a" * 50] * 5) + ".com",
        "a" * 64 + "@" + ".".join(["b" * 60] * 3) + ".com",
        "a" * 64 + "@" + ".".join(["b" * 61] * 3) + ".com",
        "a" * 64 + "@" + ".".join(["b" * 62] * 3) + ".com",
        "a" * 64 + "@" + ".".join(["b" * 63] * 3) + ".cc",
        "user@Ex-Ample.COM", "user@EX--AMPLE.com", "user@-.com", "user@a-.com", "user@xn--.com",
        # the "Name <address>" form, whitespace
        "John Doe <john@example.com>", "<john@example.com>", "  <john@example.com>  ",
        "\"John Doe\" <john@example.com>", "\"J \"D\" oe\" <john@example.com>",
        "John<john@example.com>", "John Doe<john@example.com>", "John_Doe <j@example.com>",
        "J. Doe <j@example.com>", "John <>", "John <not an email>", "<a@b.com> x",
        "John <a@b.com", "John <a@b.com> ", "John\t<a@b.com>", "John\n<a@b.com>",
        "<a\n@b.com>", "\"A\nB\" <a@b.com>", "<<a@b.com>>", "<a@b.com>>", "x <y <a@b.com>",
        "\"a\" <b> \"c\" <d@example.com>", "\"\" <a@b.com>", "\"x\"<a@b.com>",
        " user@example.com", "user@example.com ", "\tuser@example.com\n",
        "\x1cuser@example.com\x1f", "\x0buser@example.com\x0c", " ", "\t\n",
        "user @example.com", "user@ example.com",
        # lengths
        "a" * 2049, "a" * 2048, "<" + "a" * 2040 + ">",
        # non-ASCII: the local part (NFC, categories) and the domain (IDNA)
        "üser@example.com", "u\u0308ser@example.com", "\u0308user@example.com",
        "us\u00a0er@example.com", "us\u200ber@example.com", "us\u2028er@example.com",
        "用户@example.com", "user@münchen.de", "user@MÜNCHEN.DE", "user@xn--mnchen-3ya.de",
        "user@例子.广告", "user@ex\u3002ample.com", "user@example\uff0ecom",
        "user@\u2488.com", "user@ex\u00a0ample.com", "user@xn--abc.com", "user@xn--a.com",
        "Jöhn <john@example.com>", "user@example.com\u00a0", "\u3000user@example.com",
        "user@a\u200db.com", "user@\u0308a.com", "ü" * 64 + "@example.com",
        "ü" * 65 + "@example.com",
    ]
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "tests",
                                                  "vectors"))
    args = ap.parse_args()
    ev, idna = load_email_validator()
    networks.email_validator = shim(ev)
    networks.import_email_validator = lambda: None
    ta = TypeAdapter(EmailStr)
    vectors = []
    seen = set()
    for s in cases():
        if s in seen:
            continue
        seen.add(s)
        try:
            vectors.append({"kind": "str", "input": s, "ok": True, "expect": ta.validate_python(s)})
        except ValidationError as e:
            (err,) = e.errors()
            vectors.append({"kind": "str", "input": s, "ok": False, "type": err["type"],
                            "msg": err["msg"], "error": err.get("ctx")})
    doc = {"about": "pydantic %s EmailStr over Debian's email-validator %s (idna %s) through "
                    "tools/gen_email_vectors.py's shim" % (pydantic.VERSION, ev.__version__
                                                           if hasattr(ev, "__version__")
                                                           else "1.3.0", idna.__version__),
           "vectors": vectors}
    path = os.path.join(args.out, "email.json")
    with open(path, "w", encoding="utf-8") as f:
        json.dump(doc, f, indent=1, ensure_ascii=True)
        f.write("\n")
    print("%s: %d vectors" % (os.path.normpath(path), len(vectors)))


if __name__ == "__main__":
    main()
