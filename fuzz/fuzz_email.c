/* libFuzzer target: the EmailStr check (src/validate/email.c).
 *
 * The input is the string a body's "email" holds (made valid UTF-8 first:
 * jansson hands the validator nothing else).
 *
 * Checked, besides the sanitizers:
 *   - accepted: the normalised address is valid UTF-8 of at most 254 bytes
 *     without NUL, with exactly one '@', and checking it again accepts it
 *     unchanged (normalising is idempotent, as pydantic's is);
 *   - refused: a reason of reason_len bytes, NUL-terminated there, valid
 *     UTF-8, ending with '.' or "characters" (every message of
 *     email-validator and pydantic does). */
#include "common.h"

#include "validate/email.h"

static char reason[EMAIL_REASON_BUF], reason2[EMAIL_REASON_BUF];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size > 4 * 2100 || !fz_utf8_valid((const char *)data, size)) return 0;
    const char *s = (const char *)data;
    char out[EMAIL_BUF], again[EMAIL_BUF];
    size_t n = 0, rl = 0, n2 = 0, rl2 = 0;
    int rc = email_check(s, size, out, &n, reason, &rl);
    CHECK(rc == 0 || rc == -1);
    if (rc == 0) {
        CHECK(n <= 254 && out[n] == '\0' && strlen(out) == n);
        CHECK(fz_utf8_valid(out, n));
        const char *at = memchr(out, '@', n);
        CHECK(at && !memchr(at + 1, '@', n - (size_t)(at - out) - 1));
        CHECK(email_check(out, n, again, &n2, reason2, &rl2) == 0);
        CHECK(n2 == n && memcmp(out, again, n) == 0);
    } else {
        CHECK(rl > 0 && rl < EMAIL_REASON_BUF && reason[rl] == '\0');
        CHECK(fz_utf8_valid(reason, rl));
        CHECK(reason[rl - 1] == '.' ||
              (rl >= 10 && memcmp(reason + rl - 10, "characters", 10) == 0));
    }
    return 0;
}
