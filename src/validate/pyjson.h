/* pyjson: reads a request body the way FastAPI does (Python's json.loads on
 * the bytes), so that malformed JSON is refused with the same message and
 * position as Zenskar's FastAPI gives in its 422 `json_invalid` error:
 *   {"type":"json_invalid","loc":["body",<pos>],"msg":"JSON decode error",
 *    "input":{},"ctx":{"error":"Expecting ',' delimiter"}}
 * `pos` is Python's JSONDecodeError.pos: an index in code points of the decoded
 * text (equal to the byte offset for ASCII).
 *
 * The bytes are decoded as json.loads does: json.detect_encoding() picks
 * UTF-8 (a BOM skipped), or UTF-16 / UTF-32 (by BOM, or by the NUL bytes
 * Python looks for in the first four), decoded with "surrogatepass".
 *
 * Decisions where we part from Python, each for a reason:
 *   - NaN, Infinity and -Infinity are not JSON (RFC 8259): refused as
 *     "Expecting value" at their first character, as Python refuses any other
 *     unknown token.
 *   - Nesting deeper than the limit in force (pyjson_max_depth: 64,
 *     PYJSON_MAX_DEPTH, unless serve --max-json-depth sets 1 to 10000) is
 *     refused: PYJSON_TOO_DEEP, as soon as the bracket past it is met (the
 *     65th by default). Python goes on to its recursion limit
 *     (near depth 1000), where FastAPI answers 400 "There was an error
 *     parsing the body"; answer PYJSON_TOO_DEEP with that same 400
 *     (tests/vectors/patch.json expects it for a 5000-deep body).
 *   - A lone surrogate in a string (Python keeps it in the str, pydantic
 *     accepts it, but it cannot be stored or written back as UTF-8) is refused
 *     only when Python would otherwise have succeeded, so that every document
 *     Python refuses is refused with Python's own error:
 *       from a \u escape ("\ud800", "\udc00x"): PYJSON_INVALID,
 *         "Invalid \uXXXX escape" at the `u` of the first such escape (the
 *         index Python gives for a malformed \u escape);
 *       raw in the bytes (UTF-8 ED A0..BF xx, or UTF-16 / UTF-32 units that
 *         "surrogatepass" lets through): PYJSON_NOT_UTF8.
 * Where FastAPI answers 400 "There was an error parsing the body" (the bytes
 * do not decode, or Python raises something other than JSONDecodeError) we
 * answer PYJSON_NOT_UTF8: bytes that UTF-8 (or the UTF-16 / UTF-32 Python
 * detected) refuses, and an integer literal of more than 4300 digits
 * (Python 3.11's int limit raises ValueError).
 *
 * Values are built as jansson values: objects keep the last of duplicate keys
 * at the place of the first (as a Python dict does), strings keep \u0000
 * (use json_string_length), integers that fit in int64 are json_integer,
 * other finite reals json_real (-0 is the integer 0, -0.0 the real -0.0).
 * "Big" numbers are the integer literals outside int64 and the real literals
 * that overflow a double (1e400: Python's inf). A big number is stood in for
 * by a one-member object whose key begins with the byte 0xFF (never valid
 * UTF-8, so no document can forge it) and whose value is the literal text,
 * also behind a 0xFF byte: pyjson_is_big() tells it, pyjson_big_text() gives
 * the text, so a validator can answer as pydantic does (an int of 30 digits
 * is a valid float; 1e400 is "Input should be a finite number") and echo the
 * literal as `input`. An object, so that a validator which forgot to ask sees
 * a type error, never a string or a number; and json_dumps() of anything
 * holding a stand-in fails (returns NULL) instead of writing it: the writer
 * of `input` echoes must print pyjson_big_text() raw.
 *
 * On failure *out is NULL and `err` (may be NULL) is filled: for
 * PYJSON_INVALID with Python's msg and pos; for the other codes with a short
 * note and a code-point index, for logs only. */
#ifndef ENTITLED_PYJSON_H
#define ENTITLED_PYJSON_H

#include <jansson.h>
#include <stddef.h>

#define PYJSON_MAX_DEPTH 64
/* The nesting limit in force: PYJSON_MAX_DEPTH unless the process sets it
 * (serve --max-json-depth) before parsing anything. */
extern unsigned pyjson_max_depth;

enum pyjson_rc {
    PYJSON_OK = 0,
    PYJSON_INVALID = 1,  /* err->msg / err->pos as Python's JSONDecodeError */
    PYJSON_NOT_UTF8 = 2, /* FastAPI's 400: bytes do not decode, or not a JSONDecodeError */
    PYJSON_TOO_DEEP = 3, /* nesting past pyjson_max_depth */
    PYJSON_NOMEM = 4
};

typedef struct {
    char msg[96]; /* e.g. "Expecting value", "Unterminated string starting at" */
    size_t pos;   /* code-point index */
} pyjson_error;

/* Parse `len` bytes. On PYJSON_OK *out holds a new reference. */
enum pyjson_rc pyjson_parse(const char *buf, size_t len, json_t **out, pyjson_error *err);

/* True when `v` is the stand-in for a big number (see above). */
int pyjson_is_big(const json_t *v);

/* The literal text of a big number ("1e400", "-123456789012345678901"), or
 * NULL when `v` is not a stand-in. Valid as long as `v` is. */
const char *pyjson_big_text(const json_t *v);

/* True when the stand-in `v` holds an integer literal (no '.', 'e', 'E'). */
int pyjson_big_is_integer(const json_t *v);

#endif
