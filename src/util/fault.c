/* fault: test-only fault injection (fault.h). Everything here is compiled
 * only with ENTITLED_FAULTS; a production build gets an empty object. */
#include "util/fault.h"

#ifdef ENTITLED_FAULTS

#include <jansson.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#ifdef __SANITIZE_ADDRESS__
#include <sanitizer/common_interface_defs.h>
#endif

typedef enum { ARM_NONE, ARM_STORE, ARM_ALLOC } arm_kind;

/* Per thread: a pool thread serves one request at a time, and only the
 * request that asked for a fault may see it. */
static __thread arm_kind t_arm;
static __thread fault_store_kind t_store_kind;
static __thread unsigned long t_left; /* calls until the one that fails (1: the next) */
static __thread bool t_fired;

int fault_arm(const char *spec) {
    arm_kind arm;
    const char *p;
    if (strncmp(spec, "store:", 6) == 0)
        arm = ARM_STORE, p = spec + 6;
    else if (strncmp(spec, "alloc:", 6) == 0)
        arm = ARM_ALLOC, p = spec + 6;
    else
        return -1;
    /* N: 1 to 10^9, decimal digits only (strtoul would take a sign or blanks) */
    unsigned long n = 0;
    const char *d = p;
    while (*p >= '0' && *p <= '9' && p - d < 10)
        n = n * 10 + (unsigned long)(*p++ - '0');
    if (p == d || n == 0 || n > 1000000000ul) return -1;
    fault_store_kind kind = FAULT_IOERR;
    if (arm == ARM_STORE && *p == ':') {
        p++;
        if (strcmp(p, "ioerr") == 0)
            kind = FAULT_IOERR;
        else if (strcmp(p, "full") == 0)
            kind = FAULT_FULL;
        else if (strcmp(p, "busy") == 0)
            kind = FAULT_BUSY;
        else
            return -1;
    } else if (*p != '\0') {
        return -1;
    }
    t_store_kind = kind;
    t_left = n;
    t_fired = false;
    t_arm = arm; /* last: the allocation counter starts now */
    return 0;
}

void fault_disarm(void) {
    t_arm = ARM_NONE;
}

bool fault_fired(void) {
    return t_fired;
}

/* The armed fault of kind `k` counts one call; true when this is the one to
 * fail (then the fault is spent). */
static bool hit(arm_kind k) {
    if (t_arm != k) return false;
    if (--t_left > 0) return false;
    t_arm = ARM_NONE;
    t_fired = true;
#ifdef __SANITIZE_ADDRESS__
    /* ENTITLED_FAULT_TRACE=1: where each fault fires, on stderr */
    const char *trace = getenv("ENTITLED_FAULT_TRACE");
    if (trace && *trace == '1') __sanitizer_print_stack_trace();
#endif
    return true;
}

fault_store_kind fault_store_call(void) {
    return hit(ARM_STORE) ? t_store_kind : FAULT_NONE;
}

/* The syncer's fdatasync runs on its own thread, for many requests: its
 * fault is the process's, set once by the environment. */
bool fault_sync_fails(void) {
    static atomic_long left = -1; /* -1: not read yet; 0: spent or never */
    long n = atomic_load(&left);
    if (n < 0) {
        const char *v = getenv("ENTITLED_FAULT_SYNC");
        long want = v ? strtol(v, NULL, 10) : 0;
        long expect = -1;
        atomic_compare_exchange_strong(&left, &expect, want > 0 ? want : 0);
    }
    for (n = atomic_load(&left); n > 0;)
        if (atomic_compare_exchange_weak(&left, &n, n - 1)) return n == 1;
    return false;
}

/* ---- the allocator ----------------------------------------------------------
 * The fault build links its executables with -Wl,--wrap=malloc (and calloc,
 * realloc): every reference to malloc in the linked objects -- main.c, the
 * core library, the tests -- calls __wrap_malloc, and __real_malloc is the
 * real one (under ASan: ASan's, which the executable still resolves
 * dynamically, so its checks and leak report are unchanged). Shared
 * libraries are not relinked and keep calling malloc directly. */
void *__real_malloc(size_t n);
void *__real_calloc(size_t k, size_t n);
void *__real_realloc(void *p, size_t n);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t k, size_t n);
void *__wrap_realloc(void *p, size_t n);

void *__wrap_malloc(size_t n) {
    return hit(ARM_ALLOC) ? NULL : __real_malloc(n);
}

void *__wrap_calloc(size_t k, size_t n) {
    return hit(ARM_ALLOC) ? NULL : __real_calloc(k, n);
}

/* a failed realloc leaves the block as it was, as the real one does */
void *__wrap_realloc(void *p, size_t n) {
    return hit(ARM_ALLOC) ? NULL : __real_realloc(p, n);
}

/* Opt-in, for exploring (not the tests): with ENTITLED_FAULT_JANSSON=1 in the
 * environment, jansson's allocations (request bodies, validation errors)
 * count too: jansson is a shared library, but it lets its allocator be
 * replaced. Set before main(), so before any value exists; its free is the
 * real free either way. Not on by default: validation then drops the
 * errors it cannot allocate (ARCHITECTURE.md, "Fault injection"), so some
 * fired faults end in a correct 200 rather than a 500. */
static void json_free_(void *p) {
    free(p);
}
__attribute__((constructor)) static void fault_json_init(void) {
    const char *v = getenv("ENTITLED_FAULT_JANSSON");
    if (v && *v == '1') json_set_alloc_funcs(__wrap_malloc, json_free_);
}

#else
typedef int fault_not_built; /* ISO C wants a declaration in every file */
#endif
