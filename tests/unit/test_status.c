/*
 * test_status.c - the status codec (control/status_codec.c) and the JSON
 * helpers under it (json.c): the exact text written, every field there and
 * back, and every kind of bad input refused with its exact error line.
 */
#include "config.h"

#include <CUnit/Basic.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "control/status_codec.h"
#include "json.h"
#include "unit-util.h"

static void fill(libxlcolo_status *st)
{
    memset(st, 0, sizeof(*st));
    snprintf(st->domain, sizeof(st->domain), "web1");
    st->role = LIBXLCOLO_ROLE_PRIMARY;
    st->state = LIBXLCOLO_STATE_PROTECTED;
    st->mode = LIBXLCOLO_MODE_COLO;
    st->failover = LIBXLCOLO_FAILOVER_NONE;
    snprintf(st->backend, sizeof(st->backend), "sim");
    st->epoch = 41;
    st->checkpoints = 40;
    st->last_pause_ns = 1234567;
    st->last_pages = 99;
    snprintf(st->peer, sizeof(st->peer), "192.0.2.1:7878");
    st->pid = 4242;
}

/* fill()'s status as JSON, without and with its braces. */
#define GOOD_MEMBERS "\"domain\":\"web1\",\"role\":\"primary\",\"state\":\"protected\"," \
    "\"mode\":\"colo\",\"failover\":\"none\",\"backend\":\"sim\",\"epoch\":41," \
    "\"checkpoints\":40,\"last_pause_ns\":1234567,\"last_pages\":99," \
    "\"peer\":\"192.0.2.1:7878\",\"pid\":4242,\"disks\":[]"
#define GOOD "{" GOOD_MEMBERS "}"

/* st as JSON, into out[size]; 0 or -errno. */
static int encode(const libxlcolo_status *st, char *out, size_t size)
{
    _cleanup_json_ colo_json *j = colo_json_new();
    const char *buf;
    size_t len;
    colo_status_to_json(j, st);
    int r = colo_json_finish(j, &buf, &len);
    if (r < 0)
        return r;
    if (len >= size)
        return -E2BIG;
    memcpy(out, buf, len);
    out[len] = '\0';
    return 0;
}

/* Parse and decode text as the client does; err gets the one line. */
static int decode(const char *text, libxlcolo_status *st, char *err, size_t size)
{
    _cleanup_tree_ yajl_val v = NULL;
    err[0] = '\0';
    int r = colo_json_parse(text, &v, err, size);
    if (r < 0)
        return r;
    return colo_status_from_json(v, st, err, size);
}

static void assert_same(const libxlcolo_status *a, const libxlcolo_status *b)
{
    CU_ASSERT_STRING_EQUAL(a->domain, b->domain);
    CU_ASSERT_EQUAL(a->role, b->role);
    CU_ASSERT_EQUAL(a->state, b->state);
    CU_ASSERT_EQUAL(a->mode, b->mode);
    CU_ASSERT_EQUAL(a->failover, b->failover);
    CU_ASSERT_STRING_EQUAL(a->backend, b->backend);
    CU_ASSERT_EQUAL(a->epoch, b->epoch);
    CU_ASSERT_EQUAL(a->checkpoints, b->checkpoints);
    CU_ASSERT_EQUAL(a->last_pause_ns, b->last_pause_ns);
    CU_ASSERT_EQUAL(a->last_pages, b->last_pages);
    CU_ASSERT_STRING_EQUAL(a->peer, b->peer);
    CU_ASSERT_EQUAL(a->pid, b->pid);
}

