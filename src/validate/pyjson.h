/* pyjson: reads a request body the way FastAPI does (Python's json.loads on
 * the bytes), so that malformed JSON is refused with the same message and
 * position as Zenskar's FastAPI gives in its 422 `json_invalid` error:
 *   {"type":"json_invalid","loc":["body",<pos>],"msg":"JSON decode error",
 *    "input":{},"ctx":{"error":"Expecting ',' delimiter"}}
 * `pos` is Python's JSONDecodeError.pos: an index in code points of the decoded
 * text (equal to the byte offset for ASCII).
 *
 * Decisions where we part from Python, each for a reason:
 *   - NaN, Infinity and -Infinity are not JSON (RFC 8259): refused as
 *     "Expecting value" at their first character, as Python refuses any other
 *     unknown token.
 *   - Nesting deeper than PYJSON_MAX_DEPTH is refused (Python would hit its
 *     recursion limit): PYJSON_TOO_DEEP.
 *   - Bytes that are not UTF-8 (FastAPI answers 400 "There was an error
 *     parsing the body"): PYJSON_NOT_UTF8. A UTF-8 BOM is skipped, as
 *     json.loads does for bytes.
 *   - A \u escape that leaves a lone surrogate is refused as
 *     "Invalid \uXXXX escape" at the backslash (a lone surrogate cannot be
 *     stored or written back as UTF-8).
 * Values are built as jansson values: objects keep the last of duplicate keys
 * (as Python does), integers that fit in int64 are json_integer, other numbers
 * json_real; an integer or real too large for a double becomes a json_string
 * holding the literal text, tagged by pyjson_is_big(), so the validator can
 * answer as pydantic does for a number that is not finite. */
#ifndef ENTITLED_PYJSON_H
#define ENTITLED_PYJSON_H

#include <jansson.h>
#include <stddef.h>

#define PYJSON_MAX_DEPTH 64

enum pyjson_rc {
    PYJSON_OK = 0,
    PYJSON_INVALID = 1,  /* err_msg / err_pos set as Python's JSONDecodeError */
    PYJSON_NOT_UTF8 = 2, /* body is not UTF-8 */
    PYJSON_TOO_DEEP = 3, /* nesting past PYJSON_MAX_DEPTH */
    PYJSON_NOMEM = 4
};

typedef struct {
    char msg[96]; /* e.g. "Expecting value", "Unterminated string starting at" */
    size_t pos;   /* code-point index */
} pyjson_error;

/* Parse `len` bytes. On PYJSON_OK *out holds a new reference. */
enum pyjson_rc pyjson_parse(const char *buf, size_t len, json_t **out, pyjson_error *err);

/* True when `v` is the string stand-in for a number too large for a double. */
int pyjson_is_big(const json_t *v);

#endif
