#!/usr/bin/env python3
"""layers.py - the layering of xen-colo, checked (docs/architecture.md).

    layers.py SRCDIR [BUILDDIR]

1. Includes. Every `#include "..."` of libxl-colo/, xl-plugin/, tools/ and
   tests/ is resolved as the compiler does (the including file's folder,
   then -I libxl-colo, then the build's config.h), and
   - a folder includes only the folders below it (ALLOWED);
   - a header of libxl-colo/ is named by its path from there
     ("stream/stream.h", not "stream.h"), so the layer shows in each line;
   - no file includes itself again through others (no include cycle).
2. Calls. With BUILDDIR, the relocations of each object file say which
   functions of which other object files its code calls; within each
   program or library
   - calls between folders follow the same rules as the includes;
   - no file calls back into a file that calls it (no call cycle).
   A call is a reference from code to a function. The tables of function
   pointers (a backend's ops table, the list of backends, xl-colo's command
   table) are where functions register, not calls: they are data, and
   taking a table's address is no call either.

Prints the graphs between folders, then every violation as FILE:LINE: why.
Exit status 0 when the layering holds, 1 when it does not, 99 when it
cannot be checked.
"""
import os
import re
import subprocess
import sys

LIB = 'libxl-colo'

# folder -> folders it may include and call. Longest prefix wins.
FOLDERS = [
    ('libxl-colo/backend/sim', 'backend/sim'),
    ('libxl-colo/backend/xen', 'backend/xen'),
    ('libxl-colo/backend', 'backend'),
    ('libxl-colo/control', 'control'),
    ('libxl-colo/engine', 'engine'),
    ('libxl-colo/stream', 'stream'),
    ('libxl-colo/qmp', 'qmp'),
    ('libxl-colo/arbiter', 'arbiter'),
    ('libxl-colo/block', 'block'),
    ('libxl-colo/proxy/service', 'proxy/service'),
    ('libxl-colo/proxy/datapath', 'proxy/datapath'),
    ('libxl-colo/proxy', 'proxy'),
    ('libxl-colo', 'top'),
    ('xl-plugin', 'xl-plugin'),
    ('tools/simguest', 'tools/simguest'),
    ('tools/proxy', 'tools/proxy'),
    ('tools/datapath', 'tools/datapath'),
    ('tools/bench', 'tools/bench'),
]
LAYERS = ['top', 'stream', 'qmp', 'arbiter', 'proxy', 'proxy/service', 'proxy/datapath', 'block', 'backend', 'backend/sim', 'backend/xen', 'control', 'engine']
ALLOWED = {
    'top': set(),
    'stream': {'top'},
    'qmp': {'top'},
    'arbiter': {'top'},
    'proxy': {'top'},
    'proxy/service': {'proxy', 'top'},
    # the network around the proxy, on real interfaces: the framing of
    # proxy/service/ (its reader), the checksum of proxy/, the link between
    # two hosts' datapaths of stream/ (an authenticated stream)
    'proxy/datapath': {'proxy/service', 'proxy', 'stream', 'top'},
    'block': {'qmp', 'stream', 'top'},
    'backend': {'top'},
    'backend/sim': {'backend', 'top'},
    'backend/xen': {'backend', 'qmp', 'top'},
    'control': {'top'},
    'engine': {'stream', 'backend', 'control', 'block', 'proxy', 'proxy/service', 'proxy/datapath', 'arbiter', 'top'},
    # the command line links the public library only, and builds in itself
    # the JSON helpers and the status codec (XL_PLUGIN_HEADERS)
    'xl-plugin': {'top', 'control'},
    # the simulated guest builds digest.c and sim-proto.c, nothing else
    'tools/simguest': {'backend', 'backend/sim', 'top'},
    # colo-proxy: the proxy service, run as a daemon
    'tools/proxy': {'proxy/service', 'proxy', 'top'},
    # colo-datapath: the datapath, run as a daemon
    'tools/datapath': {'proxy/datapath', 'proxy/service', 'top'},
    'tools/bench': set(LAYERS),
}
# What of libxl-colo/ xl-plugin may include: the public header, macro.h,
# and the two files it builds in itself, which need only yajl and the
# public API: the JSON helpers and the status codec.
XL_PLUGIN_HEADERS = {'libxlcolo.h', 'macro.h', 'json.h', 'control/status_codec.h'}
ORDER = LAYERS + ['xl-plugin', 'tools/simguest', 'tools/proxy', 'tools/datapath', 'tools/bench']