/* The text is the wire's and xl-colo status -j's, to the byte. */
static void test_encode(void)
{
    libxlcolo_status st;
    char text[1024];
    fill(&st);
    CU_ASSERT_EQUAL(encode(&st, text, sizeof(text)), 0);
    CU_ASSERT_STRING_EQUAL(text, GOOD);

    /* A pid not known is 0; '/' is not escaped, '"', '\' and controls are. */
    st.pid = -1;
    snprintf(st.peer, sizeof(st.peer), "a/b\"c\\d\n");
    CU_ASSERT_EQUAL(encode(&st, text, sizeof(text)), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(text, ",\"peer\":\"a/b\\\"c\\\\d\\n\",\"pid\":0,\"disks\":[]}"));
}

static void round_trip(const libxlcolo_status *st)
{
    libxlcolo_status back;
    char text[1024], err[128];
    CU_ASSERT_EQUAL_FATAL(encode(st, text, sizeof(text)), 0);
    memset(&back, 0xa5, sizeof(back));
    CU_ASSERT_EQUAL(decode(text, &back, err, sizeof(err)), 0);
    CU_ASSERT_STRING_EQUAL(err, "");
    assert_same(st, &back);
}

/* Every field, every enum value, every bound reached. */
static void test_round_trip(void)
{
    libxlcolo_status st;
    fill(&st);
    round_trip(&st);

    memset(st.domain, 'd', sizeof(st.domain) - 1);
    memset(st.backend, 'b', sizeof(st.backend) - 1);
    memset(st.peer, 'p', sizeof(st.peer) - 1);
    st.epoch = UINT64_MAX;
    st.checkpoints = UINT64_MAX - 1;
    st.last_pause_ns = 1;
    st.last_pages = 0;
    st.pid = INT_MAX;
    round_trip(&st);

    st.peer[0] = '\0';  /* a secondary before its primary came */
    st.pid = 0;
    round_trip(&st);

    for (int i = 0; i <= LIBXLCOLO_ROLE_SECONDARY; i++) {
        st.role = i;
        round_trip(&st);
    }
    for (int i = 0; i <= LIBXLCOLO_STATE_STOPPED; i++) {
        st.state = i;
        round_trip(&st);
    }
    for (int i = 0; i <= LIBXLCOLO_MODE_COLO; i++) {
        st.mode = i;
        round_trip(&st);
    }
    for (int i = 0; i <= LIBXLCOLO_FAILOVER_RELAUNCH; i++) {
        st.failover = i;
        round_trip(&st);
    }
}

/* The server's reply carries "ok" first; unknown members are ignored,
 * whatever their shape, and the order does not matter. */
static void test_other_members(void)
{
    libxlcolo_status st, want;
    char err[128];
    fill(&want);
    CU_ASSERT_EQUAL(decode("{\"ok\":true," GOOD_MEMBERS "}", &st, err, sizeof(err)), 0);
    assert_same(&st, &want);
    CU_ASSERT_EQUAL(decode("{\"pid\":4242,\"later\":[1,{\"a\":null}],"
                           "\"peer\":\"192.0.2.1:7878\",\"last_pages\":99,"
                           "\"last_pause_ns\":1234567,\"checkpoints\":40,"
                           "\"epoch\":41,\"backend\":\"sim\",\"failover\":\"none\","
                           "\"mode\":\"colo\",\"state\":\"protected\","
                           "\"role\":\"primary\",\"domain\":\"web1\"}",
                           &st, err, sizeof(err)), 0);
    assert_same(&st, &want);
}

/* GOOD with the member KEY's value replaced by VALUE (or the member
 * removed when VALUE is NULL). */
static const char *good_with(const char *key, const char *value)
{
    static char text[8192];
    char pat[64];
    snprintf(pat, sizeof(pat), "\"%s\":", key);
    const char *at = strstr(GOOD, pat);
    CU_ASSERT_PTR_NOT_NULL_FATAL(at);
    const char *end = at + strlen(pat);
    if (*end == '"')
        end = strchr(end + 1, '"') + 1;
    else
        end += strcspn(end, ",}");
    if (value) {
        snprintf(text, sizeof(text), "%.*s%s%s%s", (int)(at - GOOD), GOOD,
                 pat, value, end);
    } else {
        if (*end == ',')
            end++;
        else if (at[-1] == ',')
            at--;
        snprintf(text, sizeof(text), "%.*s%s", (int)(at - GOOD), GOOD, end);
    }
    return text;
}

