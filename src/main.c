/* entitled: the command line. One table of settings drives flags,
 * environment variables and --help; each command is a small function over
 * the store or the HTTP edge. */
#include "api/api.h"
#include "domain/dt.h"
#include "domain/uid.h"
#include "http/http.h"
#include "store/store.h"
#include "store/verify.h"
#include "validate/pyjson.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

typedef struct {
    const char *flag; /* "--listen" */
    const char *env;  /* "ENTITLED_LISTEN", or NULL */
    const char *dflt;
    const char *help;
    const char *value; /* set by parse_flags */
} setting;

/* A setting whose `flag` does not start with '-' is a positional argument
 * (S_KEY_ID): a command takes at most one, given as a bare word. */
enum {
    S_LISTEN,
    S_DB,
    S_POOL,
    S_THREADS,
    S_TIMEOUT,
    S_MAXCONN,
    S_MAXCONN_ADDR,
    S_REQ_TIMEOUT,
    S_MAX_BODY,
    S_MAX_HEADER,
    S_MAX_URL,
    S_MAX_QUERY,
    S_MAX_DEPTH,
    S_MAX_UNSENT,
    S_GRACE,
    S_NAME,
    S_ORG,
    S_BEFORE,
    S_KEY_ID,
    S_COUNT
};

static setting SETTINGS[S_COUNT] = {
    [S_LISTEN] = {"--listen", "ENTITLED_LISTEN", "127.0.0.1:8080", "HOST:PORT to serve on"},
    [S_DB] = {"--db", "ENTITLED_DB", "./entitled.db",
              "database: a SQLite file path, or a postgresql:// URI or key=value conninfo"},
    [S_POOL] = {"--pool", "ENTITLED_POOL", "8", "PostgreSQL connections kept by this process"},
    /* auto: 4 on SQLite, where a write waiting for its fsync parks its
     * connection, not its thread (bench, 2 cores: GET 22,060 req/s with 32
     * threads, 32,402 with 4; PATCH 6,492 and 8,398); 32 on PostgreSQL,
     * where a thread waits for each statement's round trip */
    [S_THREADS] = {"--threads", "ENTITLED_THREADS", "auto",
                   "HTTP worker threads (auto: 4 on SQLite, 32 on PostgreSQL)"},
    [S_TIMEOUT] = {"--timeout", "ENTITLED_TIMEOUT", "30",
                   "seconds an idle or stalled connection is kept"},
    [S_MAXCONN] = {"--max-connections", "ENTITLED_MAX_CONNECTIONS", "1024",
                   "connections served at once (more wait at accept); lowered to what "
                   "RLIMIT_NOFILE leaves after the database's descriptors; past 3/4 of it, idle "
                   "connections are closed after 3 s"},
    [S_MAXCONN_ADDR] = {"--max-connections-per-address", "ENTITLED_MAX_CONNECTIONS_PER_ADDRESS",
                        "256", "connections from one client address (more are closed at accept)"},
    [S_REQ_TIMEOUT] = {"--request-timeout", "ENTITLED_REQUEST_TIMEOUT", "30",
                       "seconds a connection has to deliver a whole request (headers and body), "
                       "from its opening or its previous answer; a slower one is dropped"},
    [S_MAX_BODY] = {"--max-body-bytes", "ENTITLED_MAX_BODY_BYTES", "1048576",
                    "largest request body (413 above)"},
    [S_MAX_HEADER] = {"--max-header-bytes", "ENTITLED_MAX_HEADER_BYTES", "65536",
                      "memory for a request's line and headers (431 or 414 above)"},
    [S_MAX_URL] = {"--max-url-bytes", "ENTITLED_MAX_URL_BYTES", "16384",
                   "longest path and query string, decoded (414 above)"},
    [S_MAX_QUERY] = {"--max-query-params", "ENTITLED_MAX_QUERY_PARAMS", "64",
                     "most query parameters in one request (400 above)"},
    [S_MAX_DEPTH] = {"--max-json-depth", "ENTITLED_MAX_JSON_DEPTH", "64",
                     "deepest nesting of a JSON body (400 above)"},
    [S_MAX_UNSENT] = {"--max-unsent-bytes", "ENTITLED_MAX_UNSENT_BYTES", "268435456",
                      "memory for answers built and not yet read by their clients, all "
                      "together; past it a GET is refused (503, Retry-After)"},
    [S_GRACE] = {"--shutdown-grace", "ENTITLED_SHUTDOWN_GRACE", "10",
                 "seconds SIGTERM or SIGHUP lets requests under way finish (their uploads "
                 "included); then those not yet handled are refused (503) and the answers "
                 "waiting for their fsync are sent before exit"},
    [S_NAME] = {"--name", NULL, NULL, "the organisation's name"},
    [S_ORG] = {"--org", NULL, NULL, "the organisation's UUID"},
    [S_BEFORE] = {"--before", NULL, NULL, "a date (YYYY-MM-DD, UTC) or an RFC 3339 date-time"},
    [S_KEY_ID] = {"KEY_ID", NULL, NULL,
                  "the key's id: the 16 hex digits after \"ek_\", as 'apikey list' shows it "
                  "(not the key itself); a running server answers the key 401 from its next "
                  "request on"},
};

