/*
 * xl_colo_run.c - what start and receive share: the event printer (its
 * -j lines made with the library's JSON helpers, json.h), and the stop
 * watch (SIGINT/SIGTERM -> a clean stop).
 */
#include "config.h"

#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "json.h"
#include "xl_colo.h"

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
static void json_digests(colo_json *j, const libxlcolo_event *ev)
{
    char digest[2 * LIBXLCOLO_DIGEST_LEN + 1];
    if (ev->has_digest) {
        hex(digest, ev->digest, LIBXLCOLO_DIGEST_LEN);
        colo_json_put_str(j, "digest", digest);
    }
    if (ev->has_peer_digest) {
        hex(digest, ev->peer_digest, LIBXLCOLO_DIGEST_LEN);
        colo_json_put_str(j, "peer_digest", digest);
    }
}

static void print_event_json(const libxlcolo_event *ev)
{
    _cleanup_json_ colo_json *j = colo_json_new();

    switch (ev->type) {
    case LIBXLCOLO_EVENT_PRECOPY_ROUND:
        colo_json_put_str(j, "event", "precopy");
        colo_json_put_u64(j, "round", ev->round);
        colo_json_put_u64(j, "pages", ev->pages);
        colo_json_put_u64(j, "estimate", ev->estimate);
        break;
    case LIBXLCOLO_EVENT_CHECKPOINT:
        colo_json_put_str(j, "event", "checkpoint");
        colo_json_put_str(j, "role", libxlcolo_role_name(ev->role));
        colo_json_put_u64(j, "epoch", ev->epoch);
        colo_json_put_u64(j, "pages", ev->pages);
        colo_json_put_u64(j, "bytes", ev->bytes);
        colo_json_put_u64(j, "pause_ns", ev->pause_ns);
        if (ev->verify_ns)
            colo_json_put_u64(j, "verify_ns", ev->verify_ns);
        if (ev->role == LIBXLCOLO_ROLE_PRIMARY) {
            colo_json_put_u64(j, "stop_ns", ev->stop_ns);
            colo_json_put_u64(j, "copy_ns", ev->copy_ns);
            colo_json_put_u64(j, "state_ns", ev->state_ns);
        } else if (ev->restored) {
            colo_json_put_u64(j, "restored", ev->restored);
        }
        colo_json_put_u64(j, "total_ns", ev->total_ns);
        json_digests(j, ev);
        break;
    case LIBXLCOLO_EVENT_STATE:
        colo_json_put_str(j, "event", "state");
        colo_json_put_str(j, "role", libxlcolo_role_name(ev->role));
        colo_json_put_str(j, "state", libxlcolo_state_name(ev->state));
        colo_json_put_u64(j, "epoch", ev->epoch);
        json_digests(j, ev);
        break;
    case LIBXLCOLO_EVENT_FAILOVER:
        colo_json_put_str(j, "event", "failover");
        colo_json_put_str(j, "from", libxlcolo_failover_name(ev->failover_from));
        colo_json_put_str(j, "to", libxlcolo_failover_name(ev->failover_to));
        break;
    case LIBXLCOLO_EVENT_PEER_LOST:
        colo_json_put_str(j, "event", "peer_lost");
        colo_json_put_str(j, "message", ev->message ? ev->message : "");
        break;
    default:
        colo_json_put_str(j, "event", "unknown");
        colo_json_put_u64(j, "type", (uint64_t)ev->type);
        break;
    }
    (void)colo_json_print(j, stdout);
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
            char own[48] = "";
            if (ev->restored)
                snprintf(own, sizeof(own), " (%" PRIu64 " of its own put back)", ev->restored);
            printf("applied checkpoint %" PRIu64 ": %" PRIu64 " pages%s%s%s%s%s\n",
                   ev->epoch, ev->pages, own, *digest ? ", digest " : "", digest,
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

int check_arbiter(const char *cmd, const libxlcolo_options *opt)
{
    char err[256];
    if (!opt->arbiter)
        return usage_error(cmd, "--arbiter etcd://HOST:PORT[,HOST:PORT...] is required (or "
                           "--arbiter none, where the timeout alone decides which copy runs)");
    if (strcmp(opt->arbiter, "none") == 0) {
        if (opt->arbiter_prefix || opt->arbiter_ca || opt->arbiter_cert || opt->arbiter_key ||
            opt->host_name)
            return usage_error(cmd, "--arbiter none takes no other --arbiter option");
        return 0; /* its warning: announce_backend, once the command line is good */
    }
    if (libxlcolo_arbiter_check(opt, err, sizeof(err)) < 0)
        return usage_error(cmd, "%s", err);
    return 0;
}

void announce_backend(const struct xlcolo *xc, const char *cmd)
{
    if (xc->opt.arbiter && strcmp(xc->opt.arbiter, "none") == 0)
        fprintf(stderr, "xl-colo: %s: warning: --arbiter none: a partition or a stalled primary "
                "can leave two live copies of the guest\n", cmd);
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
 * the first signal it asks the protection running in xc->ctx to stop
 * (libxlcolo_request_stop, as `xl-colo stop` would). If it is not up yet
 * (still connecting), or on a second signal, it exits 128+signal at once. */

struct stop_watch {
    struct xlcolo *xc;
    const char *cmd;
    sigset_t set, old;
    pthread_t tid;
};

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
    int sig;

    for (unsigned n = 0;; n++) {
        if (sigwait(&w->set, &sig) != 0)
            continue;
        if (n > 0)
            interrupted(w, sig, "");
        pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, NULL);
        if (libxlcolo_request_stop(w->xc->ctx) < 0)
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
