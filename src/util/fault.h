/* fault: test-only fault injection (issue 7). Compiled only with
 * -DENTITLED_FAULTS=ON (the `build-fault` directory of `make fault`); a
 * production build has none of it, and the X-Fault header means nothing to it.
 *
 * One fault is armed per thread at a time, for one request (the first stage
 * of the request pipeline, src/api/pipeline.c, arms it from the request's
 * X-Fault header and disarms it after the handler):
 *
 *   store:N[:ioerr|full|busy]  the Nth sqlite3_step() this thread makes while
 *                              armed returns SQLITE_IOERR (default),
 *                              SQLITE_FULL or SQLITE_BUSY instead of stepping
 *                              (src/store/store_sqlite.c)
 *   alloc:N                    the Nth malloc/calloc/realloc this thread makes
 *                              while armed returns NULL (the executables of the
 *                              fault build are linked with -Wl,--wrap=malloc,...
 *                              so every call from the project's own code counts;
 *                              allocations inside shared libraries -- jansson,
 *                              SQLite, libmicrohttpd -- do not, unless the
 *                              server runs with ENTITLED_FAULT_JANSSON=1,
 *                              which counts jansson's too)
 *
 * And for the process, set by the environment: ENTITLED_FAULT_SYNC=N makes
 * the Nth fdatasync of SQLite's WAL by the syncer fail with EIO, once
 * (src/store/store_sqlite.c; the server then halts its writes).
 *
 * Each fault fires once (the calls after the Nth succeed again, as a transient
 * failure would), and fault_fired() tells whether it did: a request whose
 * fault did not fire made fewer than N such calls. Under ASan,
 * ENTITLED_FAULT_TRACE=1 prints the stack of each fault as it fires. */
#ifndef ENTITLED_FAULT_H
#define ENTITLED_FAULT_H

#ifdef ENTITLED_FAULTS

#include <stdbool.h>

typedef enum { FAULT_NONE, FAULT_IOERR, FAULT_FULL, FAULT_BUSY } fault_store_kind;

/* Arm this thread's fault from a spec (above); -1 when the spec is malformed
 * (nothing is armed then). */
int fault_arm(const char *spec);
/* Disarm this thread's fault; fault_fired() keeps its answer until the next
 * fault_arm(). */
void fault_disarm(void);
bool fault_fired(void);
/* Called before each sqlite3_step(): FAULT_NONE to step, else the failure to
 * return instead (the armed store fault's Nth call). */
fault_store_kind fault_store_call(void);
/* Called before each WAL sync: true for the one ENTITLED_FAULT_SYNC names. */
bool fault_sync_fails(void);

#endif /* ENTITLED_FAULTS */
#endif
