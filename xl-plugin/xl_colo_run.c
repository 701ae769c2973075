/*
 * xl_colo_run.c - what start and receive share: the event printer, the
 * JSON line helpers, and the stop watch (SIGINT/SIGTERM -> a clean stop).
 */
#include "config.h"

#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <yajl/yajl_gen.h>

#include "xl_colo.h"

/* --- JSON lines ------------------------------------------------------ */

struct json_line {
    yajl_gen g;
};

struct json_line *json_begin(void)
{
    struct json_line *j = calloc(1, sizeof(*j));
    if (!j)
        return NULL;
    j->g = yajl_gen_alloc(NULL);
    if (!j->g) {
        free(j);
        return NULL;
    }
    yajl_gen_map_open(j->g);
    return j;
}

static void json_key(struct json_line *j, const char *key)
{
    yajl_gen_string(j->g, (const unsigned char *)key, strlen(key));
}

void json_str(struct json_line *j, const char *key, const char *val)
{
    if (!j)
        return;
    json_key(j, key);
    yajl_gen_string(j->g, (const unsigned char *)val, strlen(val));
}

void json_u64(struct json_line *j, const char *key, uint64_t val)
{
    char num[24];
    if (!j)
        return;
    int n = snprintf(num, sizeof(num), "%" PRIu64, val);
    json_key(j, key);
    yajl_gen_number(j->g, num, (size_t)n);
}

void json_bool(struct json_line *j, const char *key, bool val)
{
    if (!j)
        return;
    json_key(j, key);
    yajl_gen_bool(j->g, val);
}

void json_end(struct json_line *j)
{
    const unsigned char *buf;
    size_t len;
    if (!j)
        return;
    yajl_gen_map_close(j->g);
    if (yajl_gen_get_buf(j->g, &buf, &len) == yajl_gen_status_ok) {
        fwrite(buf, 1, len, stdout);
        fputc('\n', stdout);
        fflush(stdout);
    }
    yajl_gen_free(j->g);
    free(j);
}

/* --- events ---------------------------------------------------------- */

