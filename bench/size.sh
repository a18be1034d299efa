#!/usr/bin/env bash
# What takes the space in the static binaries: for each one, its size in bytes and MiB, the
# link map's bytes grouped by origin (libstdc++'s locale/iostream/regex, the rest of libstdc++,
# glibc, libseccomp, nlohmann json, the runtime's namespaces, ...) and the 15 biggest symbols.
#
#   bench/size.sh [BINARY...]     (./build.sh size [BINARY...])
#
# Default: the native build (build/droidspaces) and the cross builds of ./build.sh dist
# (build-<arch>/droidspaces) that exist. Each binary's link map is BINARY.map (written by every
# build, -Wl,-Map; the binary itself is stripped). Sizes are of allocated, file-backed input
# sections (.bss is left out: it takes no space in the file); with LTO the runtime's own code
# comes from ltrans objects, so it is attributed by symbol name, not by source file.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD_DIR=${BUILD_DIR:-$ROOT/build}

bins=("$@")
if [ ${#bins[@]} -eq 0 ]; then
    for b in "$BUILD_DIR/droidspaces" "$ROOT"/build-{aarch64,armhf,x86_64,x86}/droidspaces; do
        [ -f "$b" ] && bins+=("$b")
    done
fi
if [ ${#bins[@]} -eq 0 ]; then
    echo "size: no binary found: run ./build.sh (and ./build.sh dist) first" >&2
    exit 1
fi
command -v c++filt >/dev/null || {
    echo "size: c++filt not found (binutils)" >&2
    exit 1
}

for bin in "${bins[@]}"; do
    if [ ! -f "$bin" ]; then
        echo "size: $bin: no such file" >&2
        exit 1
    fi
    machine=$(readelf -hW "$bin" | sed -n 's/^ *Machine: *//p')
    bytes=$(stat -c %s "$bin")
    awk -v b="$bytes" -v n="${bin#"$ROOT"/}" -v m="$machine" \
        'BEGIN { printf "== %s (%s): %d bytes, %.2f MiB\n", n, m, b, b / 1048576 }'
    if [ ! -f "$bin.map" ]; then
        echo "   no link map at $bin.map (rebuild: every build writes one)"
        continue
    fi
    python3 - "$bin.map" <<'PY'
import re, subprocess, sys
from collections import defaultdict

# Output sections that take no space in the file, or are stripped.
SKIP = re.compile(r'^\.(t?bss|comment|note\.gnu\.build-id|debug|stab|gnu\.attributes|ARM\.attributes)')
# libstdc++.a members that are the locale and iostream machinery (facets, streams, ios_base).
LOCALE = re.compile(r'locale|facet|codecvt|ctype|ios|stream|messages|monetary|numeric|time_members|'
                    r'compatibility-ldbl|globals_io')

entries = []  # (output section, input section, file, [(addr, symbol)], addr, size)
with open(sys.argv[1], errors='replace') as f:
    lines = f.read().split('\n')
try:
    start = lines.index('Linker script and memory map') + 1
except ValueError:
    sys.exit('   not a GNU ld map: ' + sys.argv[1])
out_sec = ''
pending = None
cur = None
for line in lines[start:]:
    if not line:
        continue
    if line[0] not in ' *':
        out_sec = line.split()[0]
        cur = None
        continue
    m = re.match(r'^ (\S+)\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+(.+)$', line)
    if m:
        cur = [out_sec, m.group(1), m.group(4).strip(), [], int(m.group(2), 16), int(m.group(3), 16)]
        entries.append(cur)
        pending = None
        continue
    m = re.match(r'^ (\S+)$', line)
    if m:
        pending = m.group(1)
        cur = None
        continue
    m = re.match(r'^\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+(.+)$', line)
    if m and pending:
        cur = [out_sec, pending, m.group(3).strip(), [], int(m.group(1), 16), int(m.group(2), 16)]
        entries.append(cur)
        pending = None
        continue
    m = re.match(r'^\s+0x([0-9a-f]+)\s+(\S+)$', line)
    if m and cur is not None:
        cur[3].append((int(m.group(1), 16), m.group(2)))

# Each input section split into its symbols (by address); unnamed ones keep the section name.
pieces = []  # (file, output section, mangled name or '', size)
for out, sec, fname, syms, addr, size in entries:
    if size == 0 or SKIP.match(out) or SKIP.match(sec) or fname.startswith('load address'):
        continue
    syms = sorted(s for s in syms if addr <= s[0] < addr + size)
    if not syms:
        m = re.match(r'^\.(?:text|rodata|data\.rel\.ro|data|gcc_except_table)(?:\.(?:unlikely|hot|startup|exit))?\.(.+)$', sec)
        name = m.group(1) if m else ''
        if re.match(r'^(str|cst)\d+(\.\d+)?$', name):  # merged string/constant pools
            name = ''
        pieces.append((fname, out, name, size))
        continue
    if syms[0][0] > addr:
        pieces.append((fname, out, '', syms[0][0] - addr))
    for i, (a, name) in enumerate(syms):
        end = syms[i + 1][0] if i + 1 < len(syms) else addr + size
        pieces.append((fname, out, name, end - a))

names = sorted({p[2] for p in pieces if p[2]})
demangled = dict(zip(names, subprocess.run(['c++filt'], input='\n'.join(names), capture_output=True,
                                           text=True, check=True).stdout.split('\n')))

def group(fname, name):
    dm = demangled.get(name, name)
    member = re.search(r'\(([^)]+)\)$', fname)
    lib = fname.rsplit('/', 1)[-1].split('(')[0]
    if lib.startswith('libstdc++') or lib.startswith('libsupc++'):
        obj = member.group(1) if member else ''
        if 'regex' in obj:
            return 'libstdc++ regex'
        if LOCALE.search(obj):
            return 'libstdc++ locale/iostream'
        return 'libstdc++ other'
    if lib.startswith('libc.a') or lib.startswith('libpthread') or lib.startswith('libm.a'):
        return 'glibc'
    if lib.startswith('libseccomp'):
        return 'libseccomp'
    if lib.startswith('libgcc'):
        return 'libgcc'
    if re.match(r'crt|Scrt', lib):
        return 'glibc'
    # The runtime's own objects (ltrans with LTO): by what the code belongs to.
    if 'nlohmann' in dm:
        return 'nlohmann json'
    if 'httplib' in dm:
        return 'cpp-httplib'
    if 'regex' in dm or '__detail::_Executor' in dm or '_Compiler' in dm or '_NFA' in dm:
        return 'libstdc++ regex (instantiated)'
    if re.search(r'basic_(i|o|io|string)stream|basic_streambuf|locale|num_put|num_get|ctype', dm):
        return 'libstdc++ locale/iostream (instantiated)'
    m = re.match(r'^(?:(?:typeinfo|vtable|VTT|guard variable|construction vtable)(?: name)? for |'
                 r'transaction clone for )?(?:(?:non-)?virtual thunk to )?'
                 r'(?:[\w:<>,* ]*\s)?ds::(\w+)::', dm)
    if m and m.group(1)[0].islower():
        return 'ds::' + m.group(1)
    if m:
        return 'ds (core types)'
    if dm.startswith('ds::') or re.match(r'^(?:typeinfo|vtable)(?: name)? for ds::', dm):
        return 'ds (other)'
    if dm.startswith('std::') or 'std::' in dm.split('(')[0]:
        return 'libstdc++ templates (instantiated)'
    if dm == 'main':
        return 'ds (other)'
    if not name:
        return 'runtime, unnamed (strings, constants, tables)'
    return 'runtime, other symbols'

totals = defaultdict(int)
by_symbol = defaultdict(int)
for fname, out, name, size in pieces:
    totals[group(fname, name)] += size
    if name:
        by_symbol[(demangled.get(name, name), group(fname, name))] += size
total = sum(totals.values())
print(f'   {"group":<44}{"bytes":>10}{"KiB":>9}{"%":>7}')
for g, size in sorted(totals.items(), key=lambda kv: -kv[1]):
    print(f'   {g:<44}{size:>10}{size / 1024:>9.1f}{100 * size / total:>6.1f}%')
print(f'   {"total (allocated, file-backed)":<44}{total:>10}{total / 1024:>9.1f}')
# Why the locale/iostream/regex parts of libstdc++ are in: the members the runtime's own objects
# reference directly (the rest follows from these).
pulls = []
in_block = False
member = None
for line in lines:
    if line.startswith('Archive member included'):
        in_block = True
        continue
    if line.startswith('Discarded input sections') or line.startswith('Memory Configuration'):
        break
    if not in_block or not line.strip():
        continue
    if not line.startswith(' '):
        parts = line.split(None, 1)
        member = parts[0]
        rest = parts[1] if len(parts) > 1 else ''
    else:
        rest = line.strip()
    if not rest or member is None:
        continue
    m = re.match(r'^(\S+)(?: \(symbol from plugin\))? \((.*)\)$', rest)
    if not m or '.a(' in m.group(1) or m.group(1).endswith('.a'):
        continue
    g = group(member, '')
    if g.startswith('libstdc++ locale') or g.startswith('libstdc++ regex'):
        obj = re.search(r'\(([^)]+)\)$', member)
        pulls.append((obj.group(1) if obj else member, m.group(1).rsplit('/', 1)[-1], m.group(2)))
if pulls:
    print('   libstdc++ locale/iostream/regex pulled in by the runtime\'s objects:')
    for obj, ref, sym in pulls:
        sym = sym if len(sym) <= 70 else sym[:67] + '...'
        print(f'     {obj:<24} <- {ref:<22} {sym}')
print('   top 15 symbols:')
for (name, g), size in sorted(by_symbol.items(), key=lambda kv: -kv[1])[:15]:
    short = name if len(name) <= 90 else name[:87] + '...'
    print(f'   {size:>9}  {short}  [{g}]')
PY
done
