/*
 * xcolo-junit - turn the real-Xen harness's result lines into JUnit XML.
 *
 *   xcolo-junit RESULTS OUT.xml [SUITE]
 *
 * RESULTS holds lines "XCOLO: KIND NAME TEXT" (tests/xen/run.sh collects them
 * from the serial console): PASS, FAIL and SKIP become test cases, FIGURE
 * lines ("XCOLO: FIGURE NAME VALUE UNIT") become properties of the suite.
 * Exit status 0 when the XML was written.
 */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <libxml/tree.h>
#include <libxml/xmlsave.h>

static void chomp(char *s)
{
    size_t n = strlen(s);
    while (n && (s[n - 1] == '\n' || s[n - 1] == '\r'))
        s[--n] = '\0';
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: xcolo-junit RESULTS OUT.xml [SUITE]\n");
        return 2;
    }
    FILE *in = fopen(argv[1], "r");
    if (!in) {
        fprintf(stderr, "xcolo-junit: %s: %s\n", argv[1], strerror(errno));
        return 1;
    }
    const char *suite_name = argc > 3 ? argv[3] : "check-xen";
    xmlDocPtr doc = xmlNewDoc(BAD_CAST "1.0");
    xmlNodePtr root = xmlNewNode(NULL, BAD_CAST "testsuites");
    xmlDocSetRootElement(doc, root);
    xmlNodePtr suite = xmlNewChild(root, NULL, BAD_CAST "testsuite", NULL);
    xmlNewProp(suite, BAD_CAST "name", BAD_CAST suite_name);
    xmlNodePtr props = xmlNewChild(suite, NULL, BAD_CAST "properties", NULL);
    unsigned tests = 0, failures = 0, skipped = 0;
    char line[4096];

    while (fgets(line, sizeof(line), in)) {
        char kind[16], name[256];
        int off = 0;
        chomp(line);
        if (sscanf(line, "XCOLO: %15s %255s %n", kind, name, &off) < 2)
            continue;
        const char *text = off ? line + off : "";
        if (strcmp(kind, "FIGURE") == 0) {
            xmlNodePtr p = xmlNewChild(props, NULL, BAD_CAST "property", NULL);
            xmlNewProp(p, BAD_CAST "name", BAD_CAST name);
            xmlNewProp(p, BAD_CAST "value", BAD_CAST text);
            continue;
        }
        bool pass = strcmp(kind, "PASS") == 0, fail = strcmp(kind, "FAIL") == 0,
             skip = strcmp(kind, "SKIP") == 0;
        if (!pass && !fail && !skip)
            continue;
        char tcname[512];
        /* A result's own title is its text up to the first ':' (if short). */
        const char *colon = strchr(text, ':');
        if (pass && colon && colon - text < 40)
            snprintf(tcname, sizeof(tcname), "%s: %.*s", name, (int)(colon - text), text);
        else if (pass)
            snprintf(tcname, sizeof(tcname), "%s", name);
        else
            snprintf(tcname, sizeof(tcname), "%s: %.*s", name,
                     colon && colon - text < 40 ? (int)(colon - text) : 40, text);
        xmlNodePtr tc = xmlNewChild(suite, NULL, BAD_CAST "testcase", NULL);
        xmlNewProp(tc, BAD_CAST "classname", BAD_CAST suite_name);
        xmlNewProp(tc, BAD_CAST "name", BAD_CAST tcname);
        tests++;
        if (fail) {
            xmlNodePtr f = xmlNewChild(tc, NULL, BAD_CAST "failure", NULL);
            xmlNewProp(f, BAD_CAST "message", BAD_CAST text);
            failures++;
        } else if (skip) {
            xmlNodePtr s = xmlNewChild(tc, NULL, BAD_CAST "skipped", NULL);
            xmlNewProp(s, BAD_CAST "message", BAD_CAST text);
            skipped++;
        } else {
            xmlNewTextChild(tc, NULL, BAD_CAST "system-out", BAD_CAST text);
        }
    }
    fclose(in);
    char num[32];
    snprintf(num, sizeof(num), "%u", tests);
    xmlNewProp(suite, BAD_CAST "tests", BAD_CAST num);
    snprintf(num, sizeof(num), "%u", failures);
    xmlNewProp(suite, BAD_CAST "failures", BAD_CAST num);
    snprintf(num, sizeof(num), "%u", skipped);
    xmlNewProp(suite, BAD_CAST "skipped", BAD_CAST num);
    xmlNewProp(suite, BAD_CAST "errors", BAD_CAST "0");
    int r = xmlSaveFormatFileEnc(argv[2], doc, "UTF-8", 1);
    xmlFreeDoc(doc);
    if (r < 0) {
        fprintf(stderr, "xcolo-junit: cannot write %s\n", argv[2]);
        return 1;
    }
    return 0;
}