static void assert_refused(const char *text, const char *why)
{
    libxlcolo_status st, untouched;
    char err[128];
    memset(&st, 0x5a, sizeof(st));
    untouched = st;
    int r = decode(text, &st, err, sizeof(err));
    CU_ASSERT_EQUAL(r, -EBADMSG);
    CU_ASSERT_STRING_EQUAL(err, why);
    CU_ASSERT(memcmp(&st, &untouched, sizeof(st)) == 0);
    if (r != -EBADMSG || strcmp(err, why) != 0)
        fprintf(stderr, "\n  %s\n  -> %d '%s', not '%s'\n", text, r, err, why);
}

static void test_malformed(void)
{
    char text[256];
    assert_refused("", "parse error: premature EOF");
    assert_refused("{\"domain\":\"web1\",\"role\":", "parse error: premature EOF");
    snprintf(text, sizeof(text), "%.*s", (int)strlen(GOOD) - 1, GOOD);
    assert_refused(text, "parse error: premature EOF");
    assert_refused("garbage", "lexical error: invalid char in json text.");
    assert_refused("\x01\xff", "lexical error: invalid char in json text.");
    assert_refused(GOOD " x", "parse error: trailing garbage");
    assert_refused(GOOD GOOD, "parse error: trailing garbage");
    assert_refused("{\"epoch\":01}",
                   "parse error: after key and value, inside map, I expect ',' or '}'");
    assert_refused("[1,2]", "not a JSON object");
    assert_refused("\"web1\"", "not a JSON object");
    assert_refused("41", "not a JSON object");
}

/* yajl_tree takes comments; a '"' in one hid every bracket after it from
 * the depth's bound, and a million levels then overflowed the stack in
 * yajl_tree_free (found by tests/fuzz/fuzz-qmp). A '/' in a string is
 * still a '/'. */
static void test_comment(void)
{
    const size_t n = 1000000;
    const char head[] = "/*\"*/{\"domain\":";
    char *deep = malloc(sizeof(head) + 2 * n + 1);
    CU_ASSERT_FATAL(deep != NULL);
    memcpy(deep, head, sizeof(head) - 1);
    memset(deep + sizeof(head) - 1, '[', n);
    memset(deep + sizeof(head) - 1 + n, ']', n);
    memcpy(deep + sizeof(head) - 1 + 2 * n, "}", 2);
    assert_refused(deep, "a comment (JSON has none)");
    free(deep);
    assert_refused("/**/" GOOD, "a comment (JSON has none)");
    assert_refused(GOOD "// x", "a comment (JSON has none)");

    yajl_val v = NULL;
    char err[128];
    CU_ASSERT_EQUAL(colo_json_parse("{\"peer\":\"/run/a\\\"//b\"}", &v, err, sizeof(err)), 0);
    if (v)
        yajl_tree_free(v);
}

static void test_missing(void)
{
    assert_refused("{}", "missing \"domain\"");
    assert_refused("{\"ok\":true}", "missing \"domain\"");
    assert_refused(good_with("domain", NULL), "missing \"domain\"");
    assert_refused(good_with("failover", NULL), "missing \"failover\"");
    assert_refused(good_with("last_pages", NULL), "missing \"last_pages\"");
    assert_refused(good_with("peer", NULL), "missing \"peer\"");
    assert_refused(good_with("pid", NULL), "missing \"pid\"");
    /* The first wrong field in the schema's order is the one named. */
    assert_refused("{\"pid\":\"x\",\"epoch\":1}", "missing \"domain\"");
}

