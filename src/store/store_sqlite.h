/* store_sqlite: the embedded backend (SQLite in WAL mode with
 * synchronous=NORMAL: a COMMIT does not sync, the syncer thread's fdatasync
 * of the WAL makes the commits before it durable). */
#ifndef ENTITLED_STORE_SQLITE_H
#define ENTITLED_STORE_SQLITE_H

#include "store/store.h"

store *store_sqlite_open(const char *path, char *err, size_t errcap);

#endif