static void hex(char *out, const uint8_t *d, size_t n)
{
    for (size_t i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", d[i]);
}

/* ns as milliseconds with three decimals, without floating point. */
static void ms3(char *out, size_t size, uint64_t ns)
{
    snprintf(out, size, "%" PRIu64 ".%03" PRIu64, ns / 1000000u,
             (ns / 1000u) % 1000u);
}

/* "digest" (this side's) and "peer_digest" (the primary's, on a
 * secondary), each only when the event has it. */
static void json_digests(struct json_line *j, const libxlcolo_event *ev)
{
    char digest[2 * LIBXLCOLO_DIGEST_LEN + 1];
    if (ev->has_digest) {
        hex(digest, ev->digest, LIBXLCOLO_DIGEST_LEN);
        json_str(j, "digest", digest);
    }
    if (ev->has_peer_digest) {
        hex(digest, ev->peer_digest, LIBXLCOLO_DIGEST_LEN);
        json_str(j, "peer_digest", digest);
    }
}

static void print_event_json(const libxlcolo_event *ev)
{
    struct json_line *j = json_begin();

    switch (ev->type) {
    case LIBXLCOLO_EVENT_PRECOPY_ROUND:
        json_str(j, "event", "precopy");
        json_u64(j, "round", ev->round);
        json_u64(j, "pages", ev->pages);
        json_u64(j, "estimate", ev->estimate);
        break;
    case LIBXLCOLO_EVENT_CHECKPOINT:
        json_str(j, "event", "checkpoint");
        json_str(j, "role", libxlcolo_role_name(ev->role));
        json_u64(j, "epoch", ev->epoch);
        json_u64(j, "pages", ev->pages);
        json_u64(j, "bytes", ev->bytes);
        json_u64(j, "pause_ns", ev->pause_ns);
        if (ev->verify_ns)
            json_u64(j, "verify_ns", ev->verify_ns);
        if (ev->role == LIBXLCOLO_ROLE_PRIMARY) {
            json_u64(j, "stop_ns", ev->stop_ns);
            json_u64(j, "copy_ns", ev->copy_ns);
            json_u64(j, "state_ns", ev->state_ns);
        }
        json_u64(j, "total_ns", ev->total_ns);
        json_digests(j, ev);
        break;
    case LIBXLCOLO_EVENT_STATE:
        json_str(j, "event", "state");
        json_str(j, "role", libxlcolo_role_name(ev->role));
        json_str(j, "state", libxlcolo_state_name(ev->state));
        json_u64(j, "epoch", ev->epoch);
        json_digests(j, ev);
        break;
    case LIBXLCOLO_EVENT_FAILOVER:
        json_str(j, "event", "failover");
        json_str(j, "from", libxlcolo_failover_name(ev->failover_from));
        json_str(j, "to", libxlcolo_failover_name(ev->failover_to));
        break;
    case LIBXLCOLO_EVENT_PEER_LOST:
        json_str(j, "event", "peer_lost");
        json_str(j, "message", ev->message ? ev->message : "");
        break;
    default:
        json_str(j, "event", "unknown");
        json_u64(j, "type", (uint64_t)ev->type);
        break;
    }
    json_end(j);
}

void print_event(void *opaque, const libxlcolo_event *ev)
{
    const struct xlcolo *xc = opaque;
    char digest[2 * LIBXLCOLO_DIGEST_LEN + 1] = "";
    char pause[32], total[32];

    if (xc->json) {
        print_event_json(ev);
        return;
    }
    switch (ev->type) {
    case LIBXLCOLO_EVENT_PRECOPY_ROUND:
        printf("precopy round %u: %" PRIu64 " pages (estimate %" PRIu64 ")\n",
               ev->round, ev->pages, ev->estimate);
        break;
    case LIBXLCOLO_EVENT_CHECKPOINT:
        if (ev->has_digest)
            hex(digest, ev->digest, LIBXLCOLO_DIGEST_LEN);
        if (ev->role == LIBXLCOLO_ROLE_SECONDARY) {
            char peer[2 * LIBXLCOLO_DIGEST_LEN + 1] = "";
            /* The primary's digest is shown only when it differs. */
            if (ev->has_digest && ev->has_peer_digest &&
                memcmp(ev->digest, ev->peer_digest, LIBXLCOLO_DIGEST_LEN) != 0)
                hex(peer, ev->peer_digest, LIBXLCOLO_DIGEST_LEN);
            printf("applied checkpoint %" PRIu64 ": %" PRIu64 " pages%s%s%s%s\n",
                   ev->epoch, ev->pages, *digest ? ", digest " : "", digest,
                   *peer ? " != primary's " : "", peer);
            break;
        }
        ms3(pause, sizeof(pause), ev->pause_ns);
        ms3(total, sizeof(total), ev->total_ns);
        printf("checkpoint %" PRIu64 ": %" PRIu64 " pages, %" PRIu64 " bytes, "
               "paused %s ms, total %s ms%s%s\n", ev->epoch, ev->pages,
               ev->bytes, pause, total, *digest ? ", digest " : "", digest);
        break;
    case LIBXLCOLO_EVENT_STATE:
        printf("state: %s\n", libxlcolo_state_name(ev->state));
        break;
    case LIBXLCOLO_EVENT_FAILOVER:
        printf("failover: %s -> %s\n", libxlcolo_failover_name(ev->failover_from),
               libxlcolo_failover_name(ev->failover_to));
        break;
    case LIBXLCOLO_EVENT_PEER_LOST:
        printf("peer lost: %s\n", ev->message ? ev->message : "unknown reason");
        break;
    default:
        printf("event %d\n", (int)ev->type);
        break;
    }
    fflush(stdout);
}

/* --- start and receive ----------------------------------------------- */

int check_auth(const char *cmd, const libxlcolo_options *opt)
{
    if (opt->key_file && opt->insecure)
        return usage_error(cmd, "--key and --insecure are exclusive");
    if (!opt->key_file && !opt->insecure)
        return usage_error(cmd, "--key FILE is required (or --insecure to run "
                           "unauthenticated)");
    return 0;
}

void announce_backend(const struct xlcolo *xc)
{
    fprintf(stderr, "xl-colo: backend %s%s\n", xc->backend,
            xc->backend_auto && strcmp(xc->backend, "sim") == 0 ?
            " (no /dev/xen/privcmd)" : "");
    if (xc->xen_stop_old_name)
        fprintf(stderr, "xl-colo: warning: LIBXLCOLO_XEN_STOP is deprecated and will be "
                "removed; use XLCOLO_XEN_STOP\n");
}

/* --- the stop watch ---------------------------------------------------
 * SIGINT and SIGTERM are blocked before the protection starts (so every
 * thread the library creates inherits the mask) and a thread takes them
 * with sigwait(): the self-pipe idea without a handler or a global. On
 * the first signal it finds the protection of this process among the
 * control sockets (by pid: the socket may be named by domain name when
 * the user gave an id, and receive does not know its domain) and asks it
 * to stop, with a context of its own. If there is none yet (still
 * connecting), or on a second signal, it exits 128+signal at once. */

struct stop_watch {
    struct xlcolo *xc;
    const char *cmd;
    sigset_t set, old;
    pthread_t tid;
};

static int stop_own_protection(libxlcolo_ctx *ctx, const char *run_dir)
{
    _cleanup_(strv_freep) char **names = NULL;
    libxlcolo_status st;

    int r = list_protections(run_dir, &names);
    if (r < 0)
        return r;
    for (size_t i = 0; names[i]; i++)
        if (libxlcolo_status_get(ctx, run_dir, names[i], &st) == 0 &&
            st.pid == getpid())
            return libxlcolo_stop(ctx, run_dir, names[i]);
    return -ESRCH;
}

static _Noreturn void interrupted(struct stop_watch *w, int sig, const char *why)
{
    fflush(stdout);
    fprintf(stderr, "xl-colo: %s: interrupted by %s%s\n", w->cmd,
            sig == SIGINT ? "SIGINT" : "SIGTERM", why);
    _exit(128 + sig);
}

static void *stop_watch_main(void *opaque)
{
    struct stop_watch *w = opaque;
    libxlcolo_ctx *ctx = NULL;
    int sig;

    for (unsigned n = 0;; n++) {
        if (sigwait(&w->set, &sig) != 0)
            continue;
        if (n > 0)
            interrupted(w, sig, "");
        pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, NULL);
        int r = libxlcolo_ctx_alloc(&ctx, LIBXLCOLO_VERSION, 0, w->xc->lg);
        if (r == 0)
            r = stop_own_protection(ctx, w->xc->run_dir);
        libxlcolo_ctx_free(ctx);
        ctx = NULL;
        if (r < 0)
            interrupted(w, sig, " before the protection was up");
        xtl_log(w->xc->lg, XTL_NOTICE, -1, "xl-colo", "%s: stopping on %s",
                w->cmd, sig == SIGINT ? "SIGINT" : "SIGTERM");
        pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, NULL);
    }
    return NULL;
}

int stop_watch_start(struct xlcolo *xc, const char *cmd, struct stop_watch **out)
{
    struct stop_watch *w = calloc(1, sizeof(*w));
    if (!w)
        return -ENOMEM;
    w->xc = xc;
    w->cmd = cmd;
    sigemptyset(&w->set);
    sigaddset(&w->set, SIGINT);
    sigaddset(&w->set, SIGTERM);
    int r = pthread_sigmask(SIG_BLOCK, &w->set, &w->old);
    if (r == 0) {
        r = pthread_create(&w->tid, NULL, stop_watch_main, w);
        if (r != 0)
            pthread_sigmask(SIG_SETMASK, &w->old, NULL);
    }
    if (r != 0) {
        free(w);
        return -r;
    }
    *out = w;
    return 0;
}

void stop_watch_end(struct stop_watch *w)
{
    if (!w)
        return;
    pthread_cancel(w->tid);
    pthread_join(w->tid, NULL);
    pthread_sigmask(SIG_SETMASK, &w->old, NULL);
    free(w);
}
