/* b64: base64url without padding (RFC 4648 section 5), for opaque cursors. */
#ifndef ENTITLED_B64_H
#define ENTITLED_B64_H

#include <stddef.h>

/* Encode `n` bytes; `out` holds at least B64_ENCODED_LEN(n) + 1 bytes. */
#define B64_ENCODED_LEN(n) (((n) + 2) / 3 * 4)
size_t b64_encode(const void *in, size_t n, char *out);
/* Decode; returns the byte count, or (size_t)-1 on a character outside the
 * alphabet or an impossible length. `out` holds at least n * 3 / 4 + 1 bytes. */
size_t b64_decode(const char *in, size_t n, void *out);

#endif