static void test_wrong_type(void)
{
    assert_refused(good_with("domain", "5"), "\"domain\" is not a string");
    assert_refused(good_with("role", "null"), "\"role\" is not a string");
    assert_refused(good_with("backend", "[\"sim\"]"), "\"backend\" is not a string");
    assert_refused(good_with("peer", "{}"), "\"peer\" is not a string");
    assert_refused(good_with("epoch", "\"41\""), "\"epoch\" is not a number");
    assert_refused(good_with("checkpoints", "true"), "\"checkpoints\" is not a number");
    assert_refused(good_with("last_pause_ns", "null"), "\"last_pause_ns\" is not a number");
    assert_refused(good_with("pid", "[4242]"), "\"pid\" is not a number");
    assert_refused(good_with("epoch", "-1"), "\"epoch\" is not an unsigned integer");
    assert_refused(good_with("epoch", "-0"), "\"epoch\" is not an unsigned integer");
    assert_refused(good_with("epoch", "1.5"), "\"epoch\" is not an unsigned integer");
    assert_refused(good_with("epoch", "1e3"), "\"epoch\" is not an unsigned integer");
    assert_refused(good_with("pid", "1E400"), "\"pid\" is not an unsigned integer");
}

static void test_out_of_range(void)
{
    libxlcolo_status st;
    char err[128];
    CU_ASSERT_EQUAL(decode(good_with("epoch", "18446744073709551615"), &st,
                           err, sizeof(err)), 0);
    CU_ASSERT_EQUAL(st.epoch, UINT64_MAX);
    assert_refused(good_with("epoch", "18446744073709551616"),
                   "\"epoch\" is over 18446744073709551615");
    assert_refused(good_with("last_pages", "99999999999999999999999999999999"),
                   "\"last_pages\" is over 18446744073709551615");
    CU_ASSERT_EQUAL(decode(good_with("pid", "2147483647"), &st, err, sizeof(err)), 0);
    CU_ASSERT_EQUAL(st.pid, INT_MAX);
    assert_refused(good_with("pid", "2147483648"), "\"pid\" is over 2147483647");
    assert_refused(good_with("pid", "4294967296"), "\"pid\" is over 2147483647");
}

static void test_too_long(void)
{
    char s[200];
    libxlcolo_status st;
    char err[128];

    /* 63, 15 and 79 bytes fit; one more does not. */
    snprintf(s, sizeof(s), "\"%063d\"", 0);
    CU_ASSERT_EQUAL(decode(good_with("domain", s), &st, err, sizeof(err)), 0);
    snprintf(s, sizeof(s), "\"%064d\"", 0);
    assert_refused(good_with("domain", s), "\"domain\" is longer than 63 bytes");
    snprintf(s, sizeof(s), "\"%015d\"", 0);
    CU_ASSERT_EQUAL(decode(good_with("backend", s), &st, err, sizeof(err)), 0);
    snprintf(s, sizeof(s), "\"%016d\"", 0);
    assert_refused(good_with("backend", s), "\"backend\" is longer than 15 bytes");
    snprintf(s, sizeof(s), "\"%079d\"", 0);
    CU_ASSERT_EQUAL(decode(good_with("peer", s), &st, err, sizeof(err)), 0);
    snprintf(s, sizeof(s), "\"%080d\"", 0);
    assert_refused(good_with("peer", s), "\"peer\" is longer than 79 bytes");
    /* An escape counts as the byte it stands for. */
    snprintf(s, sizeof(s), "\"%078d\\u00e9\"", 0);
    assert_refused(good_with("peer", s), "\"peer\" is longer than 79 bytes");
    /* A name too long is no name. */
    snprintf(s, sizeof(s), "\"%0150d\"", 0);
    assert_refused(good_with("state", s), "\"state\" is not one of connecting, "
                   "precopy, protected, unprotected, failed-over, stopped, fenced, awaiting-ownership");
}

