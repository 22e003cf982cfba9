#include "api/api.h"

#include <string.h>

void h_healthz(void *app, http_req *r) {
    static const char ok[] = "{\"status\":\"ok\"}";
    http_reply(r, 200, strdup(ok), sizeof ok - 1);
}
