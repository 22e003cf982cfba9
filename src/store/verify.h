/* verify: replay the ledger against the rows (`entitled verify`). Works on
 * any backend through the store's two scans. */
#ifndef ENTITLED_VERIFY_H
#define ENTITLED_VERIFY_H

#include "store/store.h"

#include <stdio.h>

typedef struct {
    size_t entries, rows, chains, consumes, deleted;
    size_t problems; /* mismatches found (each printed, the first 100) */
} verify_report;

/* Check, printing each mismatch to `out`: every row's first entry is a
 * create and nothing follows a delete; each consume adds its delta to the
 * previous quantity_used exactly, keeps quantity, and leaves quantity_used
 * <= quantity; every row equals its latest entry (quantity, quantity_used,
 * active_from, expiry_at), every row has entries and no deleted row
 * remains. */
store_rc verify_run(store *s, FILE *out, verify_report *rep);

#endif