#define MAX_FLAGS 15
#define KEY_ID_LEN 16 /* hex digits of a key's id: "ek_" KEY_ID "_" secret (api/auth.c) */

typedef struct {
    const char *name; /* "org create" */
    int (*run)(void);
    const char *summary;
    int flags[MAX_FLAGS]; /* settings it takes, -1 terminated when fewer */
    int required[2];
} command;

static int cmd_serve(void);
static int cmd_org_create(void);
static int cmd_apikey_create(void);
static int cmd_apikey_list(void);
static int cmd_apikey_revoke(void);
static int cmd_routes(void);
static int cmd_verify(void);
static int cmd_idem_prune(void);

static const command COMMANDS[] = {
    {"serve",
     cmd_serve,
     "serve the API over HTTP",
     {S_LISTEN, S_DB, S_POOL, S_THREADS, S_TIMEOUT, S_MAXCONN, S_MAXCONN_ADDR, S_REQ_TIMEOUT,
      S_MAX_BODY, S_MAX_HEADER, S_MAX_URL, S_MAX_QUERY, S_MAX_DEPTH, S_MAX_UNSENT, S_GRACE},
     {-1, -1}},
    {"org create",
     cmd_org_create,
     "create an organisation; prints its UUID",
     {S_NAME, S_DB, -1},
     {S_NAME, -1}},
    {"routes",
     cmd_routes,
     "list the routes served: METHOD PATH OPERATION_ID, one a line",
     {-1},
     {-1, -1}},
    {"apikey create",
     cmd_apikey_create,
     "create an API key; prints the key (shown only once)",
     {S_ORG, S_DB, -1},
     {S_ORG, -1}},
    {"apikey list",
     cmd_apikey_list,
     "list an organisation's keys, oldest first: KEY_ID CREATED_AT live|revoked REVOKED_AT",
     {S_ORG, S_DB, -1},
     {S_ORG, -1}},
    {"apikey revoke",
     cmd_apikey_revoke,
     "revoke a key by its id, at once; again: keeps the first revocation time, exit 0",
     {S_KEY_ID, S_DB, -1},
     {S_KEY_ID, -1}},
    {"verify",
     cmd_verify,
     "check the file (SQLite: PRAGMA integrity_check), then replay the ledger and check every "
     "row against it; exit 1 on any mismatch",
     {S_DB, -1},
     {-1, -1}},
    {"idempotency prune",
     cmd_idem_prune,
     "delete the idempotency keys stored before a date; prints how many",
     {S_BEFORE, S_DB, -1},
     {S_BEFORE, -1}},
};
#define N_COMMANDS (sizeof(COMMANDS) / sizeof(COMMANDS[0]))

static const char *get(int s) {
    return SETTINGS[s].value ? SETTINGS[s].value : SETTINGS[s].dflt;
}

