/* pipeline: the stages an authorised request passes through between the
 * edge and its handler, in the order they run. The edge calls api_invoke()
 * (http_config.invoke); each stage does its part and calls the next:
 *
 *   1. stage_faults  (test builds) X-Fault arms a fault on this thread for
 *                    everything below, idempotency store calls included.
 *   2. stage_read    a GET the edge left unauthorised: the key and the
 *                    answer are read in one read snapshot.
 *   3. stage_defer   any request but a GET, on a store that can defer: a
 *                    write's answer is held, the connection suspended,
 *                    until its change is durable.
 *   4. api_idem_run  (idempotency.c) the Idempotency-Key: the stored answer
 *                    again, or the handler inside the key's held write.
 *   5. the handler; an update, delete or consume opens the request's held
 *                    write itself, after its checks (api_write_begin ...
 *                    api_write_end, below).
 *
 * Lock scope, per stage (docs/internals/store-transactions.md has the rules):
 *   - read snapshot: SQLite holds one WAL read lock on this thread's reader
 *     connection from store_read_begin() to store_read_end(), around the
 *     authoriser and the handler; no write lock. PostgreSQL opens none.
 *   - deferral: no lock, a thread-local arming from store_defer_begin() to
 *     store_defer_end(); durable() runs on whichever thread learns the
 *     outcome: the syncer's, a writer's whose batch failed to commit, or
 *     this one before store_defer_end() returns.
 *   - held write (stage 4 with a key, stage 5 without): from
 *     store_idem_begin() to store_idem_finish() the thread holds SQLite's
 *     process write lock and writer connection (PostgreSQL: one pooled
 *     connection in a transaction, plus the key's advisory lock), through
 *     the handler's store calls and the building of its answer (with a
 *     key, through its checks too): on SQLite every other write of the
 *     process waits meanwhile.
 * Everything here runs on the pool thread that called api_invoke(); the
 * thread-locals of fault.c and of the store are bound to it until the
 * stage that set them returns. */
#include "api/api.h"

#include "domain/dt.h"

#include <string.h>

#ifdef ENTITLED_FAULTS
#include "util/fault.h"
#endif

store_meta api_meta(const http_req *r) {
    store_meta m = {r->request_id, r->idem_key};
    return m;
}

/* ---- 5. the held write (issue 7: the answer before the commit) ----------------
 * Without it, an update's store call committed and only then was its answer
 * built: memory running out there answered 500 for a change that was made.
 * Now the store call runs inside a transaction held for the request
 * (store_idem_begin with no key), the answer is built, and only a 200 is
 * committed. A request with an Idempotency-Key is held already (stage 4). */
bool api_write_begin(api_app *app, http_req *r, bool *held) {
    *held = false;
    if (r->idem_key) return true;
    bool found;
    store_idem none;
    store_rc rc = store_idem_begin(app->st, r->org, NULL, &found, &none);
    if (rc != STORE_OK) {
        api_reply_store(r, rc, "Change");
        return false;
    }
    *held = true;
    return true;
}

void api_write_end(api_app *app, http_req *r, bool held) {
    if (!held) return;
    /* a refusal (4xx) changed nothing: no commit, so no wait for a sync */
    bool ok = r->status == 200 && r->out;
    store_idem answer = {.status = r->status};
    store_rc rc =
        store_idem_finish(app->st, r->org, NULL, ok ? &answer : NULL, r->request_id, dt_now());
    if (ok && rc != STORE_OK) api_reply_store(r, rc, "Change"); /* rolled back: not done */
}

/* ---- 3. deferred durability ---------------------------------------------------
 * A write's store call returns once its change is kept (its batch committed
 * or about to be), and the store calls durable() once the change is on disk
 * or lost. The edge holds the answer until then, with the connection
 * suspended: a thread is not parked per write, so a few threads serve any
 * number of writes in flight. Deferral wraps the held write (stages 4 and
 * 5): their commit, in store_idem_finish(), is the write that defers. */
static void durable(void *cls, store_rc rc) {
    http_release(cls, rc == STORE_OK ? 0 : (int)rc);
}

void api_lost(void *appv, http_req *r, int rc) {
    (void)appv;
    /* a replay's header no longer applies: this answer is not the stored one */
    for (int i = 0; i < HTTP_EXTRA_HEADERS; i++)
        if (strcmp(r->extra_header[i], "Idempotent-Replayed") == 0) r->extra_header[i][0] = '\0';
    api_reply_store(r, (store_rc)rc, "Change");
}

static void stage_defer(api_app *app, http_req *r) {
    if (!store_can_defer(app->st) || strcmp(r->method, "GET") == 0) {
        api_idem_run(app, r);
        return;
    }
    if (!store_defer_begin(app->st, durable, r)) {
        http_reply_detail(r, 500, "Internal Server Error: out of memory");
        return;
    }
    api_idem_run(app, r);
    if (store_defer_end(app->st)) http_hold(r);
}

/* ---- 2. the read snapshot, and the authoriser of a GET -------------------------
 * A GET the edge left unauthorised (http_req.authorize_in_invoke): the key
 * and the answer are read in one read transaction, which saves SQLite's
 * per-transaction locking (two fcntl and an fstat) of a second read. */
static void stage_read(api_app *app, http_req *r) {
    if (!r->authorize_in_invoke) {
        stage_defer(app, r);
        return;
    }
    bool tx = store_read_begin(app->st);
    if (api_authorize(app, r)) stage_defer(app, r);
    if (tx) store_read_end(app->st);
}

/* ---- 1. fault injection (issue 7; test builds only) ----------------------------
 * In a build with ENTITLED_FAULTS, a request's X-Fault header (util/fault.h:
 * "store:N[:ioerr|full|busy]" or "alloc:N") arms a fault on this thread for
 * the stages below, and the answer says in X-Fault-Fired whether it fired. A
 * malformed X-Fault is a 400. Without ENTITLED_FAULTS the header is not even
 * read. */
static void stage_faults(api_app *app, http_req *r) {
#ifdef ENTITLED_FAULTS
    const char *spec = http_header(r, "X-Fault");
    if (spec) {
        if (fault_arm(spec) != 0) {
            http_reply_detail(r, 400, "X-Fault must be store:N[:ioerr|full|busy] or alloc:N");
            return;
        }
        stage_read(app, r);
        fault_disarm();
        http_reply_header(r, "X-Fault-Fired", fault_fired() ? "true" : "false");
        return;
    }
#endif
    stage_read(app, r);
}

void api_invoke(void *app, http_req *r) {
    stage_faults(app, r);
}
