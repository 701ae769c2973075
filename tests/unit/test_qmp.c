/*
 * test_qmp.c - the QMP client (qmp/) against a real QEMU:
 *     qemu-system-x86_64 -M none -nodefaults -display none \
 *         -qmp unix:SOCK,server=on,wait=off
 * with SOCK in a mkdtemp directory. The suite's init starts QEMU (a child
 * that dies with this process) and waits for its socket; its cleanup kills
 * it by its pid, reaps it and removes the directory, whatever the tests
 * did. No QEMU, or one that does not start, fails the suite: it is in
 * tools/install-deps.sh's base list.
 */
#include "config.h"

#include <CUnit/Basic.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "colo-time.h"
#include "json.h"
#include "qmp/qmp.h"
#include "unit-util.h"

#ifndef QEMU_BIN
#define QEMU_BIN "qemu-system-x86_64"
#endif
#define QEMU_START_MS 20000 /* QEMU's socket must be there by then */
#define TIMEOUT_MS 10000    /* of each reply */

static char dir[64];
static char sock[100], qemu_log[100];
static pid_t qemu = -1;
static struct unit_logger lg;
static libxlcolo_ctx *ctx;

/* What QEMU said on stderr, for the cause of a failed start. */
static const char *qemu_said(void)
{
    static char buf[200];
    int fd = open(qemu_log, O_RDONLY | O_CLOEXEC);
    ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;
    if (fd >= 0)
        close(fd);
    buf[n > 0 ? n : 0] = '\0';
    buf[strcspn(buf, "\n")] = '\0';
    return buf[0] ? buf : "(nothing on stderr)";
}

/* Connectable: QEMU listens on it. The probe closes at once; QEMU then
 * takes the next client. */
static bool sock_listens(void)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    bool ok = fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
    if (fd >= 0)
        close(fd);
    return ok;
}