static void usage(FILE *f) {
    fprintf(f, "entitled: an entitlements server (Zenskar's Entitlements API)\n\n"
               "usage: entitled COMMAND [flags]\n\ncommands:\n");
    for (size_t i = 0; i < N_COMMANDS; i++)
        fprintf(f, "  %-14s %s\n", COMMANDS[i].name, COMMANDS[i].summary);
    fprintf(f, "\n'entitled COMMAND --help' lists a command's flags.\n");
}

static bool is_positional(int s) {
    return SETTINGS[s].flag[0] != '-';
}

static void command_usage(FILE *f, const command *c) {
    fprintf(f, "usage: entitled %s", c->name);
    for (int pass = 0; pass < 2; pass++) { /* the positional argument first */
        for (int i = 0; i < MAX_FLAGS && c->flags[i] >= 0; i++) {
            if (is_positional(c->flags[i]) != (pass == 0)) continue;
            const setting *s = &SETTINGS[c->flags[i]];
            bool req = c->required[0] == c->flags[i] || c->required[1] == c->flags[i];
            if (pass == 0)
                fprintf(f, req ? " %s" : " [%s]", s->flag);
            else
                fprintf(f, req ? " %s VALUE" : " [%s VALUE]", s->flag);
        }
    }
    fprintf(f, "\n\n%s\n", c->summary);
    for (int i = 0; i < MAX_FLAGS && c->flags[i] >= 0; i++) {
        const setting *s = &SETTINGS[c->flags[i]];
        if (is_positional(c->flags[i])) fprintf(f, "\narguments:\n  %-19s %s\n", s->flag, s->help);
    }
    fprintf(f, "\nflags:\n");
    for (int i = 0; i < MAX_FLAGS && c->flags[i] >= 0; i++) {
        const setting *s = &SETTINGS[c->flags[i]];
        if (is_positional(c->flags[i])) continue;
        fprintf(f, "  %-19s %s", s->flag, s->help);
        if (s->dflt) fprintf(f, " (default %s)", s->dflt);
        if (s->env) fprintf(f, " [env %s]", s->env);
        fprintf(f, "\n");
    }
}

/* Is command c in the group named `group` ("apikey" for "apikey list")? */
static bool in_group(const command *c, const char *group) {
    const char *sp = strchr(c->name, ' ');
    size_t n = strlen(group);
    return sp && (size_t)(sp - c->name) == n && strncmp(c->name, group, n) == 0;
}

/* The commands of a group: the one's usage when it has one, else a list of
 * them. False when no command is in the group. */
static bool group_usage(FILE *f, const char *group) {
    const command *only = NULL;
    size_t n = 0;
    for (size_t i = 0; i < N_COMMANDS; i++)
        if (in_group(&COMMANDS[i], group)) only = &COMMANDS[i], n++;
    if (n == 0) return false;
    if (n == 1) {
        command_usage(f, only);
        return true;
    }
    fprintf(f, "usage: entitled %s COMMAND [flags]\n\ncommands:\n", group);
    for (size_t i = 0; i < N_COMMANDS; i++)
        if (in_group(&COMMANDS[i], group))
            fprintf(f, "  %-14s %s\n", COMMANDS[i].name, COMMANDS[i].summary);
    fprintf(f, "\n'entitled %s COMMAND --help' lists a command's flags.\n", group);
    return true;
}

static bool takes(const command *c, int s) {
    for (int i = 0; i < MAX_FLAGS && c->flags[i] >= 0; i++) {
        if (c->flags[i] == s) return true;
    }
    return false;
}

