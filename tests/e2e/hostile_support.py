# Shared by the hostile HTTP and hostile content tests: an `almanac serve` process on a free loopback port
# with its log collected, bounded HTTP helpers, and the server's memory as the kernel reports it.
import http.client
import json
import os
import re
import signal
import subprocess
import threading
import time

HOST = "127.0.0.1"
START_DEADLINE = 30.0  # seconds allowed for a server to build and listen


class Server:
    """One `almanac serve` process in its own process group, its stderr collected by a thread.
    `preexec` runs in the child before exec (to lower its open-file limit or drop privileges)."""

    def __init__(self, almanac, config, preexec=None, argv_prefix=()):
        self.lines = []
        self.cond = threading.Condition()
        self.port = None
        self.proc = subprocess.Popen([*argv_prefix, almanac, "serve", "--config", config, "--listen", f"{HOST}:0"],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                     start_new_session=True, preexec_fn=preexec)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        try:
            match = self.wait_log(r"info: listening on http://127\.0\.0\.1:(\d+)/", START_DEADLINE)
            self.port = int(match.group(1))
            self.wait_log(r"info: watching ", START_DEADLINE)
        except BaseException:
            self.kill()
            raise

    def _read(self):
        for raw in self.proc.stderr:
            with self.cond:
                self.lines.append(raw.decode("utf-8", "replace").rstrip("\n"))
                self.cond.notify_all()
        with self.cond:
            self.cond.notify_all()

    def log(self, since=0):
        with self.cond:
            return "\n".join(self.lines[since:])

    def log_size(self):
        with self.cond:
            return len(self.lines)

    def wait_log(self, pattern, timeout=10.0, since=0):
        """The first match of `pattern` in a log line numbered `since` or later; fails at the deadline."""
        regex = re.compile(pattern)
        end = time.monotonic() + timeout
        with self.cond:
            while True:
                for line in self.lines[since:]:
                    match = regex.search(line)
                    if match:
                        return match
                left = end - time.monotonic()
                if left <= 0 or (self.proc.poll() is not None and not self.reader.is_alive()):
                    raise AssertionError(f"no log line matching {pattern!r} within {timeout}s "
                                         f"(exit status {self.proc.poll()}); log:\n" + "\n".join(self.lines[-40:]))
                self.cond.wait(min(left, 0.1))

    def rss_kib(self):
        """The server's resident memory (VmRSS) in KiB."""
        with open(f"/proc/{self.proc.pid}/status") as f:
            return int(re.search(r"^VmRSS:\s+(\d+) kB", f.read(), re.M).group(1))

    def alive(self):
        return self.proc.poll() is None

    def kill(self):
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        try:
            self.proc.wait(10)
        finally:
            self.reader.join(5)
            self.proc.stderr.close()


class Reply:
    def __init__(self, status, headers, body):
        self.status, self.headers, self.body = status, headers, body

    def text(self):
        return self.body.decode("utf-8", "replace")

    def __repr__(self):
        return f"<{self.status} {self.body[:200]!r}>"


def get(port, path, timeout=5.0, headers=None):
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        conn.request("GET", path, headers=headers or {})
        r = conn.getresponse()
        return Reply(r.status, r.headers, r.read())
    finally:
        conn.close()


def timed_get(port, path, timeout=5.0):
    """(reply, seconds taken)."""
    start = time.monotonic()
    reply = get(port, path, timeout=timeout)
    return reply, time.monotonic() - start


def healthz(port):
    r = get(port, "/healthz")
    assert r.status == 200, r
    return json.loads(r.body)


def metric(text, name):
    """The value of an unlabelled Prometheus sample, or None."""
    for line in text.splitlines():
        key, _, value = line.rpartition(" ")
        if key == name:
            return float(value)
    return None


def poll(fn, what, timeout=10.0, interval=0.02):
    """Calls fn() until it returns a truthy value, which is returned; fails after `timeout` seconds."""
    end = time.monotonic() + timeout
    while True:
        value = fn()
        if value:
            return value
        if time.monotonic() > end:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def write_file(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb" if isinstance(data, bytes) else "w", **({} if isinstance(data, bytes) else
                                                                 {"encoding": "utf-8"})) as f:
        f.write(data)


def event_md(title, start, *extra):
    return "---\n" + f'title: "{title}"\nstart: {start}\n' + "".join(line + "\n" for line in extra) + "---\nBody.\n"


def ics_summaries(body):
    return sorted(line[len("SUMMARY:"):] for line in body.decode("utf-8").split("\r\n") if line.startswith("SUMMARY:"))


def tz_database_files():
    """Names of the files under /usr/share/zoneinfo that hold a zone (TZif), without posix/ and right/."""
    root = "/usr/share/zoneinfo"
    names = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in ("posix", "right"))
        for name in sorted(files):
            path = os.path.join(folder, name)
            with open(path, "rb") as f:
                if f.read(4) == b"TZif":
                    names.append(os.path.relpath(path, root))
    return names
