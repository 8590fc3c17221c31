#!/usr/bin/env python3
# Would the unit's sandbox stop the daemon? Without systemd as PID 1 the unit cannot run here, so this
# reads an `strace -f` of the daemon under a workload and checks it against the unit's settings:
# every system call allowed by its SystemCallFilter= lines (groups expanded by systemd-analyze),
# only the RestrictAddressFamilies= families, nothing MemoryDenyWriteExecute= refuses, no file opened
# for writing (ProtectSystem=strict) and no /proc file outside the process's own (ProcSubset=pid).
# usage: trace_check.py UNIT_FILE ALMANAC TRACE_FILE...   — prints "ok NAME" / "FAIL NAME: why" lines.
import re
import subprocess
import sys

unit_path, almanac, trace_paths = sys.argv[1], sys.argv[2], sys.argv[3:]
failed = False


def check(name, cond, why=""):
    global failed
    failed |= not cond
    print(("ok   " if cond else "FAIL ") + name + ("" if cond else f": {why}"), flush=True)


# --- the unit's settings
settings = {}
for line in open(unit_path):
    line = line.strip()
    if line and not line.startswith(("#", ";", "[")) and "=" in line:
        key, value = line.split("=", 1)
        settings.setdefault(key, []).append(value)

groups = {}
current = None
for line in subprocess.run(["systemd-analyze", "syscall-filter"], capture_output=True, text=True,
                           check=True).stdout.splitlines():
    if line.startswith("@"):  # a group's name starts its line; its members are indented
        current = groups.setdefault(line.strip(), set())
    elif line.strip() and not line.strip().startswith("#") and current is not None:
        current.add(line.strip())


def expand(names, seen=()):
    out = set()
    for n in names:
        if n.startswith("@"):
            if n not in seen:
                out |= expand(groups.get(n, ()), seen + (n,))
        else:
            out.add(n)
    return out


allowed, denied = set(), set()
for value in settings.get("SystemCallFilter", []):
    deny = value.startswith("~")
    names = value.lstrip("~").split()
    (denied if deny else allowed).update(expand(names))
permitted = allowed - denied if allowed else None
check("the unit has a system call allow list", permitted, settings.get("SystemCallFilter"))

families = set()
for value in settings.get("RestrictAddressFamilies", []):
    families.update(value.split())

# --- the trace: only what the daemon did (after systemd-socket-activate exec'd it, all threads).
call = re.compile(r"^(\d+)\s+(?:<\.\.\. )?([a-z_0-9]+)(?:\(| resumed>)(.*)$")
lines = []
for trace_path in trace_paths:
    traced = open(trace_path, encoding="utf-8", errors="replace").read().splitlines()
    start = next((i for i, l in enumerate(traced)
                  if re.search(r'execve\("' + re.escape(almanac) + r'".* = 0$', l)), None)
    check(f"{trace_path.rsplit('/', 1)[-1]} holds the daemon's exec", start is not None, trace_path)
    lines += traced[start:] if start is not None else []
used = {}
for l in lines:
    m = call.match(l)
    if m:
        used.setdefault(m.group(2), m.group(3))
check(f"the trace holds a workload ({len(lines)} lines, {len(used)} distinct system calls)",
      len(used) > 30 and {"accept4", "accept"} & set(used) and "inotify_add_watch" in used and "sendmsg" in used,
      sorted(used))

if permitted:
    outside = sorted(set(used) - permitted - {"execve"})  # execve is the exec into almanac itself
    check("every system call is allowed by SystemCallFilter=", not outside,
          {name: used[name][:80] for name in outside})

opened_families = set(re.findall(r"\bsocket\((AF_[A-Z0-9]+)", "\n".join(lines)))
check(f"socket families {sorted(opened_families)} ⊆ RestrictAddressFamilies=",
      opened_families and opened_families <= families, f"allowed: {sorted(families)}")

wx = [l for l in lines if re.search(r"\bmprotect\(.*PROT_EXEC", l)
      or re.search(r"\bmmap\(.*PROT_WRITE\|PROT_EXEC|\bmmap\(.*PROT_EXEC\|PROT_WRITE", l)]
check("no writable+executable memory (MemoryDenyWriteExecute=)", not wx, wx[:3])

writes = [l for l in lines if re.search(r"\bopenat\(.*(O_WRONLY|O_RDWR|O_CREAT)", l)
          and not re.search(r'"/dev/null"', l)]
check("no file opened for writing (ProtectSystem=strict, DynamicUser=)", not writes, writes[:3])

# glibc's malloc reads /proc/sys/vm/overcommit_memory and does without it when hidden.
procs = [l for l in lines if re.search(r'\bopenat\([^"]*"/proc/(?!self/|thread-self/|\d+/|sys/vm/overcommit_memory")', l)]
check("no /proc file beyond the process's own (ProcSubset=pid)", not procs, procs[:3])

sys.exit(1 if failed else 0)