/* Flags of `c` from argv; environment first, so a flag wins over it. */
static int parse_flags(const command *c, int argc, char **argv) {
    for (int s = 0; s < S_COUNT; s++)
        if (takes(c, s) && SETTINGS[s].env && getenv(SETTINGS[s].env) && *getenv(SETTINGS[s].env))
            SETTINGS[s].value = getenv(SETTINGS[s].env);
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            command_usage(stdout, c);
            return 1;
        }
        const char *arg = argv[i], *eq = strchr(arg, '=');
        if (arg[0] != '-') { /* a bare word: the command's positional argument */
            int pos = -1;
            for (int s = 0; s < S_COUNT; s++)
                if (takes(c, s) && is_positional(s)) pos = s;
            /* not echoed: a bare word may be a key pasted by mistake */
            if (pos < 0) {
                fprintf(stderr, "entitled %s: takes no positional argument (see --help)\n",
                        c->name);
                return -1;
            }
            if (SETTINGS[pos].value) {
                fprintf(stderr, "entitled %s: takes one %s, more were given (see --help)\n",
                        c->name, SETTINGS[pos].flag);
                return -1;
            }
            SETTINGS[pos].value = arg;
            continue;
        }
        size_t flen = eq ? (size_t)(eq - arg) : strlen(arg);
        int found = -1;
        for (int s = 0; s < S_COUNT; s++)
            if (takes(c, s) && !is_positional(s) && strlen(SETTINGS[s].flag) == flen &&
                strncmp(SETTINGS[s].flag, arg, flen) == 0)
                found = s;
        if (found < 0) {
            /* echoed only when it reads as a flag name: "-" + a pasted key's
             * secret part (base64url) must not reach the terminal's log */
            bool plain = flen <= 32;
            for (size_t k = 0; plain && k < flen; k++)
                plain = arg[k] == '-' || (arg[k] >= 'a' && arg[k] <= 'z');
            if (plain)
                fprintf(stderr, "entitled %s: unknown argument '%.*s' (see --help)\n", c->name,
                        (int)flen, arg);
            else
                fprintf(stderr, "entitled %s: unknown argument (see --help)\n", c->name);
            return -1;
        }
        if (eq) {
            SETTINGS[found].value = eq + 1;
        } else if (i + 1 < argc) {
            SETTINGS[found].value = argv[++i];
        } else {
            fprintf(stderr, "entitled %s: %s needs a value\n", c->name, arg);
            return -1;
        }
    }
    for (int i = 0; i < 2; i++) {
        int s = c->required[i];
        if (s >= 0 && (!get(s) || !*get(s))) {
            fprintf(stderr, "entitled %s: %s is required (see --help)\n", c->name,
                    SETTINGS[s].flag);
            return -1;
        }
    }
    return 0;
}

static bool parse_uint(const char *s, unsigned long min, unsigned long max, unsigned long *out) {
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || end == s || *end || v < min || v > max || s[0] == '-') return false;
    *out = v;
    return true;
}

/* `pool`: PostgreSQL connections to keep (a CLI command needs one) */
static store *open_store(const char *who, unsigned pool) {
    char err[512];
    store *st = store_open_config(get(S_DB), &(store_config){.pool = pool}, err, sizeof err);
    if (!st) fprintf(stderr, "entitled %s: %s\n", who, err);
    return st;
}

static int cmd_org_create(void) {
    store *st = open_store("org create", 1);
    if (!st) return 1;
    uid_t16 u;
    char id[ID_BUF];
    if (uid_new_v7(&u) != 0) {
        fprintf(stderr, "entitled org create: no randomness available\n");
        store_close(st);
        return 1;
    }
    uid_format(&u, id);
    store_rc rc = store_org_create(st, id, get(S_NAME), dt_now());
    store_close(st);
    if (rc != STORE_OK) {
        fprintf(stderr, "entitled org create: cannot store the organisation (%s)\n",
                store_rc_name(rc));
        return 1;
    }
    printf("%s\n", id);
    return 0;
}

