"""A small JSON Schema validator: the 2020-12 subset entitled's OpenAPI
document uses. Python 3 standard library only.

    errors = validate(instance, schema, root=document)

returns a list of strings, each starting with the JSON path of the fault
("$.results[0].quantity: -1 is less than the minimum 0"); empty when the
instance is valid.

Keywords: $ref (local, "#/..."), type (a name or a list; "integer" is a
number with no fraction, and a bool is neither), properties, required,
additionalProperties (bool or schema), items, minItems, maxItems, anyOf,
oneOf, allOf, enum, const, minimum, maximum, exclusiveMinimum,
exclusiveMaximum, minLength, maxLength, pattern, and the formats "uuid" and
"date-time". Annotations (title, description, default, examples, ...) are
ignored. A keyword outside this list is reported, so that a document cannot
silently rely on something this validator does not check (see
unsupported_keywords).

Formats are checked as the server writes them (answers): a uuid is lower-case
hyphenated; a date-time is YYYY-MM-DDTHH:MM:SS[.ffffff]Z, a real date and
time, with a fraction only when it is not zero.
"""

import datetime
import json
import re

SUPPORTED = {
    "$ref", "type", "properties", "required", "additionalProperties", "items", "minItems",
    "maxItems", "anyOf", "oneOf", "allOf", "enum", "const", "minimum", "maximum",
    "exclusiveMinimum", "exclusiveMaximum", "minLength", "maxLength", "pattern", "format",
}
ANNOTATIONS = {
    "title", "description", "default", "examples", "example", "deprecated", "readOnly",
    "writeOnly", "$comment",
}

UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
DT_RE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{6}))?Z$")


def _is_number(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _is_integer(v):
    if isinstance(v, bool):
        return False
    if isinstance(v, int):
        return True
    return isinstance(v, float) and v.is_integer()


TYPES = {
    "null": lambda v: v is None,
    "boolean": lambda v: isinstance(v, bool),
    "integer": _is_integer,
    "number": _is_number,
    "string": lambda v: isinstance(v, str),
    "array": lambda v: isinstance(v, list),
    "object": lambda v: isinstance(v, dict),
}


def _type_name(v):
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, int):
        return "integer"
    if isinstance(v, float):
        return "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "array"
    if isinstance(v, dict):
        return "object"
    return type(v).__name__


def _short(v, n=80):
    try:
        t = json.dumps(v, ensure_ascii=False)
    except (TypeError, ValueError):
        t = repr(v)
    return t if len(t) <= n else t[:n - 3] + "..."


