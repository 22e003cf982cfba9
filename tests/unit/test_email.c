/* email: every case of tests/vectors/email.json (pydantic's EmailStr over
 * email-validator 1.3.0, tools/gen_email_vectors.py), then the key.
 *
 * One difference is allowed, and counted: a refused internationalised
 * domain (non-ASCII, or an A-label "xn--") gets ICU's UTS #46 verdict, whose
 * reason in "contains invalid characters (REASON)." is not Python idna's
 * wording; there only the text before the parenthesis must match. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "store/store.h"
#include "validate/email.h"

#define VECTORS ENTITLED_SOURCE_DIR "/tests/vectors/email.json"
#define PREFIX "value is not a valid email address: "

static char reason[EMAIL_REASON_BUF];

static int idn_domain(const char *s, size_t n) {
    const char *at = memchr(s, '@', n);
    if (!at) return 0;
    for (const char *p = at; p < s + n; p++)
        if ((unsigned char)*p >= 0x80 || (p + 4 <= s + n && strncmp(p, "xn--", 4) == 0)) return 1;
    return 0;
}

static void test_vectors(void **state) {
    (void)state;
    json_error_t jerr;
    json_t *doc = json_load_file(VECTORS, JSON_ALLOW_NUL, &jerr);
    if (!doc) fail_msg("%s:%d: %s", VECTORS, jerr.line, jerr.text);
    json_t *cases = json_object_get(doc, "vectors");
    assert_true(json_array_size(cases) >= 150);
    size_t i, failures = 0, approx = 0;
    json_t *c;
    json_array_foreach(cases, i, c) {
        json_t *in = json_object_get(c, "input");
        const char *s = json_string_value(in);
        size_t n = json_string_length(in), out_len = 0, rlen = 0;
        char out[EMAIL_BUF];
        int rc = email_check(s, n, out, &out_len, reason, &rlen);
        int want_ok = json_is_true(json_object_get(c, "ok"));
        const char *why = NULL;
        json_t *got = NULL;
        if (rc == 0) {
            got = json_stringn(out, out_len);
            if (!want_ok)
                why = "accepted, pydantic refuses";
            else if (!json_equal(got, json_object_get(c, "expect")))
                why = "wrong value";
        } else if (rc == -1) {
            got = json_stringn(reason, rlen);
            json_t *want = json_object_get(json_object_get(c, "error"), "reason");
            const char *msg = json_string_value(json_object_get(c, "msg"));
            if (want_ok)
                why = "refused, pydantic accepts";
            else if (strcmp(json_string_value(json_object_get(c, "type")), "value_error") != 0)
                why = "vector is not value_error";
            else if (!msg || strncmp(msg, PREFIX, strlen(PREFIX)) != 0 || !want ||
                     json_string_length(json_object_get(c, "msg")) !=
                         strlen(PREFIX) + json_string_length(want) ||
                     memcmp(msg + strlen(PREFIX), json_string_value(want),
                            json_string_length(want)) != 0)
                why = "vector's msg is not PREFIX + reason";
            else if (!json_equal(got, want)) {
                const char *w = json_string_value(want), *paren = strstr(w, " (");
                if (idn_domain(s, n) && paren && rlen > (size_t)(paren - w) &&
                    memcmp(reason, w, (size_t)(paren - w) + 2) == 0)
                    approx++;
                else
                    why = "wrong reason";
            }
        } else {
            why = "out of memory";
        }
        if (why) {
            char *a = json_dumps(in, JSON_ENCODE_ANY | JSON_ENSURE_ASCII);
            char *b = got ? json_dumps(got, JSON_ENCODE_ANY | JSON_ENSURE_ASCII) : NULL;
            char *w = json_dumps(c, JSON_COMPACT | JSON_ENSURE_ASCII);
            print_message("case %zu %s: %s\n  got  %s\n  want %s\n", i, a, why, b ? b : "-", w);
            free(a), free(b), free(w);
            failures++;
        }
        json_decref(got);
    }
    print_message("%zu vectors, %zu with ICU's IDNA reason\n", json_array_size(cases), approx);
    json_decref(doc);
    assert_int_equal(failures, 0);
}

static void test_key(void **state) {
    (void)state;
    char *key = store_email_key("Mixed.Case@Example.COM");
    assert_string_equal(key, "mixed.case@example.com");
    free(key);
    key = store_email_key("\xc3\x84x@b.de"); /* non-ASCII letters are kept */
    assert_string_equal(key, "\xc3\x84x@b.de");
    free(key);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vectors),
        cmocka_unit_test(test_key),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
