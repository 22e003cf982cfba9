/* auth: API keys and the organisation header.
 *
 * A key is "ek_" + a 16-hex-digit key id + "_" + 32 random bytes in
 * base64url. Only the id and SHA-256 of the whole key are stored. A request's
 * key is looked up by its id, then its hash is compared in constant time, so
 * neither the lookup nor the comparison tells how much of a guess was right. */
#include "api/api.h"

#include "domain/uid.h"
#include "util/sha256.h"

#include <stdio.h>
#include <string.h>

#define KEY_ID_HEX 16

int api_key_new(char *key_out, size_t cap, char *id_out, uint8_t hash_out[32]) {
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    uint8_t idb[KEY_ID_HEX / 2], sec[33];
    if (cap < API_KEY_MAX || uid_random_bytes(idb, sizeof idb) != 0 ||
        uid_random_bytes(sec, 32) != 0)
        return -1;
    sec[32] = 0;
    size_t n = 0;
    n += (size_t)snprintf(key_out, cap, "ek_");
    for (size_t i = 0; i < sizeof idb; i++)
        n += (size_t)snprintf(key_out + n, cap - n, "%02x", idb[i]);
    memcpy(id_out, key_out + 3, KEY_ID_HEX);
    id_out[KEY_ID_HEX] = '\0';
    key_out[n++] = '_';
    /* 32 bytes -> 43 base64url characters (the last group holds 2 bytes) */
    for (size_t i = 0; i < 32; i += 3) {
        uint32_t v =
            (uint32_t)sec[i] << 16 | (uint32_t)sec[i + 1] << 8 | (i + 2 < 32 ? sec[i + 2] : 0);
        key_out[n++] = b64[(v >> 18) & 63];
        key_out[n++] = b64[(v >> 12) & 63];
        key_out[n++] = b64[(v >> 6) & 63];
        if (i + 2 < 32) key_out[n++] = b64[v & 63];
    }
    key_out[n] = '\0';
    sha256(key_out, n, hash_out);
    return 0;
}

bool api_authorize(void *appv, http_req *r) {
    api_app *app = appv;
    size_t klen, olen;
    const char *key = http_header_n(r, "x-api-key", &klen);
    if (!key || !klen) {
        http_reply_detail(r, 401, "Missing API key: send it in the x-api-key header");
        return false;
    }
    char id[KEY_ID_HEX + 1];
    /* strlen: a NUL byte inside the header ends the C string early */
    if (strlen(key) != klen || klen > API_KEY_MAX || klen < 3 + KEY_ID_HEX + 1 ||
        strncmp(key, "ek_", 3) != 0 || key[3 + KEY_ID_HEX] != '_') {
        http_reply_detail(r, 401, "Invalid API key");
        return false;
    }
    memcpy(id, key + 3, KEY_ID_HEX);
    id[KEY_ID_HEX] = '\0';
    /* Read on every request, never cached: a key revoked with `entitled
     * apikey revoke` (by any process) is refused from the next request on. */
    store_apikey k = {0};
    store_rc rc = store_apikey_get(app->st, id, &k);
    if (rc != STORE_OK && rc != STORE_NOT_FOUND) {
        api_reply_store(r, rc, "API key");
        return false;
    }
    uint8_t h[32];
    sha256(key, klen, h);
    /* compared whole, in constant time, even for an unknown id (against
     * zeros); a revoked key answers exactly as an unknown one */
    bool match = sha256_ct_equal(h, k.hash, 32);
    if (!match || rc == STORE_NOT_FOUND || k.revoked_at) {
        http_reply_detail(r, 401, "Invalid API key");
        return false;
    }
    const char *org = http_header_n(r, "organisation", &olen);
    if (!org || !olen) {
        http_reply_detail(r, 401, "Missing organisation header");
        return false;
    }
    char canon[ID_BUF];
    if (uid_canon(org, olen, canon) != 0 || strcmp(canon, k.org) != 0) {
        http_reply_detail(r, 403, "This API key does not belong to that organisation");
        return false;
    }
    memcpy(r->org, k.org, ID_BUF);
    return true;
}
