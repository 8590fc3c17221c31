#!/usr/bin/env python3
# The sd_notify protocol as systemd sees it, without systemd: binds the AF_UNIX datagram socket that
# NOTIFY_SOCKET names, starts `almanac serve` the way a Type=notify unit with WatchdogSec= does
# (WATCHDOG_USEC, and WATCHDOG_PID = the daemon's own pid), and checks every message and its sender.
# usage: notify_check.py ALMANAC CONFIG WORKDIR   — prints "ok NAME" / "FAIL NAME: why" lines.
import os
import re
import signal
import socket
import struct
import subprocess
import sys
import time
import urllib.request

almanac, config, workdir = sys.argv[1:4]
WATCHDOG_USEC = 200_000
START_DEADLINE = 30.0
results = []


def check(name, cond, why=""):
    results.append((bool(cond), name, why))
    print(("ok   " if cond else "FAIL ") + name + ("" if cond else f": {why}"), flush=True)


# Killed from outside (a test timeout): still stop the daemon, in the finally below.
signal.signal(signal.SIGTERM, lambda *_: sys.exit("notify_check: terminated"))
signal.signal(signal.SIGHUP, lambda *_: sys.exit("notify_check: hung up"))

path = os.path.join(workdir, "notify.sock")
sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
sock.bind(path)
sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)  # the kernel adds the sender's pid
log_path = os.path.join(workdir, "notify.log")
log = open(log_path, "wb")
env = dict(os.environ, NOTIFY_SOCKET=path, WATCHDOG_USEC=str(WATCHDOG_USEC))
for k in ("LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES", "JOURNAL_STREAM", "WATCHDOG_PID"):
    env.pop(k, None)
# systemd sets WATCHDOG_PID to the main pid; sd_watchdog_enabled() ignores the watchdog when it differs.
proc = subprocess.Popen(["sh", "-c", 'export WATCHDOG_PID=$$; exec "$0" "$@"', almanac, "serve",
                         "--config", config, "--listen", "127.0.0.1:0"],
                        env=env, stdout=subprocess.DEVNULL, stderr=log, start_new_session=True)
messages = []  # (monotonic time, sender pid, {key: value})


def receive(until, want):
    """Collects messages until want(message fields) is true for one of them or the deadline passes."""
    while True:
        left = until - time.monotonic()
        if left <= 0:
            return None
        sock.settimeout(left)
        try:
            data, anc, _, _ = sock.recvmsg(4096, socket.CMSG_SPACE(12))
        except socket.timeout:
            return None
        pid = None
        for level, kind, payload in anc:
            if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
                pid = struct.unpack("iII", payload[:12])[0]
        fields = dict(line.split("=", 1) for line in data.decode().split("\n") if "=" in line)
        messages.append((time.monotonic(), pid, fields))
        if want(fields):
            return fields


def log_text():
    with open(log_path, "rb") as f:
        return f.read().decode(errors="replace")


try:
    ready = receive(time.monotonic() + START_DEADLINE, lambda f: f.get("READY") == "1")
    check("READY=1 on NOTIFY_SOCKET", ready is not None, f"nothing within {START_DEADLINE:.0f} s; log:\n{log_text()[-2000:]}")
    if ready is None:
        raise SystemExit
    status = ready.get("STATUS", "")
    check("STATUS= with READY=1", re.match(r"generation 1: \d+ items, \d+ content errors$", status), repr(status))
    check("every message comes from the main pid (NotifyAccess=main)",
          all(pid == proc.pid for _, pid, _ in messages), [(pid, proc.pid) for _, pid, _ in messages])
    m = re.search(r"listening on http://127\.0\.0\.1:(\d+)/", log_text())
    check("listening before READY=1", m, "no 'listening on' line when READY=1 arrived")
    if m:
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never an http_proxy
        with opener.open(f"http://127.0.0.1:{m.group(1)}/healthz", timeout=10) as r:
            check("serving at READY=1 (/healthz 200)", r.status == 200, r.status)

    # WATCHDOG=1 at half the interval asked for.
    start = time.monotonic()
    receive(start + 2.0, lambda f: False)
    pings = [t for t, pid, f in messages if f.get("WATCHDOG") == "1" and t >= start]
    gaps = sorted(b - a for a, b in zip(pings, pings[1:]))
    median = gaps[len(gaps) // 2] if gaps else None
    check("WATCHDOG=1 pings", len(pings) >= 5, f"{len(pings)} in 2 s with WATCHDOG_USEC={WATCHDOG_USEC}")
    check("WATCHDOG=1 every WATCHDOG_USEC/2", median is not None and median < WATCHDOG_USEC / 1e6 * 0.9,
          f"median gap {median}")

    # SIGHUP: RELOADING=1, then READY=1 with the new generation.
    mark = len(messages)
    proc.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + START_DEADLINE
    receive(deadline, lambda f: f.get("STATUS", "").startswith("generation 2"))
    after = [f for _, _, f in messages[mark:] if "WATCHDOG" not in f]
    keys = [k for f in after for k in ("RELOADING", "READY", "STATUS") if k in f]
    check("SIGHUP: RELOADING=1 then READY=1", keys[:2] == ["RELOADING", "READY"], keys)
    check("SIGHUP: STATUS= generation 2", any(f.get("STATUS", "").startswith("generation 2") for f in after), after)

    # SIGTERM: STOPPING=1 and exit 0.
    mark = len(messages)
    proc.send_signal(signal.SIGTERM)
    stopping = receive(time.monotonic() + 10, lambda f: f.get("STOPPING") == "1")
    check("SIGTERM: STOPPING=1", stopping is not None, [f for _, _, f in messages[mark:]])
    try:
        code = proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        code = "still running after 20 s"
    check("SIGTERM: exit 0", code == 0, code)
finally:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    sock.close()
sys.exit(0 if results and all(ok for ok, _, _ in results) else 1)
