/* docs: the API describing itself. GET /openapi.json answers the OpenAPI
 * document (docs/openapi.json, written by tools/gen_openapi.py) and GET /docs
 * a self-contained HTML page that renders it (src/api/docs_page.html). Both
 * are compiled into the binary by cmake/embed.cmake; both routes are public. */
#ifndef ENTITLED_DOCS_H
#define ENTITLED_DOCS_H

#include "http/http.h"

void h_openapi(void *app, http_req *r);
void h_docs(void *app, http_req *r);

#endif
