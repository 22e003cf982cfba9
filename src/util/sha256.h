/* sha256: FIPS 180-4 SHA-256, used to store API keys as hashes. Keys carry
 * 256 bits of randomness, so a plain (fast) hash is enough: there is nothing
 * to brute-force, unlike a password. */
#ifndef ENTITLED_SHA256_H
#define ENTITLED_SHA256_H

#include <stddef.h>
#include <stdint.h>

void sha256(const void *data, size_t len, uint8_t out[32]);

/* Compare `n` bytes in time that does not depend on where they differ. */
int sha256_ct_equal(const uint8_t *a, const uint8_t *b, size_t n);

#endif