static void test_unknown_names(void)
{
    assert_refused(good_with("role", "\"tertiary\""),
                   "\"role\" is not one of primary, secondary");
    assert_refused(good_with("state", "\"zombie\""), "\"state\" is not one of "
                   "connecting, precopy, protected, unprotected, failed-over, stopped, fenced, "
                   "awaiting-ownership");
    assert_refused(good_with("state", "\"unknown\""), "\"state\" is not one of "
                   "connecting, precopy, protected, unprotected, failed-over, stopped, fenced, "
                   "awaiting-ownership");
    assert_refused(good_with("mode", "\"COLO\""), "\"mode\" is not one of remus, colo");
    assert_refused(good_with("failover", "\"\""), "\"failover\" is not one of "
                   "none, require, active, completed, relaunch");
}

static void test_duplicate(void)
{
    assert_refused("{\"epoch\":1," GOOD_MEMBERS "}", "\"epoch\" appears twice");
    assert_refused("{\"domain\":\"web1\"," GOOD_MEMBERS "}", "\"domain\" appears twice");
    /* A duplicate of a member the codec does not read is not its business. */
    libxlcolo_status st;
    char err[128];
    CU_ASSERT_EQUAL(decode("{\"ok\":true,\"ok\":true," GOOD_MEMBERS "}", &st, err,
                           sizeof(err)), 0);
}

/* The writer under everything: its text, its line, its refusals. */
/* The disks: written always, read when present, as strictly as the rest. */
static void test_disks(void)
{
    libxlcolo_status st, back;
    char text[2048], err[128];
    fill(&st);
    st.nr_disks = 2;
    st.disks[0] = (libxlcolo_disk_status){ .name = "xvda" };
    st.disks[1] = (libxlcolo_disk_status){ .name = "xvdb", .error = true,
                                           .desc = "I/O error occurred" };
    CU_ASSERT_EQUAL(encode(&st, text, sizeof(text)), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(text, ",\"pid\":4242,\"disks\":[{\"name\":\"xvda\","
                                  "\"error\":false,\"desc\":\"\"},{\"name\":\"xvdb\","
                                  "\"error\":true,\"desc\":\"I/O error occurred\"}]}"));
    CU_ASSERT_EQUAL(decode(text, &back, err, sizeof(err)), 0);
    CU_ASSERT_EQUAL(back.nr_disks, 2);
    CU_ASSERT_STRING_EQUAL(back.disks[1].name, "xvdb");
    CU_ASSERT(back.disks[1].error && !back.disks[0].error);
    CU_ASSERT_STRING_EQUAL(back.disks[1].desc, "I/O error occurred");

    /* Absent: no disks. */
    snprintf(text, sizeof(text), "%s", GOOD);
    char *d = strstr(text, ",\"disks\":[]");
    memmove(d, d + strlen(",\"disks\":[]"), strlen(d + strlen(",\"disks\":[]")) + 1);
    back.nr_disks = 9;
    CU_ASSERT_EQUAL(decode(text, &back, err, sizeof(err)), 0);
    CU_ASSERT_EQUAL(back.nr_disks, 0);

    static const struct { const char *disks, *why; } bad[] = {
        { "{}", "\"disks\" is not an array" },
        { "[1]", "disks[0]: not an object" },
        { "[{\"name\":\"a\",\"desc\":\"\"}]", "disks[0]: missing \"error\"" },
        { "[{\"name\":\"a\",\"desc\":\"\",\"error\":1}]", "disks[0]: \"error\" is not a boolean" },
        { "[{\"desc\":\"\",\"error\":true}]", "disks[0]: missing \"name\"" },
        { "[{\"name\":\"0123456789012345678901234567890123\",\"desc\":\"\",\"error\":true}]",
          "disks[0]: \"name\" is longer than 31 bytes" },
    };
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        snprintf(text, sizeof(text), "{" GOOD_MEMBERS "}");
        char *at = strstr(text, "\"disks\":[]");
        snprintf(at, sizeof(text) - (size_t)(at - text), "\"disks\":%s}", bad[i].disks);
        CU_ASSERT_EQUAL(decode(text, &back, err, sizeof(err)), -EBADMSG);
        CU_ASSERT_STRING_EQUAL(err, bad[i].why);
    }
    /* More than LIBXLCOLO_DISKS_MAX. */
    char list[1024] = "[";
    for (int i = 0; i <= LIBXLCOLO_DISKS_MAX; i++)
        snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s{\"name\":\"d\",\"desc\":\"\",\"error\":false}",
                 i ? "," : "");
    snprintf(text, sizeof(text), "{" GOOD_MEMBERS "}");
    char *at = strstr(text, "\"disks\":[]");
    snprintf(at, sizeof(text) - (size_t)(at - text), "\"disks\":%s]}", list);
    CU_ASSERT_EQUAL(decode(text, &back, err, sizeof(err)), -EBADMSG);
    CU_ASSERT_STRING_EQUAL(err, "\"disks\" has 17 disks, more than 16");
}