static int cmd_apikey_create(void) {
    char org[ID_BUF];
    const char *o = get(S_ORG);
    if (uid_canon(o, strlen(o), org) != 0) {
        fprintf(stderr, "entitled apikey create: --org must be an organisation UUID: %s\n", o);
        return 1;
    }
    store *st = open_store("apikey create", 1);
    if (!st) return 1;
    store_rc rc = store_org_exists(st, org);
    if (rc != STORE_OK) {
        fprintf(stderr, "entitled apikey create: %s\n",
                rc == STORE_NOT_FOUND ? "no such organisation" : store_rc_name(rc));
        store_close(st);
        return 1;
    }
    char key[API_KEY_MAX + 1];
    store_apikey k = {0};
    if (api_key_new(key, sizeof key, k.key_id, k.hash) != 0) {
        fprintf(stderr, "entitled apikey create: no randomness available\n");
        store_close(st);
        return 1;
    }
    memcpy(k.org, org, ID_BUF);
    k.created_at = dt_now();
    rc = store_apikey_create(st, &k);
    store_close(st);
    if (rc != STORE_OK) {
        fprintf(stderr, "entitled apikey create: cannot store the key (%s)\n", store_rc_name(rc));
        return 1;
    }
    printf("%s\n", key);
    return 0;
}

/* One line per key: KEY_ID  CREATED_AT  live | revoked REVOKED_AT. Only the
 * id, which is not secret: the key itself is never stored. */
static bool print_key(void *cls, const store_apikey *k) {
    (void)cls;
    char created[DT_FORMAT_MAX], revoked[DT_FORMAT_MAX];
    dt_format(k->created_at, created);
    if (k->revoked_at) {
        dt_format(k->revoked_at, revoked);
        printf("%s  %s  revoked %s\n", k->key_id, created, revoked);
    } else {
        printf("%s  %s  live\n", k->key_id, created);
    }
    return true;
}

static int cmd_apikey_list(void) {
    char org[ID_BUF];
    const char *o = get(S_ORG);
    if (uid_canon(o, strlen(o), org) != 0) {
        fprintf(stderr, "entitled apikey list: --org must be an organisation UUID: %s\n", o);
        return 2;
    }
    store *st = open_store("apikey list", 1);
    if (!st) return 1;
    store_rc rc = store_org_exists(st, org);
    if (rc == STORE_OK) rc = store_apikey_list(st, org, print_key, NULL);
    store_close(st);
    if (rc != STORE_OK) {
        fprintf(stderr, "entitled apikey list: %s\n",
                rc == STORE_NOT_FOUND ? "no such organisation" : store_rc_name(rc));
        return 1;
    }
    return 0;
}

/* Exit 0 once the key is revoked (now, or before: then its first revocation
 * time stays), 1 for an unknown key or a database error, 2 for a KEY_ID that
 * is not one. The argument is never echoed: it may be a key pasted by
 * mistake. */
