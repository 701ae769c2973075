#!/usr/bin/env python3
"""cli-options.py - xl-colo's options: its help, its parser and its man page
agree.

    cli-options.py SRCDIR          (xl-colo on PATH)

xl-colo builds getopt_long's arrays and its help from one table per command
(xl-plugin/xl_colo_cmdtable.c), so this checks what could still drift:
1. every getopt_long of xl-plugin/ goes through that builder
   (xl_colo_options.c), so getopt accepts nothing the help does not list;
2. every option `xl-colo help [CMD]` lists is accepted by getopt (it is run
   with the option, and must not call it unknown or misuse its value);
3. docs/xl-colo.1 documents every option of the help, in the command's
   section or (for the options every command takes, -j and -h) among the
   global options, and documents no option that the help does not list;
4. where both give a default for an option, it is the same.
Prints each disagreement; exit status 1 if there is one.
"""
import os
import re
import subprocess
import sys

SRC = sys.argv[1]
failures = []


def fail(msg):
    failures.append(msg)
    print('FAIL: ' + msg)


def xl_colo(*args):
    p = subprocess.run(['xl-colo'] + list(args), stdin=subprocess.DEVNULL,
                       capture_output=True, text=True, timeout=30)
    return p.returncode, p.stdout, p.stderr


# --- the help -------------------------------------------------------------

OPTION_LINE = re.compile(r'^  (?:-(\w), )?--([a-z-]+)(?: (\S+))?\s{2,}(.*)$')


def default_of(text):
    m = re.search(r'\bdefault (\S+?)[.,;]?(?:\s|$)', text)
    return m.group(1) if m else None


def help_options(cmd):
    """[(short, long, arg, default)] of `xl-colo help [cmd]`."""
    rc, out, err = xl_colo('help', *([cmd] if cmd else []))
    if rc != 0:
        fail('xl-colo help %s exits %d: %s' % (cmd, rc, err.strip()))
    opts = []
    for line in out.splitlines():
        m = OPTION_LINE.match(line)
        if m:
            opts.append((m.group(1), m.group(2), m.group(3), default_of(m.group(4))))
    return opts


rc, out, _ = xl_colo('help')
commands = re.findall(r'^  ([a-z]+) {2,}', out, re.M)
if not commands:
    fail('xl-colo help lists no command')
helps = {None: help_options(None)}
for cmd in commands:
    helps[cmd] = help_options(cmd)

# --- 1. one getopt_long, built from the tables ------------------------------

plugin = os.path.join(SRC, 'xl-plugin')
for name in sorted(os.listdir(plugin)):
    if not name.endswith('.c') or name == 'xl_colo_options.c':
        continue
    text = re.sub(r'/\*.*?\*/|//[^\n]*', '', open(os.path.join(plugin, name)).read(),
                  flags=re.S)
    if re.search(r'\bgetopt(_long)?\s*\(|\bstruct option\b', text):
        fail('xl-plugin/%s parses options itself: they must come from a table '
             '(opt_parser, xl_colo_options.c)' % name)

# --- 2. getopt accepts what the help lists ----------------------------------

for cmd, opts in helps.items():
    for short, long, arg, _ in opts:
        val = [] if not arg else ['sim' if arg == 'sim|xen' else '1']
        for spelling in ['--' + long] + (['-' + short] if short else []):
            if cmd is None:   # a global option, then a harmless command
                argv = [spelling] + val + ['help']
            else:             # too many operands: stops before anything runs
                argv = [cmd, spelling] + val + ['x', 'y', 'z']
            rc, _, err = xl_colo(*argv)
            if re.search(r'unknown option|needs a value|takes no value', err):
                fail('xl-colo %s: the help lists it, getopt refuses it: %s'
                     % (' '.join(argv), err.splitlines()[0]))

# --- 3, 4. the man page -----------------------------------------------------


def roff_text(s):
    s = re.sub(r'\\f[BIRP]', '', s)
    s = s.replace('\\-', '-').replace('"', '')
    return re.sub(r'^\.(B|BR|BI|IR|RB|RI|I)\s+', '', s)


def man_sections(path):
    """{section: [(header options, body)]} for the .TP entries of each
    .SH / .SS section."""
    sections, cur, entry = {}, None, None
    lines = open(path).read().splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith(('.SH ', '.SS ')):
            cur = line[4:].strip().strip('"')
            sections.setdefault(cur, [])
            entry = None
        elif line.startswith('.TP') and cur is not None and i + 1 < len(lines):
            i += 1
            header = roff_text(lines[i])
            entry = [re.findall(r'--([a-z][a-z-]*)', header), '']
            sections[cur].append(entry)
        elif line.startswith(('.PP', '.RS', '.nf')):
            entry = None
        elif entry is not None:
            entry[1] += ' ' + roff_text(line)
        i += 1
    return sections


man = man_sections(os.path.join(SRC, 'docs', 'xl-colo.1'))
global_man = man.get('GLOBAL OPTIONS', [])


def man_entry(section, long):
    for names, body in man.get(section, []):
        if long in names:
            return body
    return None


for cmd, opts in helps.items():
    section = 'GLOBAL OPTIONS' if cmd is None else cmd
    where = 'xl-colo help %s' % (cmd or '')
    for short, long, arg, dflt in opts:
        body = man_entry(section, long)
        if body is None and cmd is not None and long in ('json', 'help'):
            body = man_entry('GLOBAL OPTIONS', long)
        if body is None:
            fail('docs/xl-colo.1 does not document --%s (%s)' % (long, where))
            continue
        mdflt = default_of(body)
        if dflt is not None and mdflt is not None and dflt != mdflt:
            fail('--%s: %s says default %s, docs/xl-colo.1 says %s'
                 % (long, where, dflt, mdflt))
    listed = {o[1] for o in opts}
    for names, _ in man.get(section, []):
        for long in names:
            if long not in listed:
                fail('docs/xl-colo.1 documents --%s in %s, which %s does not list'
                     % (long, section, where))

sys.exit(1 if failures else 0)