INCLUDE_RE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')


def folder_of(rel):
    """The layer of a path relative to SRCDIR, or its folder for tests."""
    d = os.path.dirname(rel)
    for prefix, name in FOLDERS:
        if d == prefix or d.startswith(prefix + '/'):
            return name
    return d  # tests/unit, tests/xen, ...: may use any layer


def source_files(src):
    out = []
    for top in (LIB, 'xl-plugin', 'tools', 'tests'):
        for dp, dn, fn in os.walk(os.path.join(src, top)):
            dn.sort()
            for f in sorted(fn):
                if f.endswith(('.c', '.h')):
                    out.append(os.path.relpath(os.path.join(dp, f), src))
    return out


def resolve(src, build, includer, name):
    """The file a quoted include names, relative to SRCDIR; '' for config.h,
    None if nothing matches."""
    for base in (os.path.dirname(includer), LIB):
        cand = os.path.normpath(os.path.join(base, name))
        if os.path.isfile(os.path.join(src, cand)):
            return cand
    if name == 'config.h':
        return ''
    return None


def cycles(graph):
    """Strongly connected components of more than one node (Tarjan),
    each as a list of nodes in a cycle order."""
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]
    sys.setrecursionlimit(10000)

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(one_cycle(graph, set(comp)))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def one_cycle(graph, comp):
    """A path start -> ... -> start inside a strongly connected set."""
    start = min(comp)
    prev, frontier = {start: None}, [start]
    while frontier:
        nxt = []
        for v in frontier:
            for w in sorted(graph.get(v, ())):
                if w == start:
                    path = [v]
                    while prev[path[-1]] is not None:
                        path.append(prev[path[-1]])
                    return list(reversed(path)) + [start]
                if w in comp and w not in prev:
                    prev[w] = v
                    nxt.append(w)
        frontier = nxt
    return sorted(comp)


def print_folder_graph(title, edges):
    print(title)
    names = sorted({a for a, _ in edges} | {b for _, b in edges} | set(LAYERS),
                   key=lambda n: (ORDER.index(n) if n in ORDER else len(ORDER), n))
    for a in names:
        outs = sorted({b for x, b in edges if x == a and b != a},
                      key=lambda n: (n == 'top', ORDER.index(n) if n in ORDER else len(ORDER), n))
        print('  %-15s -> %s' % (a, ' '.join(outs)))


def check_includes(src, build, errors):
    files = source_files(src)
    graph = {f: set() for f in files}
    where = {}
    folder_edges = set()
    n = 0
    for f in files:
        with open(os.path.join(src, f), errors='replace') as fh:
            lines = fh.read().split('\n')
        fa = folder_of(f)
        for lineno, line in enumerate(lines, 1):
            m = INCLUDE_RE.match(line)
            if not m:
                continue
            name = m.group(1)
            to = resolve(src, build, f, name)
            if to == '':
                continue
            n += 1
            if to is None:
                errors.append('%s:%d: #include "%s": no such file' % (f, lineno, name))
                continue
            graph[f].add(to)
            where.setdefault((f, to), lineno)
            fb = folder_of(to)
            if fb != fa:
                folder_edges.add((fa, fb))
            if to.startswith(LIB + '/'):
                written = os.path.relpath(to, LIB)
                if name != written:
                    errors.append('%s:%d: #include "%s": name it "%s", with its folder'
                                  % (f, lineno, name, written))
            if fa in ALLOWED and fb != fa and fb not in ALLOWED[fa]:
                errors.append('%s:%d: #include "%s": %s may not include %s (%s may include: %s)'
                              % (f, lineno, name, fa, fb, fa,
                                 ' '.join(sorted(ALLOWED[fa])) or 'nothing'))
            if (fa == 'xl-plugin' and to.startswith(LIB + '/')
                    and os.path.relpath(to, LIB) not in XL_PLUGIN_HEADERS):
                errors.append('%s:%d: #include "%s": xl-plugin uses the public API only (%s)'
                              % (f, lineno, name, ', '.join(sorted(XL_PLUGIN_HEADERS))))
    for cyc in cycles(graph):
        a, b = cyc[0], cyc[1]
        errors.append('%s:%d: include cycle: %s' % (a, where[(a, b)], ' -> '.join(cyc)))
    print_folder_graph('include graph between folders (A -> the folders A includes):',
                       folder_edges)
    return len(files), n


def run(cmd):
    return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout


