/* uid: UUIDs. Parsed as pydantic v2 parses a `uuid.UUID` (the Rust uuid
 * crate's formats: hyphenated, simple 32 hex digits, braced, urn:uuid:, any
 * case), written in lower case hyphenated form, and made as version 7
 * (time-ordered, so new rows append to the primary-key index) or version 4. */
#ifndef ENTITLED_UID_H
#define ENTITLED_UID_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint8_t b[16];
} uid_t16;

#define UID_STR_LEN 36 /* without the NUL */

/* Parse `len` bytes. 0 on success; -1 with `err` (capacity `cap`) set to the
 * text pydantic puts after "Input should be a valid UUID, ", e.g.
 * "invalid length: expected length 32 for simple format, found 3". */
int uid_parse(const char *s, size_t len, uid_t16 *out, char *err, size_t cap);

/* As uid_parse, and *err_len (if not NULL) gets the length of the text. That
 * text quotes the offending character, which can be U+0000 (pydantic reports
 * "invalid character: found `\0` at 1"), so the length, not the NUL, says
 * where it ends. Invalid UTF-8 gives the crate's "non-UTF8 input". */
int uid_parse_ex(const char *s, size_t len, uid_t16 *out, char *err, size_t cap, size_t *err_len);

/* Lower-case hyphenated form, NUL-terminated; `out` holds 37 bytes. */
void uid_format(const uid_t16 *u, char *out);

/* Convenience: parse and re-format into canonical lower case; 0 or -1. */
int uid_canon(const char *s, size_t len, char *out37);

/* New ids from the kernel's random source (getrandom). 0 or -1.
 * Version 7 ids are strictly increasing within the process: in the same
 * millisecond the previous id's 74 random bits are counted up by one. */
int uid_new_v4(uid_t16 *out);
/* A random (v4) UUID from a per-thread pool of getrandom() bytes: for the
 * many short-lived ids of requests. */
int uid_new_v4_pooled(uid_t16 *out);
int uid_new_v7(uid_t16 *out);

/* Fill `buf` with `n` random bytes from getrandom; 0 or -1. */
int uid_random_bytes(void *buf, size_t n);

#endif