static int cmd_apikey_revoke(void) {
    const char *a = get(S_KEY_ID);
    char id[KEY_ID_LEN + 1];
    size_t n = strlen(a);
    if (strncmp(a, "ek_", 3) == 0) {
        fprintf(stderr,
                "entitled apikey revoke: give the key's id (the %d hex digits after "
                "\"ek_\", as 'apikey list' shows it), not the key\n",
                KEY_ID_LEN);
        return 2;
    }
    bool ok = n == KEY_ID_LEN;
    for (size_t i = 0; ok && i < n; i++) {
        char ch = a[i];
        if (ch >= 'A' && ch <= 'F') ch = (char)(ch - 'A' + 'a');
        ok = (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f');
        id[i] = ch;
    }
    if (!ok) {
        fprintf(stderr,
                "entitled apikey revoke: KEY_ID must be %d hex digits, as 'apikey list' "
                "shows it\n",
                KEY_ID_LEN);
        return 2;
    }
    id[KEY_ID_LEN] = '\0';
    store *st = open_store("apikey revoke", 1);
    if (!st) return 1;
    int64_t now = dt_now();
    store_apikey k = {0};
    store_rc rc = store_apikey_revoke(st, id, now, &k);
    store_close(st);
    if (rc != STORE_OK) {
        fprintf(stderr, "entitled apikey revoke: %s\n",
                rc == STORE_NOT_FOUND ? "no such key" : store_rc_name(rc));
        return 1;
    }
    char at[DT_FORMAT_MAX];
    dt_format(k.revoked_at, at);
    if (k.revoked_at == now)
        printf("revoked %s (organisation %s) at %s\n", id, k.org, at);
    else
        printf("%s (organisation %s) was revoked already at %s; unchanged\n", id, k.org, at);
    return 0;
}

/* Exit 0 when the ledger and the rows agree, 1 on a mismatch, 2 when the
 * database cannot be read. */
static int cmd_verify(void) {
    store *st = open_store("verify", 1);
    if (!st) return 2;
    char why[512];
    if (store_integrity(st, why, sizeof why) != STORE_OK) {
        store_close(st);
        printf("verify: FAILED, the database file is corrupt (PRAGMA integrity_check: %s)\n", why);
        return 1;
    }
    verify_report rep;
    store_rc rc = verify_run(st, stdout, &rep);
    store_close(st);
    if (rc != STORE_OK) {
        fprintf(stderr, "entitled verify: cannot read the database (%s)\n", store_rc_name(rc));
        return 2;
    }
    printf("verify: %zu ledger entries of %zu rows (%zu deleted), %zu consume entries; "
           "%zu rows checked\n",
           rep.entries, rep.chains, rep.deleted, rep.consumes, rep.rows);
    if (rep.problems) {
        printf("verify: FAILED, %zu mismatches\n", rep.problems);
        return 1;
    }
    printf("verify: ok\n");
    return 0;
}

static int cmd_idem_prune(void) {
    const char *b = get(S_BEFORE);
    int64_t before;
    dt_error derr;
    if (dt_parse_str(b, strlen(b), &before, &derr) != 0) {
        fprintf(stderr, "entitled idempotency prune: --before must be a date or date-time: %s\n",
                b);
        return 2;
    }
    store *st = open_store("idempotency prune", 1);
    if (!st) return 1;
    int64_t n = 0;
    store_rc rc = store_idem_prune(st, before, &n);
    store_close(st);
    if (rc != STORE_OK) {
        fprintf(stderr, "entitled idempotency prune: %s\n", store_rc_name(rc));
        return 1;
    }
    printf("%lld\n", (long long)n);
    return 0;
}

/* The route table as text, so tests can hold /openapi.json against it. */
static int cmd_routes(void) {
    for (size_t i = 0; i < api_nroutes; i++)
        printf("%s %s %s\n", api_routes[i].method, api_routes[i].pattern,
               api_routes[i].operation_id);
    return 0;
}

/* The database as the log shows it: a URI's password (between "user:" and
 * "@") and a password= keyword's value become "***". */
static void redact_dsn(const char *dsn, char *out, size_t cap) {
    const char *scheme = strstr(dsn, "://");
    const char *at = scheme ? strchr(scheme + 3, '@') : NULL;
    const char *colon = at ? memchr(scheme + 3, ':', (size_t)(at - scheme - 3)) : NULL;
    size_t n = 0;
    for (const char *p = dsn; *p && n + 13 < cap;) {
        if (colon && p == colon + 1) {
            memcpy(out + n, "***", 3), n += 3;
            p = at;
        } else if (strncmp(p, "password=", 9) == 0) {
            memcpy(out + n, "password=***", 12), n += 12;
            for (p += 9; *p && *p != ' ' && *p != '&';)
                p++;
        } else {
            out[n++] = *p++;
        }
    }
    out[n] = '\0';
}

/* Descriptors: a connection takes one, and so does each file the store
 * opens, some of them only on first use (SQLite: the database, its WAL and
 * its shared memory for each pool thread's connection). Out of them, the
 * store fails and a client with an open connection gets a 500; so the soft
 * RLIMIT_NOFILE is raised to the hard one, and the connection limit lowered
 * to what is left after the descriptors open now and a reserve for what
 * the store and libmicrohttpd open later. 0 (said) when nothing is left. */
static unsigned fd_budget(unsigned want, unsigned threads, unsigned pool) {
    struct rlimit lim;
    if (getrlimit(RLIMIT_NOFILE, &lim) != 0) return want;
    if (lim.rlim_cur < lim.rlim_max) {
        struct rlimit raised = {lim.rlim_max, lim.rlim_max};
        if (setrlimit(RLIMIT_NOFILE, &raised) == 0) lim = raised;
    }
    unsigned long open_now = 0;
    DIR *d = opendir("/proc/self/fd");
    if (d) {
        for (struct dirent *e; (e = readdir(d));)
            open_now += e->d_name[0] != '.';
        closedir(d);
    } else {
        open_now = 64;
    }
    /* 3 per SQLite connection (a reader per thread and the writer), the
     * PostgreSQL pool (opened up front, or again after a restart), an
     * inter-thread channel per pool thread and the listening socket, and
     * some more (the syncer, random numbers, a reconnection's lookup) */
    unsigned long reserve = open_now + 3ul * (threads + 1) + pool + 2ul * threads + 1 + 32;
    unsigned long total = lim.rlim_cur == RLIM_INFINITY ? ULONG_MAX : (unsigned long)lim.rlim_cur;
    if (total <= reserve) {
        fprintf(stderr,
                "entitled serve: only %lu file descriptors (RLIMIT_NOFILE), and the database "
                "and the server keep %lu: raise the limit (ulimit -n)\n",
                total, reserve);
        return 0;
    }
    if (total - reserve >= want) return want;
    unsigned conns = (unsigned)(total - reserve);
    fprintf(stderr,
            "entitled: --max-connections lowered from %u to %u: RLIMIT_NOFILE allows %lu file "
            "descriptors, of which %lu are kept for the database and the server\n",
            want, conns, total, reserve);
    return conns;
}

static int cmd_serve(void) {
    const char *listen = get(S_LISTEN);
    const char *colon = strrchr(listen, ':');
    unsigned long port, threads, timeout, maxconn, maxconn_addr, pool, req_timeout, max_body,
        max_header, max_url, max_query, max_depth, max_unsent, grace;
    char host[64];
    if (!colon || (size_t)(colon - listen) >= sizeof host ||
        !parse_uint(colon + 1, 1, 65535, &port)) {
        fprintf(stderr, "entitled serve: --listen must be HOST:PORT, got '%s'\n", listen);
        return 2;
    }
    memcpy(host, listen, (size_t)(colon - listen));
    host[colon - listen] = '\0';
    /* every numeric setting with its bounds */
    const struct {
        int s;
        unsigned long min, max;
        unsigned long *out;
    } nums[] = {
        {S_THREADS, 1, 256, &threads},
        {S_TIMEOUT, 1, 3600, &timeout},
        {S_MAXCONN, 1, 100000, &maxconn},
        {S_MAXCONN_ADDR, 1, 100000, &maxconn_addr},
        {S_MAX_UNSENT, 1ul << 20, 1ul << 40, &max_unsent},
        {S_POOL, 1, 1024, &pool},
        {S_REQ_TIMEOUT, 1, 3600, &req_timeout},
        {S_MAX_BODY, 1024, 1ul << 30, &max_body},
        {S_MAX_HEADER, 4096, 16ul << 20, &max_header},
        {S_MAX_URL, 256, 16ul << 20, &max_url},
        {S_MAX_QUERY, 1, 10000, &max_query},
        {S_MAX_DEPTH, 1, 10000, &max_depth},
        {S_GRACE, 0, 3600, &grace},
    };
    for (size_t i = 0; i < sizeof nums / sizeof nums[0]; i++) {
        if (nums[i].s == S_THREADS && strcmp(get(S_THREADS), "auto") == 0) {
            threads = 0; /* once the backend is known */
            continue;
        }
        if (!parse_uint(get(nums[i].s), nums[i].min, nums[i].max, nums[i].out)) {
            fprintf(stderr, "entitled serve: %s must be a whole number from %lu to %lu, got '%s'\n",
                    SETTINGS[nums[i].s].flag, nums[i].min, nums[i].max, get(nums[i].s));
            return 2;
        }
    }
    pyjson_max_depth = (unsigned)max_depth; /* set once, before any thread parses */
    /* SIGTERM, SIGINT and SIGHUP are taken by sigwait() below, in this
     * thread only: block them before any thread starts (the store's syncer,
     * the HTTP workers) so they inherit the mask. SIGHUP drains and exits
     * like SIGTERM (there is no log file to reopen: the log is stderr). */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    /* a write past RLIMIT_FSIZE fails with EFBIG (SQLite: SQLITE_FULL, a 507)
     * instead of killing the process */
    signal(SIGXFSZ, SIG_IGN);
    store *st = open_store("serve", (unsigned)pool);
    if (!st) return 1;
    if (threads == 0) threads = store_can_defer(st) ? 4 : 32;
    unsigned conns = fd_budget((unsigned)maxconn, (unsigned)threads, (unsigned)pool);
    if (!conns) {
        store_close(st);
        return 1;
    }

    api_app app = {.st = st};
    http_config cfg = {
        .host = host,
        .port = (uint16_t)port,
        .threads = (unsigned)threads,
        .max_body = (size_t)max_body,
        .conn_timeout_s = (unsigned)timeout,
        .max_connections = conns,
        .max_connections_per_address = (unsigned)maxconn_addr,
        .max_unsent_bytes = (size_t)max_unsent,
        .request_timeout_s = (unsigned)req_timeout,
        .max_header_bytes = (size_t)max_header,
        .max_url_bytes = (size_t)max_url,
        .max_query_params = (unsigned)max_query,
        .routes = api_routes,
        .nroutes = api_nroutes,
        .authorize = api_authorize,
        .invoke = api_invoke,
        .lost = api_lost,
        .app = &app,
    };
    char err[256];
    http_server *srv = http_start(&cfg, err, sizeof err);
    if (!srv) {
        fprintf(stderr, "entitled serve: %s\n", err);
        store_close(st);
        return 1;
    }
    char shown[512];
    redact_dsn(get(S_DB), shown, sizeof shown);
    fprintf(stderr,
            "entitled: serving on http://%s:%lu (database %s, %lu threads, at most %u "
            "connections)\n",
            host, port, shown, threads, conns);
    int sig = 0;
    sigwait(&set, &sig);
    fprintf(stderr, "entitled: %s received, finishing in-flight requests\n",
            sig == SIGTERM  ? "SIGTERM"
            : sig == SIGHUP ? "SIGHUP"
                            : "SIGINT");
    if (!http_stop(srv, (unsigned)grace * 1000)) {
        /* answers still wait for a disk that does not answer: none of them
         * was acknowledged, and stopping libmicrohttpd now would abort */
        fprintf(stderr, "entitled: stopped without finishing\n");
        _exit(1);
    }
    store_close(st);
    fprintf(stderr, "entitled: stopped\n");
    return 0;
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    for (size_t i = 0; i < N_COMMANDS; i++) {
        const command *c = &COMMANDS[i];
        const char *sp = strchr(c->name, ' ');
        int words = sp ? 2 : 1;
        if (words == 1 && strcmp(argv[1], c->name) != 0) continue;
        if (words == 2 &&
            (strncmp(argv[1], c->name, (size_t)(sp - c->name)) != 0 ||
             strlen(argv[1]) != (size_t)(sp - c->name) || argc < 3 || strcmp(argv[2], sp + 1) != 0))
            continue;
        int rc = parse_flags(c, argc - 1 - words, argv + 1 + words);
        if (rc != 0) return rc > 0 ? 0 : 2;
        return c->run();
    }
    /* "entitled apikey --help" and the like: the group's commands */
    if (argc >= 3 && (strcmp(argv[2], "--help") == 0 || strcmp(argv[2], "-h") == 0) &&
        group_usage(stdout, argv[1]))
        return 0;
    fprintf(stderr, "entitled: unknown command '%s%s%s' (see entitled --help)\n", argv[1],
            argc > 2 ? " " : "", argc > 2 ? argv[2] : "");
    return 2;
}