def objects(src, build):
    """{unit: {source: object}} for the objects of the current sources."""
    units = {}
    for top in (LIB, 'xl-plugin', 'tools'):
        for dp, dn, fn in os.walk(os.path.join(build, top)):
            for f in fn:
                if not f.endswith('.o') or '-' not in f:
                    continue
                unit, stem = f[:-2].split('-', 1)
                d = os.path.relpath(dp, build)
                if os.path.basename(d) == '.libs':
                    d = os.path.dirname(d)
                source = os.path.normpath(os.path.join(d, stem + '.c'))
                if not os.path.isfile(os.path.join(src, source)):
                    continue  # left behind by a file that moved
                units.setdefault(unit, {})[source] = os.path.join(dp, f)
    # automake names a program's objects outside its folder with the
    # folder's prefix (tools_simguest_colo_simguest-digest.o): one unit.
    for u in sorted(units, key=len, reverse=True):
        for v in units:
            if u != v and u.endswith('_' + v):
                units[v].update(units.pop(u))
                break
    return units


def check_calls(src, build, errors):
    try:
        run(['readelf', '--version'])
        run(['nm', '--version'])
    except (OSError, subprocess.CalledProcessError):
        print('error: readelf and nm (binutils) are needed', file=sys.stderr)
        sys.exit(99)
    units = objects(src, build)
    if 'libcolo_la' not in units:
        print('error: no objects of libcolo.la under %s: build first' % build, file=sys.stderr)
        sys.exit(99)
    folder_edges = {}
    nobj = 0
    for unit in sorted(units):
        objs = units[unit]
        nobj += len(objs)
        defined = {}
        for source, obj in objs.items():
            for line in run(['nm', '-g', '--defined-only', obj]).splitlines():
                p = line.split()
                if len(p) == 3 and p[1] in 'TW':  # functions
                    defined[p[2]] = source
        graph, why = {s: set() for s in objs}, {}
        for source, obj in objs.items():
            section = ''
            for line in run(['readelf', '-rW', obj]).splitlines():
                m = re.match(r"Relocation section '([^']+)'", line)
                if m:
                    section = m.group(1)
                    continue
                if not re.match(r'\.rela?\.text', section):
                    continue  # data (tables of pointers), debug info
                p = line.split()
                if len(p) < 5 or not re.match(r'^[0-9a-f]+$', p[0]):
                    continue
                to = defined.get(p[4])
                if to and to != source:
                    graph[source].add(to)
                    why.setdefault((source, to), set()).add(p[4])
        edges = folder_edges.setdefault(unit, set())
        for a in sorted(graph):
            fa = folder_of(a)
            for b in sorted(graph[a]):
                fb = folder_of(b)
                if fa == fb:
                    continue
                edges.add((fa, fb))
                if fa in ALLOWED and fb not in ALLOWED[fa]:
                    errors.append('%s: calls %s (%s) in %s: %s may not call %s'
                                  % (a, ', '.join(sorted(why[(a, b)])), b, fb, fa, fb))
        for cyc in cycles(graph):
            steps = ['%s -(%s)-> %s' % (x, ', '.join(sorted(why[(x, y)])[:3]), y)
                     for x, y in zip(cyc, cyc[1:])]
            errors.append('%s: call cycle: %s' % (cyc[0], '; '.join(steps)))
    print_folder_graph('call graph between folders in libcolo.la '
                       '(A -> the folders whose functions A calls):',
                       folder_edges.get('libcolo_la', set()))
    return nobj


def main():
    if len(sys.argv) not in (2, 3):
        print(__doc__.split('\n\n')[1], file=sys.stderr)
        sys.exit(99)
    src = os.path.abspath(sys.argv[1])
    build = os.path.abspath(sys.argv[2]) if len(sys.argv) == 3 else None
    if not os.path.isdir(os.path.join(src, LIB)):
        print('error: %s has no %s/' % (src, LIB), file=sys.stderr)
        sys.exit(99)
    errors = []
    nfiles, nincl = check_includes(src, build, errors)
    nobj = check_calls(src, build, errors) if build else 0
    print('%d files, %d includes%s' % (nfiles, nincl,
          ', %d objects' % nobj if build else ' (no build: calls not checked)'))
    for e in errors:
        print(e)
    if errors:
        print('FAIL: %d violation(s) of the layering (docs/architecture.md)' % len(errors))
        sys.exit(1)
    print('ok: every include and call runs one way, without a cycle')


if __name__ == '__main__':
    main()