def _json_equal(a, b):
    """JSON equality: 1 == 1.0, but true is not 1."""
    if _is_number(a) and _is_number(b):
        return a == b
    if type(a) is not type(b):
        return False
    if isinstance(a, list):
        return len(a) == len(b) and all(_json_equal(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_json_equal(a[k], b[k]) for k in a)
    return a == b


def resolve(root, ref):
    """The target of a local $ref ("#/components/schemas/X"); KeyError if none."""
    if not ref.startswith("#"):
        raise KeyError("only local references are supported: %r" % ref)
    cur = root
    for part in ref[1:].split("/")[1:] if ref != "#" else []:
        part = part.replace("~1", "/").replace("~0", "~")
        if isinstance(cur, dict) and part in cur:
            cur = cur[part]
        elif isinstance(cur, list) and part.isdigit() and int(part) < len(cur):
            cur = cur[int(part)]
        else:
            raise KeyError("unresolvable $ref %r" % ref)
    return cur


def check_format(fmt, v):
    """None when `v` (a string) has format `fmt`, else why not."""
    if fmt == "uuid":
        return None if UUID_RE.match(v) else "not a lower-case hyphenated UUID"
    if fmt == "date-time":
        m = DT_RE.match(v)
        if not m:
            return "not a date-time written YYYY-MM-DDTHH:MM:SS[.ffffff]Z"
        y, mo, d, h, mi, s, frac = m.groups()
        try:
            datetime.datetime(int(y), int(mo), int(d), int(h), int(mi), int(s))
        except ValueError as e:
            return "not a real date-time (%s)" % e
        if frac is not None and int(frac) == 0:
            return "a zero fraction is written (it should be left out)"
        return None
    return None  # unknown formats are annotations


class _Validator:
    def __init__(self, root):
        self.root = root
        self.errors = []

    def err(self, path, msg):
        self.errors.append("%s: %s" % (path, msg))

    def run(self, v, s, path, depth=0):
        if depth > 64:
            self.err(path, "schema nesting too deep (a $ref cycle?)")
            return
        if s is True or s == {}:
            return
        if s is False:
            self.err(path, "no value is allowed here")
            return
        if not isinstance(s, dict):
            self.err(path, "bad schema %s" % _short(s))
            return
        for k in s:
            if k not in SUPPORTED and k not in ANNOTATIONS:
                self.err(path, "schema keyword %r is not supported by tests/api/schema.py" % k)
        if "$ref" in s:
            try:
                target = resolve(self.root, s["$ref"])
            except KeyError as e:
                self.err(path, str(e))
            else:
                self.run(v, target, path, depth + 1)
        if "type" in s:
            names = s["type"] if isinstance(s["type"], list) else [s["type"]]
            if not any(TYPES.get(t, lambda _v: False)(v) for t in names):
                self.err(path, "%s is %s, expected %s" % (_short(v), _type_name(v),
                                                          " or ".join(names)))
                return  # further keywords would only repeat the fault
        if "const" in s and not _json_equal(v, s["const"]):
            self.err(path, "%s is not the constant %s" % (_short(v), _short(s["const"])))
        if "enum" in s and not any(_json_equal(v, e) for e in s["enum"]):
            self.err(path, "%s is not one of %s" % (_short(v), _short(s["enum"], 200)))
        if _is_number(v):
            if "minimum" in s and v < s["minimum"]:
                self.err(path, "%s is less than the minimum %s" % (_short(v), s["minimum"]))
            if "maximum" in s and v > s["maximum"]:
                self.err(path, "%s is more than the maximum %s" % (_short(v), s["maximum"]))
            if "exclusiveMinimum" in s and v <= s["exclusiveMinimum"]:
                self.err(path, "%s is not more than %s" % (_short(v), s["exclusiveMinimum"]))
            if "exclusiveMaximum" in s and v >= s["exclusiveMaximum"]:
                self.err(path, "%s is not less than %s" % (_short(v), s["exclusiveMaximum"]))
        if isinstance(v, str):
            if "minLength" in s and len(v) < s["minLength"]:
                self.err(path, "%s is shorter than %d characters" % (_short(v), s["minLength"]))
            if "maxLength" in s and len(v) > s["maxLength"]:
                self.err(path, "%s is longer than %d characters" % (_short(v), s["maxLength"]))
            if "pattern" in s and not re.search(s["pattern"], v):
                self.err(path, "%s does not match %r" % (_short(v), s["pattern"]))
            if "format" in s:
                why = check_format(s["format"], v)
                if why:
                    self.err(path, "%s: %s" % (_short(v), why))
        if isinstance(v, list):
            if "minItems" in s and len(v) < s["minItems"]:
                self.err(path, "%d items, fewer than %d" % (len(v), s["minItems"]))
            if "maxItems" in s and len(v) > s["maxItems"]:
                self.err(path, "%d items, more than %d" % (len(v), s["maxItems"]))
            if "items" in s:
                for i, item in enumerate(v):
                    self.run(item, s["items"], "%s[%d]" % (path, i), depth + 1)
        if isinstance(v, dict):
            props = s.get("properties", {})
            for k in s.get("required", []):
                if k not in v:
                    self.err(path, "required property %r is missing" % k)
            for k, item in v.items():
                sub = "%s.%s" % (path, k)
                if k in props:
                    self.run(item, props[k], sub, depth + 1)
                elif "additionalProperties" in s:
                    ap = s["additionalProperties"]
                    if ap is False:
                        self.err(path, "property %r is not in the schema (value %s)"
                                 % (k, _short(item)))
                    elif isinstance(ap, dict):
                        self.run(item, ap, sub, depth + 1)
        if "allOf" in s:
            for i, sub in enumerate(s["allOf"]):
                self.run(v, sub, path, depth + 1)
        for kw in ("anyOf", "oneOf"):
            if kw not in s:
                continue
            results = [_sub_errors(self.root, v, sub, path, depth + 1) for sub in s[kw]]
            passing = [i for i, r in enumerate(results) if not r]
            if not passing:
                self.err(path, "%s matches none of the %s alternatives:\n%s" % (
                    _short(v), kw, "\n".join("    [%d] %s" % (i, "; ".join(r))
                                             for i, r in enumerate(results))))
            elif kw == "oneOf" and len(passing) > 1:
                self.err(path, "%s matches %d oneOf alternatives %s, expected exactly one"
                         % (_short(v), len(passing), passing))


def _sub_errors(root, v, schema, path, depth):
    sub = _Validator(root)
    sub.run(v, schema, path, depth)
    return sub.errors


def validate(instance, schema, root=None, path="$"):
    """The faults of `instance` against `schema` (a list of strings; empty when
    valid). `root` is the document $refs point into (default: the schema)."""
    v = _Validator(root if root is not None else schema)
    v.run(instance, schema, path)
    return v.errors


def unsupported_keywords(schema, where="$"):
    """Keywords in a schema (recursively) that this validator does not know."""
    out = []
    if isinstance(schema, bool):
        return out
    if not isinstance(schema, dict):
        return ["%s: not a schema: %s" % (where, _short(schema))]
    for k, val in schema.items():
        if k not in SUPPORTED and k not in ANNOTATIONS:
            out.append("%s: %s" % (where, k))
    for k in ("properties",):
        for name, sub in schema.get(k, {}).items():
            out += unsupported_keywords(sub, "%s.%s.%s" % (where, k, name))
    for k in ("items", "additionalProperties"):
        if isinstance(schema.get(k), dict):
            out += unsupported_keywords(schema[k], "%s.%s" % (where, k))
    for k in ("anyOf", "oneOf", "allOf"):
        for i, sub in enumerate(schema.get(k, [])):
            out += unsupported_keywords(sub, "%s.%s[%d]" % (where, k, i))
    return out


# --------------------------------------------------------------------------
# OpenAPI answers: which operation a request reached, and whether the answer
# is one the document promises. Used by harness.py on every answer.

HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
PARAM_MAX = 256  # src/http/http.h HTTP_PARAM_MAX: a longer segment matches no {param}


def _segments(path):
    """A request path as the server's router sees it: no query, percent-decoded
    (libmicrohttpd decodes the path), split at '/'. None when it does not start
    with '/'."""
    from urllib.parse import unquote_to_bytes
    path = path.split("?", 1)[0].split("#", 1)[0]
    if not path.startswith("/"):
        return None
    return unquote_to_bytes(path[1:]).split(b"/")


def _specificity(template, segs):
    """src/http/router.c's match: None when the template does not match, else a
    tuple ranking literal segments first-to-last (literal beats {param})."""
    tsegs = template[1:].split("/")
    if len(tsegs) != len(segs):
        return None
    rank = []
    for t, s in zip(tsegs, segs):
        if len(t) > 1 and t.startswith("{") and t.endswith("}"):
            if not s or len(s) >= PARAM_MAX:
                return None
            rank.append(0)
        else:
            if t.encode() != s:
                return None
            rank.append(1)
    return tuple(rank)


def match_operation(doc, method, path):
    """(template, operation) for the operation the router picks; (template,
    None) when the path is documented but not with this method (405); None
    when no documented path matches."""
    segs = _segments(path)
    if segs is None:
        return None
    best, best_rank, any_path = None, None, None
    for template, item in doc.get("paths", {}).items():
        rank = _specificity(template, segs)
        if rank is None:
            continue
        any_path = template
        o = item.get(method.lower()) if method.lower() in HTTP_METHODS else None
        if o is not None and (best_rank is None or rank > best_rank):
            best, best_rank = (template, o), rank
    if best:
        return best
    return (any_path, None) if any_path else None


def _deref(doc, obj):
    seen = 0
    while isinstance(obj, dict) and "$ref" in obj and seen < 20:
        obj = resolve(doc, obj["$ref"])
        seen += 1
    return obj


# Answers the HTTP library (libmicrohttpd) gives before any route is matched
# (a malformed request, a URL or header block too long): not entitled's, so
# not held to the document when they are not JSON.
EDGE_STATUSES = {400, 413, 414, 431}


def answer_errors(doc, method, path, status, content_type, body):
    """Faults of an answer against the document: a list of strings (empty when
    it conforms or the path is not documented). body: bytes."""
    m = match_operation(doc, method, path)
    if m is None:
        return []
    template, o = m
    ctype = (content_type or "").split(";")[0].strip().lower()
    if o is None:
        if ctype != "application/json" and status in EDGE_STATUSES:
            return []
        if status != 405:
            return ["%s %s: the path is documented (%s) but not this method, so the answer "
                    "must be 405, not %d" % (method, path, template, status)]
        schema = {"$ref": "#/components/schemas/ErrorDetail"}
        op_name = "405 of %s" % template
        content = {"application/json": {"schema": schema}}
        resp_headers = {}
    else:
        op_name = "%s %s" % (o.get("operationId"), status)
        responses = o.get("responses", {})
        r = responses.get(str(status)) or responses.get("%dXX" % (status // 100)) \
            or responses.get("default")
        if r is None:
            if ctype != "application/json" and status in EDGE_STATUSES:
                return []
            return ["%s: status %d is not documented for %s %s (documented: %s)"
                    % (o.get("operationId"), status, method.upper(), template,
                       ", ".join(sorted(responses)))]
        r = _deref(doc, r)
        content = r.get("content") or {}
        resp_headers = {}
    if method.upper() == "HEAD":
        return []
    if not content:
        return []
    if ctype not in content:
        return ["%s: content-type %r is not documented (documented: %s)"
                % (op_name, content_type, ", ".join(content))]
    schema = content[ctype].get("schema")
    if schema is None:
        return []
    if ctype == "application/json" or ctype.endswith("+json"):
        try:
            value = json.loads(body.decode("utf-8"), parse_constant=_no_constant)
        except (ValueError, UnicodeDecodeError) as e:
            return ["%s: the body is not JSON (%s)" % (op_name, e)]
    else:
        try:
            value = body.decode("utf-8")
        except UnicodeDecodeError as e:
            return ["%s: the body is not UTF-8 text (%s)" % (op_name, e)]
    return ["%s: %s" % (op_name, e) for e in validate(value, schema, root=doc)]


def _no_constant(name):
    raise ValueError("%s is not JSON" % name)


def missing_headers(doc, method, path, status, header):
    """Faults of an answer's headers against the document: a header it marks
    `required: true` that the answer lacks, and a documented header whose
    value does not match its schema (an answer may leave out a header that is
    not required, OpenAPI's default). header: a function name -> value or
    None."""
    m = match_operation(doc, method, path)
    if not m or m[1] is None:
        return []
    r = m[1].get("responses", {}).get(str(status))
    if r is None:
        return []
    r = _deref(doc, r)
    out = []
    for h, hd in (r.get("headers") or {}).items():
        hd = _deref(doc, hd)
        value = header(h)
        where = "%s %d: header %r" % (m[1].get("operationId"), status, h)
        if value is None:
            if hd.get("required") is True:
                out.append("%s is missing" % where)
            continue
        s = hd.get("schema")
        if s is None:
            continue
        if _deref(doc, s).get("type") in ("integer", "number"):
            if not re.fullmatch(r"-?\d+(\.\d+)?", value):
                out.append("%s: %s is not a number" % (where, _short(value)))
                continue
            value = float(value) if "." in value else int(value)
        out += ["%s: %s" % (where, e) for e in validate(value, s, root=doc, path="value")]
    return out
