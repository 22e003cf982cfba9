#include "store/store.h"

#include "store/store_sqlite.h"

#include <stdio.h>
#include <string.h>

store *store_open(const char *dsn, char *err, size_t errcap) {
    /* A connection URI or key=value conninfo will select PostgreSQL once that
     * backend exists; until then it is refused rather than taken as a file. */
    if (strncmp(dsn, "postgresql://", 13) == 0 || strncmp(dsn, "postgres://", 11) == 0 ||
        strstr(dsn, "dbname=") || strstr(dsn, "host=")) {
        snprintf(err, errcap, "PostgreSQL is not supported by this build yet: %s", dsn);
        return NULL;
    }
    return store_sqlite_open(dsn, err, errcap);
}

void store_close(store *s) {
    if (s) s->ops->close(s);
}

const char *store_rc_name(store_rc rc) {
    switch (rc) {
    case STORE_OK: return "ok";
    case STORE_NOT_FOUND: return "not found";
    case STORE_CONFLICT: return "conflict";
    case STORE_WINDOW: return "window";
    case STORE_BUSY: return "busy";
    case STORE_ERROR: return "error";
    }
    return "?";
}
