/* store_sqlite: the embedded backend (SQLite, WAL, synchronous=FULL). */
#ifndef ENTITLED_STORE_SQLITE_H
#define ENTITLED_STORE_SQLITE_H

#include "store/store.h"

store *store_sqlite_open(const char *path, char *err, size_t errcap);

#endif