static int start_qemu(void)
{
    char qmp[160];
    snprintf(qmp, sizeof(qmp), "unix:%s,server=on,wait=off", sock);
    char *argv[] = { (char *)QEMU_BIN, (char *)"-M", (char *)"none", (char *)"-nodefaults",
                     (char *)"-display", (char *)"none", (char *)"-qmp", qmp, NULL };
    pid_t parent = getpid();

    qemu = fork();
    if (qemu < 0)
        return unit_setup_error("fork: %m");
    if (qemu == 0) {
        /* QEMU dies with this process, even one that crashed. */
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
            _exit(126);
        int nul = open("/dev/null", O_RDWR | O_CLOEXEC);
        int log = open(qemu_log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (nul < 0 || log < 0 || dup2(nul, 0) < 0 || dup2(nul, 1) < 0 || dup2(log, 2) < 0)
            _exit(126);
        execvp(argv[0], argv);
        dprintf(2, "exec %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    /* Wait for the socket: poll it (QEMU says nothing when it is ready),
     * and watch the child. */
    uint64_t deadline = colo_deadline_ms(QEMU_START_MS);
    for (;;) {
        int st;
        pid_t w = waitpid(qemu, &st, WNOHANG);
        if (w == qemu) {
            qemu = -1;
            return unit_setup_error("%s exited (status %d) before it listened on %s: %s",
                                    QEMU_BIN, WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st),
                                    sock, qemu_said());
        }
        if (access(sock, F_OK) == 0 && sock_listens())
            return 0;
        if (colo_deadline_passed(deadline))
            return unit_setup_error("%s does not listen on %s after %d ms: %s", QEMU_BIN, sock,
                                    QEMU_START_MS, qemu_said());
        usleep(10000);
    }
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st; (void)flag; (void)ftw;
    return remove(path);
}

/* Kill QEMU by its pid and reap it, free the context, remove the
 * directory: false, with errno and *what, when something failed. */
static bool teardown(const char **what)
{
    bool ok = true;
    if (qemu > 0) {
        int st;
        kill(qemu, SIGKILL);
        if (waitpid(qemu, &st, 0) != qemu) {
            *what = "waitpid QEMU";
            ok = false;
        }
        qemu = -1;
    }
    if (ctx)
        unit_ctx_free(ctx);
    ctx = NULL;
    if (dir[0] && nftw(dir, rm_one, 8, FTW_DEPTH | FTW_PHYS) < 0 && ok) {
        *what = "remove the test directory";
        ok = false;
    }
    dir[0] = '\0';
    return ok;
}

/* CUnit runs no cleanup after a failed init: a failed init undoes itself. */
static int suite_init(void)
{
    const char *what;
    snprintf(dir, sizeof(dir), "/tmp/test-qmp.XXXXXX");
    if (!mkdtemp(dir)) {
        dir[0] = '\0';
        return unit_setup_error("mkdtemp: %m");
    }
    snprintf(sock, sizeof(sock), "%s/qmp.sock", dir);
    snprintf(qemu_log, sizeof(qemu_log), "%s/qemu.log", dir);
    ctx = unit_ctx_with(&lg);
    int r = start_qemu();
    if (r)
        teardown(&what);
    return r;
}

static int suite_clean(void)
{
    const char *what = "";
    if (!teardown(&what))
        return unit_setup_error("%s: %m", what);
    return 0;
}

/* ------------------------------------------------------------- helpers */

static colo_qmp *client(void)
{
    colo_qmp *q = NULL;
    int r = colo_qmp_connect(ctx, sock, NULL, TIMEOUT_MS, 0, &q);
    if (r < 0)
        fprintf(stderr, "\n  connect: %s\n", lg.last);
    CU_ASSERT_EQUAL(r, 0);
    return q;
}

/* query-status's "status" ("running", "paused"), or "" */
static void status_of(colo_qmp *q, char *status, size_t size)
{
    _cleanup_tree_ yajl_val ret = NULL;
    char why[64];
    status[0] = '\0';
    CU_ASSERT_EQUAL_FATAL(colo_qmp_execute(q, "query-status", NULL, 0, &ret, NULL), 0);
    CU_ASSERT(colo_json_copy_str(ret, "status", status, size, why, sizeof(why)) == 0);
}

/* --------------------------------------------------------------- tests */

/* The greeting gives QEMU's version; qmp_capabilities is accepted. */
static void test_greeting(void)
{
    colo_qmp *q = client();
    CU_ASSERT_FATAL(q != NULL);
    unsigned maj, min, mic;
    colo_qmp_qemu_version(q, &maj, &min, &mic);
    CU_ASSERT_EQUAL(maj, 7);
    CU_ASSERT(!colo_qmp_broken(q));
    CU_ASSERT_EQUAL(lg.errors, 0);
    colo_qmp_close(q);
}

static void test_query_status(void)
{
    colo_qmp *q = client();
    CU_ASSERT_FATAL(q != NULL);
    _cleanup_tree_ yajl_val ret = NULL;
    CU_ASSERT_EQUAL_FATAL(colo_qmp_execute(q, "query-status", NULL, 0, &ret, NULL), 0);
    const char *status = NULL;
    yajl_val running;
    char why[64];
    CU_ASSERT(colo_json_get_str(ret, "status", &status, why, sizeof(why)) == 0 &&
              strcmp(status, "running") == 0);
    CU_ASSERT(colo_json_get(ret, "running", &running, why, sizeof(why)) == 0 &&
              running && YAJL_IS_TRUE(running));
    colo_qmp_close(q);
}

static void test_query_version(void)
{
    colo_qmp *q = client();
    CU_ASSERT_FATAL(q != NULL);
    _cleanup_tree_ yajl_val ret = NULL;
    CU_ASSERT_EQUAL_FATAL(colo_qmp_execute(q, "query-version", NULL, 0, &ret, NULL), 0);
    static const char *const path[] = { "qemu", NULL };
    yajl_val v = yajl_tree_get(ret, (const char **)path, yajl_t_object);
    uint64_t major = 0, minor = 0;
    char why[64];
    CU_ASSERT_FATAL(v != NULL);
    CU_ASSERT(colo_json_get_u64(v, "major", 1000, &major, why, sizeof(why)) == 0);
    CU_ASSERT(colo_json_get_u64(v, "minor", 1000, &minor, why, sizeof(why)) == 0);
    CU_ASSERT_EQUAL(major, 7);
    unsigned gmaj, gmin, gmic;
    colo_qmp_qemu_version(q, &gmaj, &gmin, &gmic);
    CU_ASSERT(gmaj == major && gmin == minor);
    colo_qmp_close(q);
}

/* An unknown command: QEMU's class and exact desc, -EREMOTEIO, one line;
 * the connection goes on. */
static void test_unknown_command(void)
{
    colo_qmp *q = client();
    CU_ASSERT_FATAL(q != NULL);
    colo_qmp_error e;
    CU_ASSERT_EQUAL(colo_qmp_execute(q, "nosuch", NULL, 0, NULL, &e), -EREMOTEIO);
    CU_ASSERT_STRING_EQUAL(e.cls, "CommandNotFound");
    CU_ASSERT_STRING_EQUAL(e.desc, "The command nosuch has not been found");
    char want[256];
    snprintf(want, sizeof(want), "qmp %s: nosuch failed: CommandNotFound: The command nosuch "
             "has not been found", sock);
    CU_ASSERT_STRING_EQUAL(lg.last, want);
    /* Arguments QEMU refuses: its GenericError, with its words. */
    CU_ASSERT_EQUAL(colo_qmp_execute(q, "query-status", "{\"x\": 1}", COLO_QMP_QUIET, NULL, &e),
                    -EREMOTEIO);
    CU_ASSERT_STRING_EQUAL(e.cls, "GenericError");
    CU_ASSERT_STRING_EQUAL(e.desc, "Parameter 'x' is unexpected");
    CU_ASSERT(!colo_qmp_broken(q));
    char status[32];
    status_of(q, status, sizeof(status));
    CU_ASSERT_STRING_EQUAL(status, "running");
    colo_qmp_close(q);
}

/* stop and cont on -M none: QEMU sends STOP before stop's reply and
 * RESUME before cont's. Both are queued while the replies are waited for,
 * and come out in order. */
static void test_stop_cont_events(void)
{
    colo_qmp *q = client();
    CU_ASSERT_FATAL(q != NULL);
    char status[32];
    CU_ASSERT_EQUAL(colo_qmp_execute(q, "stop", NULL, 0, NULL, NULL), 0);
    status_of(q, status, sizeof(status));
    CU_ASSERT_STRING_EQUAL(status, "paused");
    CU_ASSERT_EQUAL(colo_qmp_execute(q, "cont", NULL, 0, NULL, NULL), 0);
    status_of(q, status, sizeof(status));
    CU_ASSERT_STRING_EQUAL(status, "running");

    _cleanup_qmp_event_ colo_qmp_event stop = { 0 }, resume = { 0 };
    colo_qmp_event none;
    CU_ASSERT_EQUAL(colo_qmp_next_event(q, &stop), 1);
    CU_ASSERT_EQUAL(colo_qmp_next_event(q, &resume), 1);
    CU_ASSERT_EQUAL(colo_qmp_next_event(q, &none), 0);
    CU_ASSERT(stop.name && strcmp(stop.name, "STOP") == 0);
    CU_ASSERT(resume.name && strcmp(resume.name, "RESUME") == 0);
    CU_ASSERT(stop.seconds > 0);
    CU_ASSERT(resume.seconds * 1000000 + resume.microseconds >=
              stop.seconds * 1000000 + stop.microseconds);
    CU_ASSERT_EQUAL(colo_qmp_events_dropped(q), 0);

    /* wait_event: the one named is taken, the other stays queued. */
    CU_ASSERT_EQUAL(colo_qmp_execute(q, "stop", NULL, 0, NULL, NULL), 0);
    CU_ASSERT_EQUAL(colo_qmp_execute(q, "cont", NULL, 0, NULL, NULL), 0);
    {
        _cleanup_qmp_event_ colo_qmp_event ev = { 0 };
        CU_ASSERT_EQUAL(colo_qmp_wait_event(q, "RESUME", 0, 0, &ev), 0);
        CU_ASSERT(ev.name && strcmp(ev.name, "RESUME") == 0);
    }
    {
        _cleanup_qmp_event_ colo_qmp_event ev = { 0 };
        CU_ASSERT_EQUAL(colo_qmp_wait_event(q, NULL, 0, 0, &ev), 0);
        CU_ASSERT(ev.name && strcmp(ev.name, "STOP") == 0);
    }
    /* None left, none coming: a timeout that leaves the connection as it was. */
    CU_ASSERT_EQUAL(colo_qmp_wait_event(q, "STOP", 100, 0, &none), -ETIMEDOUT);
    char want[256];
    snprintf(want, sizeof(want), "qmp %s: no STOP event in 100 ms", sock);
    CU_ASSERT_STRING_EQUAL(lg.last, want);
    CU_ASSERT(!colo_qmp_broken(q));
    status_of(q, status, sizeof(status));
    CU_ASSERT_STRING_EQUAL(status, "running");
    colo_qmp_close(q);
}

/* Many commands in a row, of different replies, each matched by its id;
 * nested arguments. */
static void test_commands_in_row(void)
{
    colo_qmp *q = client();
    CU_ASSERT_FATAL(q != NULL);
    int errors = lg.errors;
    for (int i = 0; i < 20; i++) {
        _cleanup_tree_ yajl_val ret = NULL;
        char why[64];
        switch (i % 4) {
        case 0: {
            const char *status;
            CU_ASSERT_EQUAL(colo_qmp_execute(q, "query-status", NULL, 0, &ret, NULL), 0);
            CU_ASSERT(colo_json_get_str(ret, "status", &status, why, sizeof(why)) == 0);
            break;
        }
        case 1: {
            yajl_val qemu_v;
            CU_ASSERT_EQUAL(colo_qmp_execute(q, "query-version", NULL, 0, &ret, NULL), 0);
            CU_ASSERT(colo_json_get(ret, "qemu", &qemu_v, why, sizeof(why)) == 0 && qemu_v);
            break;
        }
        case 2:
            CU_ASSERT_EQUAL(colo_qmp_execute(q, "qom-get", "{\"path\": \"/machine\", "
                                             "\"property\": \"type\"}", 0, &ret, NULL), 0);
            CU_ASSERT(ret && YAJL_IS_STRING(ret) &&
                      strcmp(ret->u.string, "none-machine") == 0);
            break;
        case 3:
            CU_ASSERT_EQUAL(colo_qmp_execute(q, "query-name", NULL, 0, &ret, NULL), 0);
            CU_ASSERT(ret && YAJL_IS_OBJECT(ret) && ret->u.object.len == 0);
            break;
        }
    }
    CU_ASSERT_EQUAL(lg.errors, errors);
    colo_qmp_close(q);
}

/* QEMU serves one QMP client at a time: a second one gets no greeting
 * while the first is connected (so the xen backend holds a connection only
 * for a command or a checkpoint stop), and gets it once the first left. */
static void test_one_client_at_a_time(void)
{
    colo_qmp *q = client(), *q2 = NULL;
    CU_ASSERT_FATAL(q != NULL);
    CU_ASSERT_EQUAL(colo_qmp_connect(ctx, sock, "second", 300, 0, &q2), -ETIMEDOUT);
    char want[256];
    snprintf(want, sizeof(want), "second: qmp %s: greeting: none in 300 ms (is another "
             "client connected?)", sock);
    CU_ASSERT_STRING_EQUAL(lg.last, want);
    CU_ASSERT(q2 == NULL);
    colo_qmp_close(q);
    q = client();
    CU_ASSERT(q != NULL);
    colo_qmp_close(q);
}

int main(void)
{
    static const struct unit_test tests[] = {
        { "greeting and qmp_capabilities", test_greeting },
        { "query-status: running", test_query_status },
        { "query-version: major 7, as the greeting", test_query_version },
        { "unknown command: CommandNotFound, QEMU's desc", test_unknown_command },
        { "stop, cont: STOP then RESUME queued and taken", test_stop_cont_events },
        { "20 commands in a row, ids matched", test_commands_in_row },
        { "one client at a time", test_one_client_at_a_time },
        { NULL, NULL },
    };
    return unit_run("qmp_qemu", suite_init, suite_clean, tests);
}