static void test_json_writer(void)
{
    const char *buf;
    size_t len;
    char *mem = NULL;
    size_t memlen = 0;

    colo_json *j = colo_json_new();
    CU_ASSERT_PTR_NOT_NULL_FATAL(j);
    colo_json_put_str(j, "event", "checkpoint");
    colo_json_put_u64(j, "epoch", UINT64_MAX);
    colo_json_put_bool(j, "ok", false);
    colo_json_put_str(j, "path", "/run/xen-colo\t\"x\"");
    CU_ASSERT_EQUAL(colo_json_finish(j, &buf, &len), 0);
    CU_ASSERT_EQUAL(len, strlen(buf));
    CU_ASSERT_STRING_EQUAL(buf, "{\"event\":\"checkpoint\",\"epoch\":"
                           "18446744073709551615,\"ok\":false,"
                           "\"path\":\"/run/xen-colo\\t\\\"x\\\"\"}");
    /* Finished once: a second close is refused, not a second '}'. */
    CU_ASSERT_EQUAL(colo_json_finish(j, &buf, &len), -EINVAL);
    colo_json_free(j);

    /* One line, flushed. */
    FILE *f = open_memstream(&mem, &memlen);
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    j = colo_json_new();
    colo_json_put_str(j, "domain", "web1");
    CU_ASSERT_EQUAL(colo_json_print(j, f), 0);
    CU_ASSERT_EQUAL(memlen, 18);
    fclose(f);
    CU_ASSERT_STRING_EQUAL(mem, "{\"domain\":\"web1\"}\n");
    free(mem);
    colo_json_free(j);

    /* Out of memory at colo_json_new(): the calls do nothing, the finish
     * says so. */
    colo_json_put_str(NULL, "a", "b");
    colo_json_put_u64(NULL, "a", 1);
    colo_json_put_bool(NULL, "a", true);
    CU_ASSERT_EQUAL(colo_json_finish(NULL, &buf, &len), -ENOMEM);
    CU_ASSERT_EQUAL(colo_json_print(NULL, stdout), -ENOMEM);
    colo_json_free(NULL);
}

int main(void)
{
    static const struct unit_test tests[] = {
        { "encode: the exact text", test_encode },
        { "round trip of every field", test_round_trip },
        { "other members, any order", test_other_members },
        { "malformed JSON", test_malformed },
        { "a comment, which could hide nesting", test_comment },
        { "missing field", test_missing },
        { "wrong type", test_wrong_type },
        { "number out of range", test_out_of_range },
        { "string too long", test_too_long },
        { "unknown names", test_unknown_names },
        { "duplicate field", test_duplicate },
        { "disks", test_disks },
        { "JSON writer", test_json_writer },
        { NULL, NULL },
    };
    return unit_run("status", NULL, NULL, tests);
}
