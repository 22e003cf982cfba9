/* email: an email address as pydantic 2's EmailStr checks it.
 *
 * EmailStr (pydantic/networks.py, validate_email) refuses a string of more
 * than 2048 characters, takes the address out of "Name <address>", strips
 * whitespace, and hands the rest to email-validator's validate_email with
 * check_deliverability=False; it stores the normalised address (the domain
 * case-folded and in Unicode form, a non-ASCII local part in NFC) and
 * answers a refusal as a value_error "value is not a valid email address:
 * REASON" with ctx {"reason": REASON}. email_check() reproduces that with
 * email-validator 1.3.0's rules and messages (tests/vectors/email.json, made
 * by tools/gen_email_vectors.py): ASCII addresses exactly; non-ASCII ones
 * with ICU (Unicode categories, names, NFC, UTS #46), where the reason of a
 * refused internationalised domain is ICU's, not Python idna's wording. */
#ifndef ENTITLED_EMAIL_H
#define ENTITLED_EMAIL_H

#include <stddef.h>

/* The normalised address is at most 254 bytes of UTF-8 (email-validator's
 * limit), so it fits EMAIL_BUF with its NUL. */
#define EMAIL_BUF 256
/* A reason quotes the domain and a label of it (Python repr()), each up to
 * 2048 characters, some escaped. */
#define EMAIL_REASON_BUF 32768

/* `s` (`len` bytes of UTF-8, NULs allowed) as EmailStr would take it.
 * Returns 0 with the normalised address in `out` (NUL-terminated, *out_len
 * bytes), -1 with email-validator's reason in `reason` (NUL-terminated,
 * *reason_len bytes; it may quote U+0000, so use the length), -2 when
 * memory ran out. */
int email_check(const char *s, size_t len, char out[EMAIL_BUF], size_t *out_len,
                char reason[EMAIL_REASON_BUF], size_t *reason_len);

#endif
