# Shared by the hostile HTTP and hostile content tests: an `almanac serve` process on a free loopback port
# with its log collected, bounded HTTP helpers, and the server's memory as the kernel reports it.
import http.client
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import serve_test  # noqa: E402  (the Server process wrapper)

HOST = serve_test.HOST


class Server(serve_test.Server):
    """serve_test's server process, started with the binary given and waited for until it listens and
    watches; log waits default to 10 s (a flood may slow the log reader)."""

    def __init__(self, almanac, config, preexec=None, argv_prefix=()):
        super().__init__(config, almanac=almanac, preexec=preexec, argv_prefix=argv_prefix)

    def wait_log(self, pattern, timeout=10.0, since=0):
        return super().wait_log(pattern, timeout, since)


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
    """serve_test.poll with a longer deadline and interval."""
    return serve_test.poll(fn, what, timeout, interval)


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
