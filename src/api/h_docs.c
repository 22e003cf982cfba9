/* docs: GET /openapi.json and GET /docs, answered from the embedded files. */
#include "api/docs.h"

#include <stdlib.h>
#include <string.h>

/* Generated at build time by cmake/embed.cmake (each array ends in a NUL
 * that the length leaves out). */
extern const unsigned char embed_openapi_json[];
extern const size_t embed_openapi_json_len;
extern const unsigned char embed_docs_page_html[];
extern const size_t embed_docs_page_html_len;

/* http_reply takes a heap buffer: copy the embedded bytes. */
static bool reply_copy(http_req *r, const unsigned char *data, size_t len) {
    char *out = malloc(len + 1);
    if (!out) {
        http_reply_detail(r, 500, "Internal Server Error: out of memory");
        return false;
    }
    memcpy(out, data, len + 1);
    http_reply(r, 200, out, len);
    return true;
}

void h_openapi(void *app, http_req *r) {
    reply_copy(r, embed_openapi_json, embed_openapi_json_len);
}

void h_docs(void *app, http_req *r) {
    if (reply_copy(r, embed_docs_page_html, embed_docs_page_html_len))
        r->content_type = "text/html; charset=utf-8";
}
