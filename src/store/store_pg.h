/* store_pg: the shared backend (PostgreSQL through libpq), for several
 * `entitled serve` processes on one database. */
#ifndef ENTITLED_STORE_PG_H
#define ENTITLED_STORE_PG_H

#include "store/store.h"

/* `conninfo`: a postgresql:// URI or key=value conninfo. `pool`: the
 * connections this process keeps (opened on first use). */
store *store_pg_open(const char *conninfo, unsigned pool, char *err, size_t errcap);

#endif
