#!/usr/bin/env python3
# End-to-end tests of `almanac serve`: a real server on a free loopback port, real HTTP clients (http.client,
# raw sockets) and real file edits in a temp dir. Covers routes and headers, conditional GET, compression,
# keep-alive/pipelining, limits, inotify rebuilds, SIGHUP/SIGTERM/SIGINT, start-up failures, the example site.
# usage: serve_test.py ALMANAC_BINARY SOURCE_DIR [unittest arguments]
import datetime
import email.utils
import gzip
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import xml.etree.ElementTree as ET

try:
    import brotli
except ImportError:
    brotli = None

ALMANAC = SOURCE_DIR = None
DEADLINE = 5.0  # seconds allowed for any change to be served
START_DEADLINE = 30.0  # seconds allowed for a server to build and listen
HOST = "127.0.0.1"
ATOM = "{http://www.w3.org/2005/Atom}"

# ---------------------------------------------------------------------------------------------------
# The fixture site

CONFIG = """\
site:
  title: "Fixture"
  base_url: "https://cal.example.org/"
  timezone: Europe/Berlin
content:
  dir: content
  sections:
    events: {{ type: event }}
    blog: {{ type: post }}
feeds:
  - name: events
    title: "{events_title}"
    sections: [events]
    formats: [ics, rss, atom, json]
  - name: blog
    title: "Fixture blog"
    sections: [blog]
    formats: [rss, atom, json]
timezones:
  prerender: [America/New_York]
  allow_any: true
server:
  listen: ["127.0.0.1:8080"]
  cache_max_age: 2m
  limits:
    header_timeout: 1s
    idle_timeout: 2s
log:
  level: info
"""


def event_md(title, start, *extra):
    return "---\n" + f'title: "{title}"\nstart: {start}\n' + "".join(line + "\n" for line in extra) + "---\nBody.\n"


def soon_start():
    # An event ten days from now, so that the index page lists it among upcoming events.
    day = datetime.datetime.now(datetime.timezone.utc).date() + datetime.timedelta(days=10)
    return f"{day.isoformat()}T15:00Z"


FIXTURE_FILES = {
    # Line 3 is `start:`: the broken-edit test expects its error there.
    "events/alpha.md": event_md("Alpha Summit", "2030-05-10T09:00", "duration: PT8H", 'location: "Berlin"',
                                "kind: conference", "tags: [summit, europe]"),
    "events/beta.md": event_md("Beta Meetup", "2030-01-09T18:00", "duration: PT2H", "timezone: America/Los_Angeles",
                               'rrule: "FREQ=MONTHLY;BYDAY=2WE;COUNT=12"', "kind: meetup", "tags: [local]"),
    "events/gamma.md": event_md("Gamma Workshop", "2030-07-01", "end: 2030-07-03", "kind: workshop",
                                "tags: [summit]"),
    "blog/2025-01-01-hello.md": '---\ntitle: "Hello World"\ndate: 2025-01-01\ntags: [news]\n---\nFirst post.\n',
    "blog/second.md": '---\ntitle: "Second Post"\ndate: 2025-02-01T10:00\ntags: [updates]\n---\nMore.\n',
}


def write_file(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


def make_site(root, events_title="Fixture events"):
    """Writes the fixture site under `root`; returns the config path."""
    write_file(os.path.join(root, "almanac.yaml"), CONFIG.format(events_title=events_title))
    for rel, text in FIXTURE_FILES.items():
        write_file(os.path.join(root, "content", rel), text)
    write_file(os.path.join(root, "content", "events", "soon.md"),
               event_md("Soon Social", soon_start(), "duration: PT2H", "kind: social"))
    return os.path.join(root, "almanac.yaml")


FIXTURE_ITEMS = len(FIXTURE_FILES) + 1

# ---------------------------------------------------------------------------------------------------
# The server process


class Server:
    """One `almanac serve` process in its own process group, its stderr collected by a thread.
    `almanac` defaults to the binary this suite was given; `preexec` runs in the child before exec
    (to lower its open-file limit or drop privileges); `argv_prefix` wraps the command (strace);
    `args` are more options for `serve`."""

    def __init__(self, config, listen=f"{HOST}:0", wait=True, almanac=None, preexec=None, argv_prefix=(), args=()):
        self.lines = []
        self.cond = threading.Condition()
        self.port = None
        self.proc = subprocess.Popen([*argv_prefix, almanac or ALMANAC, "serve", "--config", config, "--listen", listen,
                                      *args],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                     start_new_session=True, preexec_fn=preexec)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        if wait:
            try:
                self.wait_ready()
            except BaseException:
                self.kill()
                raise

    def wait_ready(self, watching=True):
        """Waits for the listening address and, unless told not to, for the content watch to be set up:
        the daemon starts watching only after it listens (see test_an_edit_during_start_up_is_served)."""
        match = self.wait_log(r"info: listening on http://127\.0\.0\.1:(\d+)/", START_DEADLINE)
        self.port = int(match.group(1))
        if watching:
            self.wait_log(r"info: watching ", START_DEADLINE)

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

    def wait_log(self, pattern, timeout=DEADLINE, since=0):
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

    def signal(self, signum):
        os.kill(self.proc.pid, signum)

    def wait_exit(self, timeout):
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"server still running {timeout}s after the signal; log:\n{self.log()}")

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


# ---------------------------------------------------------------------------------------------------
# HTTP helpers


class Reply:
    def __init__(self, status, headers, body, version=11):
        self.status, self.headers, self.body, self.version = status, headers, body, version

    def header(self, name):
        return self.headers.get(name)

    def text(self):
        return self.body.decode("utf-8")

    def __repr__(self):
        return f"<{self.status} {dict(self.headers)} {self.body[:200]!r}>"


def request(port, path, method="GET", headers=None, body=None, timeout=5.0):
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        return Reply(r.status, r.headers, r.read(), r.version)
    finally:
        conn.close()


def get(port, path, **kw):
    return request(port, path, **kw)


def poll(fn, what, timeout=DEADLINE, interval=0.01):
    """Calls fn() until it returns a truthy value, which is returned; fails after `timeout` seconds."""
    end = time.monotonic() + timeout
    while True:
        value = fn()
        if value:
            return value
        if time.monotonic() > end:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def healthz(port):
    r = get(port, "/healthz")
    assert r.status == 200, r
    return json.loads(r.body)


def metric(text, name, **labels):
    """The value of one Prometheus sample, or 0 when it is absent."""
    want = ",".join(f'{k}="{v}"' for k, v in labels.items())
    series = f"{name}{{{want}}}" if labels else name
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        key, _, value = line.rpartition(" ")
        if key == series:
            return float(value)
    return 0.0


def metric_sum(text, name, **labels):
    """The sum of every sample of `name` having all of `labels` (whatever its other labels)."""
    want = [f'{k}="{v}"' for k, v in labels.items()]
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name + "{"):
            key, _, value = line.rpartition(" ")
            if all(w in key[len(name) + 1:-1].split(",") for w in want):
                total += float(value)
    return total


def recv_until_eof(sock, timeout=5.0):
    sock.settimeout(timeout)
    out = b""
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            return out
        out += chunk


def read_response_head_only(sock_file):
    """Reads the status line and headers of a response that has no body (HEAD, 304)."""
    status_line = sock_file.readline()
    if not status_line:
        raise AssertionError("connection closed before a response")
    version, status = status_line.decode("latin-1").split(" ", 2)[:2]
    headers = {}
    while True:
        line = sock_file.readline().decode("latin-1")
        if line in ("\r\n", "\n", ""):
            break
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(status), headers, b"", version


def read_response(sock_file):
    """Reads one HTTP/1.1 response with a Content-Length body from a socket file: (status, headers, body)."""
    status, headers, _, version = read_response_head_only(sock_file)
    return status, headers, sock_file.read(int(headers.get("content-length", "0"))), version


def ics_summaries(body):
    return [line[len("SUMMARY:"):] for line in body.decode("utf-8").split("\r\n") if line.startswith("SUMMARY:")]


def json_titles(body):
    return sorted(item["title"] for item in json.loads(body)["items"])


FEED_TYPES = {
    "events.ics": "text/calendar; charset=utf-8",
    "events.rss": "application/rss+xml; charset=utf-8",
    "events.atom": "application/atom+xml; charset=utf-8",
    "events.json": "application/feed+json; charset=utf-8",
    "blog.rss": "application/rss+xml; charset=utf-8",
    "blog.atom": "application/atom+xml; charset=utf-8",
    "blog.json": "application/feed+json; charset=utf-8",
}


class SiteTestCase(unittest.TestCase):
    """A temp dir holding the fixture site."""

    def make_root(self):
        root = tempfile.mkdtemp(prefix="almanac-e2e-")
        self.addCleanup(shutil.rmtree, root, True)
        return root

    def start(self, config, **kw):
        server = Server(config, **kw)
        self.addCleanup(server.kill)
        return server


# ---------------------------------------------------------------------------------------------------
# 1–5: one server, requests only


class HttpTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.root = tempfile.mkdtemp(prefix="almanac-e2e-")
        try:
            cls.server = Server(make_site(cls.root))
        except BaseException:
            shutil.rmtree(cls.root, True)
            raise
        cls.port = cls.server.port

    @classmethod
    def tearDownClass(cls):
        cls.server.kill()
        shutil.rmtree(cls.root, True)

    def get(self, path, **kw):
        return request(self.port, path, **kw)

    # 1. Routes and headers

    def test_every_format_has_its_content_type_and_headers(self):
        for path, media_type in FEED_TYPES.items():
            with self.subTest(path=path):
                r = self.get("/" + path)
                self.assertEqual(r.status, 200, r)
                self.assertEqual(r.header("Content-Type"), media_type)
                self.assertRegex(r.header("ETag"), r'^"[^"]+"$', "a strong ETag")
                self.assertIsNotNone(email.utils.parsedate_to_datetime(r.header("Last-Modified")))
                self.assertEqual(r.header("Cache-Control"), "public, max-age=120")
                self.assertIn("Accept-Encoding", r.header("Vary"))
                self.assertEqual(r.header("Access-Control-Allow-Origin"), "*")
                self.assertIsNone(r.header("Content-Encoding"))
                self.assertEqual(int(r.header("Content-Length")), len(r.body))

    def test_documents_are_what_they_claim(self):
        ics = self.get("/events.ics").body
        self.assertTrue(ics.startswith(b"BEGIN:VCALENDAR\r\n"))
        self.assertTrue(ics.endswith(b"END:VCALENDAR\r\n"))
        self.assertEqual(sorted(ics_summaries(ics)), ["Alpha Summit", "Beta Meetup", "Gamma Workshop", "Soon Social"])
        self.assertIn(b"TZID=America/Los_Angeles", ics, "the recurring event keeps its own zone")
        self.assertIn(b"RRULE:FREQ=MONTHLY", ics)
        self.assertEqual(ET.fromstring(self.get("/events.rss").body).tag, "rss")
        self.assertEqual(ET.fromstring(self.get("/blog.atom").body).tag, ATOM + "feed")
        self.assertEqual(json_titles(self.get("/blog.json").body), ["Hello World", "Second Post"])

    def test_head_has_the_headers_of_get_and_no_body(self):
        for path in list(FEED_TYPES) + ["", "healthz"]:
            with self.subTest(path=path):
                g = self.get("/" + path)
                h = self.get("/" + path, method="HEAD")
                self.assertEqual(h.status, g.status)
                self.assertEqual(h.body, b"")
                self.assertEqual(int(h.header("Content-Length")), len(g.body))
                for name in ("Content-Type", "ETag", "Last-Modified", "Cache-Control", "Vary",
                             "Access-Control-Allow-Origin"):
                    self.assertEqual(h.header(name), g.header(name), name)
        # On the wire: HEAD then GET on one connection; nothing may sit between the two responses.
        with socket.create_connection((HOST, self.port), timeout=5) as s:
            s.sendall(b"HEAD /events.ics HTTP/1.1\r\nHost: t\r\n\r\nGET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
            f = s.makefile("rb")
            status, headers, _, _ = read_response_head_only(f)
            self.assertEqual(status, 200)
            self.assertGreater(int(headers["content-length"]), 0)
            status, headers, body, _ = read_response(f)
            self.assertEqual((status, headers["content-type"]), (200, "application/json"), body[:100])

    def test_zone_path_and_query_are_the_same_document(self):
        default = self.get("/events.ics")
        for zone in ("America/New_York", "Asia/Tokyo"):  # pre-rendered, and rendered on request
            with self.subTest(zone=zone):
                by_path = self.get(f"/tz/{zone}/events.ics")
                by_query = self.get(f"/events.ics?tz={zone}")
                self.assertEqual((by_path.status, by_query.status), (200, 200))
                self.assertEqual(by_path.body, by_query.body)
                self.assertEqual(by_path.header("ETag"), by_query.header("ETag"))
                self.assertIn(f"X-WR-TIMEZONE:{zone}\r\n".encode(), by_path.body)
                self.assertNotEqual(by_path.header("ETag"), default.header("ETag"))
                self.assertEqual(self.get(f"/tz/{zone}/events.json").status, 200)

    def test_unknown_feed_zone_or_format_is_404_with_one_line(self):
        for path in ("/nope.ics", "/blog.ics", "/tz/Mars/Base/events.ics", "/events.ics?tz=Mars/Base",
                     "/tz/Europe/events.ics", "/a/b/c"):
            with self.subTest(path=path):
                r = self.get(path)
                self.assertEqual(r.status, 404, r)
                self.assertTrue(r.header("Content-Type").startswith("text/plain"))
                text = r.text()
                self.assertTrue(text.endswith("\n") and text.count("\n") == 1 and text.strip(), repr(text))
        self.assertIn("nope", self.get("/nope.ics").text())
        self.assertIn("Mars/Base", self.get("/tz/Mars/Base/events.ics").text())

    def test_other_methods_are_405_with_allow(self):
        for method in ("POST", "PUT", "DELETE", "PATCH", "OPTIONS"):
            with self.subTest(method=method):
                r = self.get("/events.ics", method=method, body=b"x" if method in ("POST", "PUT") else None)
                self.assertEqual(r.status, 405, r)
                self.assertEqual(r.header("Allow"), "GET, HEAD")

    def test_healthz(self):
        r = self.get("/healthz")
        self.assertEqual(r.status, 200)
        self.assertTrue(r.header("Content-Type").startswith("application/json"))
        h = json.loads(r.body)
        self.assertEqual(h["status"], "ok")
        self.assertIsInstance(h["generation"], int)
        self.assertGreaterEqual(h["generation"], 1)
        self.assertRegex(h["built_at"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")
        self.assertEqual(h["items"], FIXTURE_ITEMS)
        self.assertIsInstance(h["documents"], int)
        self.assertGreater(h["documents"], 0)
        self.assertEqual((h["error_count"], h["errors"]), (0, []))
        self.assertIsInstance(h["warning_count"], int)

    def test_metrics_count_requests(self):
        def sample():
            r = self.get("/metrics")
            self.assertEqual(r.status, 200)
            self.assertTrue(r.header("Content-Type").startswith("text/plain"))
            return r.text()
        text = sample()
        self.assertIn("almanac_http_requests_total", text)
        self.assertIn("# TYPE almanac_http_requests_total counter", text)
        before = metric_sum(text, "almanac_http_requests_total", code="404")
        for _ in range(3):
            self.assertEqual(self.get("/no-such-feed.ics").status, 404)
        # The count may be recorded just after the response is written: poll briefly.
        after = poll(lambda: (lambda v: v if v >= before + 3 else None)(
            metric_sum(sample(), "almanac_http_requests_total", code="404")),
            "the three 404s to be counted", timeout=2)
        self.assertEqual(after, before + 3)
        feed_before = metric(text, "almanac_http_requests_total", route="feed", code="200")
        self.assertEqual(self.get("/events.rss").status, 200)
        poll(lambda: metric(sample(), "almanac_http_requests_total", route="feed", code="200") == feed_before + 1,
             "a feed request to be counted under route=\"feed\"", timeout=2)
        self.assertGreaterEqual(metric(text, "almanac_snapshot_generation"), 1)

    def test_index_page(self):
        r = self.get("/")
        self.assertEqual(r.status, 200)
        self.assertTrue(r.header("Content-Type").startswith("text/html"))
        html = r.text()
        self.assertIn('href="webcal://cal.example.org/events.ics"', html)
        self.assertIn('href="https://cal.example.org/events.ics"', html)
        self.assertRegex(html, r'<form[^>]*method="get"')
        self.assertRegex(html, r'<select[^>]*name="tz"')
        self.assertIn("Soon Social", html, "upcoming events are listed")
        tokyo = self.get("/?tz=Asia/Tokyo").text()
        self.assertIn('href="webcal://cal.example.org/tz/Asia/Tokyo/events.ics"', tokyo)
        self.assertRegex(tokyo, r"Soon Social")
        self.assertIn("JST (UTC+09:00)", tokyo)
        self.assertEqual(self.get("/?tz=Mars/Base").status, 404)

    def test_tag_and_kind_filters(self):
        self.assertEqual(json_titles(self.get("/events.json?tag=summit").body), ["Alpha Summit", "Gamma Workshop"])
        self.assertEqual(json_titles(self.get("/events.json?kind=meetup").body), ["Beta Meetup"])
        self.assertEqual(ics_summaries(self.get("/events.ics?tag=local").body), ["Beta Meetup"])
        self.assertEqual(json_titles(self.get("/blog.json?tag=news").body), ["Hello World"])
        self.assertEqual(json_titles(self.get("/events.json?tag=no-such-tag").body), [])
        a = self.get("/events.ics?tag=summit&tag=local")
        b = self.get("/events.ics?tag=local,summit")
        self.assertEqual((a.status, a.body, a.header("ETag")), (b.status, b.body, b.header("ETag")))
        self.assertEqual(sorted(ics_summaries(a.body)), ["Alpha Summit", "Beta Meetup", "Gamma Workshop"])

    # 2. Conditional GET

    def test_if_none_match(self):
        first = self.get("/events.ics")
        etag = first.header("ETag")
        r = self.get("/events.ics", headers={"If-None-Match": etag})
        self.assertEqual(r.status, 304, r)
        self.assertEqual(r.body, b"")
        self.assertEqual(r.header("ETag"), etag)
        # RFC 9110 §15.4.5: a 304 carries the Cache-Control and Vary a 200 would have.
        self.assertEqual(r.header("Cache-Control"), first.header("Cache-Control"))
        self.assertEqual(r.header("Vary"), first.header("Vary"))
        self.assertEqual(self.get("/events.ics", headers={"If-None-Match": f'"other", {etag}'}).status, 304)
        self.assertEqual(self.get("/events.ics", headers={"If-None-Match": '"other"'}).status, 200)

    def test_if_none_match_wins_over_if_modified_since(self):
        lm = self.get("/events.ics").header("Last-Modified")
        r = self.get("/events.ics", headers={"If-None-Match": '"stale"', "If-Modified-Since": lm})
        self.assertEqual(r.status, 200)
        self.assertEqual(r.body, self.get("/events.ics").body)

    def test_if_modified_since(self):
        first = self.get("/events.rss")
        lm = first.header("Last-Modified")
        when = email.utils.parsedate_to_datetime(lm)
        later = email.utils.format_datetime(when + datetime.timedelta(days=1), usegmt=True)
        earlier = email.utils.format_datetime(when - datetime.timedelta(seconds=1), usegmt=True)
        same = self.get("/events.rss", headers={"If-Modified-Since": lm})
        self.assertEqual(same.status, 304)
        self.assertEqual(same.body, b"")
        self.assertEqual(same.header("ETag"), first.header("ETag"))
        self.assertEqual(self.get("/events.rss", headers={"If-Modified-Since": later}).status, 304)
        self.assertEqual(self.get("/events.rss", headers={"If-Modified-Since": earlier}).status, 200)
        self.assertEqual(self.get("/events.rss", headers={"If-Modified-Since": "not a date"}).status, 200)

    # 3. Compression

    def compressed(self, path, coding):
        """Polls until `path` comes back in `coding` (compression runs in the background after a build)."""
        def attempt():
            r = self.get(path, headers={"Accept-Encoding": coding})
            self.assertEqual(r.status, 200)
            return r if r.header("Content-Encoding") == coding else None
        return poll(attempt, f"{path} with Content-Encoding: {coding}")

    def test_gzip(self):
        for path in ("/events.ics", "/blog.atom", "/"):
            with self.subTest(path=path):
                identity = self.get(path)
                r = self.compressed(path, "gzip")
                self.assertEqual(gzip.decompress(r.body), identity.body)
                self.assertIn("Accept-Encoding", r.header("Vary"))
                self.assertEqual(r.header("ETag"), identity.header("ETag")[:-1] + '.gz"')
                self.assertEqual(r.header("Content-Type"), identity.header("Content-Type"))
                h = self.get(path, method="HEAD", headers={"Accept-Encoding": "gzip"})
                self.assertEqual(int(h.header("Content-Length")), len(r.body))
                nm = self.get(path, headers={"Accept-Encoding": "gzip", "If-None-Match": r.header("ETag")})
                self.assertEqual(nm.status, 304)

    def test_brotli(self):
        identity = self.get("/events.ics")
        r = self.compressed("/events.ics", "br")
        self.assertEqual(r.header("ETag"), identity.header("ETag")[:-1] + '.br"')
        self.assertIn("Accept-Encoding", r.header("Vary"))
        self.assertNotEqual(r.body, identity.body)
        if brotli is not None:
            self.assertEqual(brotli.decompress(r.body), identity.body)
        either = self.get("/events.ics", headers={"Accept-Encoding": "gzip, br"})
        self.assertIn(either.header("Content-Encoding"), ("gzip", "br"))

    def test_identity_when_compression_refused(self):
        self.compressed("/events.json", "gzip")
        for accept in ("identity", "gzip;q=0", "compress"):
            with self.subTest(accept=accept):
                r = self.get("/events.json", headers={"Accept-Encoding": accept})
                self.assertIsNone(r.header("Content-Encoding"))
                self.assertEqual(r.body, self.get("/events.json").body)

    # 4. Connections

    def test_keep_alive(self):
        conn = http.client.HTTPConnection(HOST, self.port, timeout=5)
        try:
            sock = None
            for path in ("/events.ics", "/healthz", "/nope.ics", "/blog.rss", "/", "/events.ics"):
                conn.request("GET", path)
                r = conn.getresponse()
                r.read()
                self.assertIn(r.status, (200, 404))
                self.assertFalse(r.will_close, path)
                sock = sock or conn.sock
                self.assertIs(conn.sock, sock, "the connection was reopened")
        finally:
            conn.close()

    def test_pipelining(self):
        expected = [self.get(p) for p in ("/events.ics", "/blog.atom", "/nope.ics")]
        with socket.create_connection((HOST, self.port), timeout=5) as s:
            s.sendall(b"GET /events.ics HTTP/1.1\r\nHost: t\r\n\r\n"
                      b"GET /blog.atom HTTP/1.1\r\nHost: t\r\n\r\n"
                      b"GET /nope.ics HTTP/1.1\r\nHost: t\r\n\r\n")
            f = s.makefile("rb")
            for want in expected:
                status, headers, body, version = read_response(f)
                self.assertEqual(version, "HTTP/1.1")
                self.assertEqual((status, headers["content-type"], body),
                                 (want.status, want.header("Content-Type"), want.body))

    def test_http_1_0_closes_after_the_response(self):
        with socket.create_connection((HOST, self.port), timeout=5) as s:
            s.sendall(b"GET /events.json HTTP/1.0\r\nHost: t\r\n\r\n")
            data = recv_until_eof(s)  # a socket.timeout here means the server kept the connection open
        head, _, body = data.partition(b"\r\n\r\n")
        status_line = head.split(b"\r\n")[0].decode()
        self.assertRegex(status_line, r"^HTTP/1\.[01] 200 ")
        length = re.search(rb"(?im)^content-length:\s*(\d+)", head)
        self.assertIsNotNone(length, head)
        self.assertEqual(int(length.group(1)), len(body))
        self.assertEqual(body, self.get("/events.json").body)

    # 5. Limits

    def test_huge_header_is_refused(self):
        with socket.create_connection((HOST, self.port), timeout=5) as s:
            try:
                s.sendall(b"GET /events.ics HTTP/1.1\r\nHost: t\r\nX-Big: " + b"a" * 65536 + b"\r\n\r\n")
                data = recv_until_eof(s)
            except (ConnectionResetError, BrokenPipeError):
                data = b""
        if data:
            self.assertRegex(data.split(b"\r\n")[0], rb"^HTTP/1\.1 431 ")

    def test_malformed_request_line_is_400(self):
        for line in (b"GARBAGE\r\n\r\n", b"GET\r\n\r\n", b"GET /events.ics HTTP/9\r\n\r\n"):
            with self.subTest(line=line):
                with socket.create_connection((HOST, self.port), timeout=5) as s:
                    s.sendall(line)
                    data = recv_until_eof(s)
                self.assertRegex(data.split(b"\r\n")[0], rb"^HTTP/1\.[01] 400 ")

    def test_header_timeout(self):
        # server.limits.header_timeout is 1s in the fixture: a client that never finishes its header is dropped.
        with socket.create_connection((HOST, self.port), timeout=5) as s:
            start = time.monotonic()
            s.sendall(b"GET /events.ics HTTP/1.1\r\nHost: t\r\n")
            data = recv_until_eof(s)
            took = time.monotonic() - start
        self.assertGreater(took, 0.8)
        self.assertLess(took, 4)
        if data:
            self.assertRegex(data.split(b"\r\n")[0], rb"^HTTP/1\.1 408 ")

    def test_idle_timeout(self):
        # server.limits.idle_timeout is 2s in the fixture: an idle keep-alive connection is closed.
        with socket.create_connection((HOST, self.port), timeout=6) as s:
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
            f = s.makefile("rb")
            self.assertEqual(read_response(f)[0], 200)
            start = time.monotonic()
            self.assertEqual(f.read(1), b"", "nothing but the close may follow")
            took = time.monotonic() - start
        self.assertGreater(took, 1.5)
        self.assertLess(took, 5)

    def test_server_still_healthy_after_bad_clients(self):
        # Runs last (alphabetically): nothing above may have hurt the server.
        self.assertEqual(healthz(self.port)["status"], "ok")
        self.assertIsNone(self.server.proc.poll())


# ---------------------------------------------------------------------------------------------------
# 6. File-system events: a fresh site and server per test


class FileEventTest(SiteTestCase):
    def setUp(self):
        self.root = self.make_root()
        self.content = os.path.join(self.root, "content")
        self.events = os.path.join(self.content, "events")
        self.server = self.start(make_site(self.root))
        self.port = self.server.port

    def path(self, rel):
        return os.path.join(self.content, rel)

    def generation(self):
        return healthz(self.port)["generation"]

    def summaries(self):
        r = get(self.port, "/events.ics")
        self.assertEqual(r.status, 200)
        return ics_summaries(r.body)

    def wait_summaries(self, what, check):
        """Polls /events.ics until check(summaries) holds; returns them."""
        last = []

        def attempt():
            last[:] = self.summaries()
            return list(last) if check(last) else None
        try:
            return poll(attempt, what)
        except AssertionError as e:
            raise AssertionError(f"{e}; last served: {last}; log:\n{self.server.log()}") from None

    def wait_change(self, gen_before, what, check):
        summaries = self.wait_summaries(what, check)
        self.assertGreater(self.generation(), gen_before)
        return summaries

    def test_a_edit_in_place(self):
        g = self.generation()
        write_file(self.path("events/alpha.md"), event_md("Alpha Renamed", "2030-05-10T09:00", "duration: PT8H"))
        s = self.wait_change(g, "the edited title", lambda s: "Alpha Renamed" in s)
        self.assertNotIn("Alpha Summit", s)
        self.server.wait_log(r"generation \d+ \(change; read [^)]*events/alpha\.md")

    def test_b_atomic_save(self):
        g = self.generation()
        tmp = self.path("events/.alpha.md.tmp")
        write_file(tmp, event_md("Alpha Atomic", "2030-05-10T09:00", "duration: PT8H"))
        os.rename(tmp, self.path("events/alpha.md"))
        s = self.wait_change(g, "the atomically saved title", lambda s: "Alpha Atomic" in s)
        self.assertNotIn("Alpha Summit", s)
        self.assertEqual(len(s), 4)

    def test_c_new_file(self):
        g = self.generation()
        write_file(self.path("events/delta.md"), event_md("Delta Day", "2030-09-01"))
        self.wait_change(g, "the new event", lambda s: "Delta Day" in s)
        self.assertEqual(healthz(self.port)["items"], FIXTURE_ITEMS + 1)

    def test_d_delete_file(self):
        g = self.generation()
        os.unlink(self.path("events/beta.md"))
        self.wait_change(g, "the deleted event to go", lambda s: "Beta Meetup" not in s)
        self.assertEqual(healthz(self.port)["items"], FIXTURE_ITEMS - 1)
        self.assertNotIn(b"Beta Meetup", get(self.port, "/events.json").body)

    def test_e_new_subfolder_with_a_file_written_at_once(self):
        g = self.generation()
        os.mkdir(self.path("events/2031"))
        write_file(self.path("events/2031/epsilon.md"), event_md("Epsilon Expo", "2031-03-01"))
        self.wait_change(g, "the event in the new folder", lambda s: "Epsilon Expo" in s)
        # The new folder is watched: a later edit inside it is seen too.
        g = self.generation()
        write_file(self.path("events/2031/epsilon.md"), event_md("Epsilon Edited", "2031-03-01"))
        self.wait_change(g, "the edit in the new folder", lambda s: "Epsilon Edited" in s and "Epsilon Expo" not in s)

    def test_f_directory_moved_in_and_out(self):
        outside = os.path.join(self.root, "outside", "trip")
        write_file(os.path.join(outside, "zeta.md"), event_md("Zeta Trip", "2031-04-01"))
        write_file(os.path.join(outside, "deeper", "eta.md"), event_md("Eta Excursion", "2031-04-02"))
        g = self.generation()
        os.rename(outside, self.path("events/trip"))
        self.wait_change(g, "the moved-in folder's events", lambda s: {"Zeta Trip", "Eta Excursion"} <= set(s))
        # Its folders are watched now.
        g = self.generation()
        write_file(self.path("events/trip/deeper/eta.md"), event_md("Eta Edited", "2031-04-02"))
        self.wait_change(g, "an edit inside the moved-in folder", lambda s: "Eta Edited" in s)
        g = self.generation()
        os.rename(self.path("events/trip"), outside)
        s = self.wait_change(g, "the moved-out folder's events to go",
                             lambda s: "Zeta Trip" not in s and "Eta Edited" not in s)
        self.assertEqual(sorted(s), ["Alpha Summit", "Beta Meetup", "Gamma Workshop", "Soon Social"])
        # Files in the moved-out folder are no longer watched.
        write_file(os.path.join(outside, "zeta.md"), event_md("Zeta Outside", "2031-04-01"))
        time.sleep(0.3)
        self.assertNotIn("Zeta Outside", self.summaries())

    def test_g_checkout_burst(self):
        names = [f"burst{i:02d}.md" for i in range(10)]
        for i, name in enumerate(names):
            write_file(self.path("events/" + name), event_md(f"Old {i}", f"2031-01-{i + 1:02d}"))
        self.wait_summaries("the ten old events", lambda s: all(f"Old {i}" in s for i in range(10)))
        g = self.generation()
        for i, name in enumerate(names):
            target = self.path("events/" + name)
            text = event_md(f"New {i}", f"2031-02-{i + 1:02d}")
            if i % 3 == 0:  # unlink and write afresh
                os.unlink(target)
                write_file(target, text)
            elif i % 3 == 1:  # write beside, rename over
                tmp = self.path(f"events/.{name}.lock")
                write_file(tmp, text)
                os.rename(tmp, target)
            else:  # moved to a new name: the old file disappears
                os.unlink(target)
                write_file(self.path(f"events/renamed-{name}"), text)
        s = self.wait_change(g, "every burst change",
                             lambda s: all(f"New {i}" in s for i in range(10)) and not any(t.startswith("Old ") for t in s))
        self.assertEqual(len(s), 14)
        self.assertEqual(healthz(self.port)["items"], FIXTURE_ITEMS + 10)

    def test_h_broken_edit_keeps_the_last_good_version(self):
        g = self.generation()
        broken = event_md("Alpha Broken", "2030-13-01", "duration: PT8H")  # line 3: start
        write_file(self.path("events/alpha.md"), broken)

        def errors():
            h = healthz(self.port)
            return h if h["error_count"] >= 1 else None
        h = poll(errors, "/healthz to report the broken file")
        self.assertGreater(h["generation"], g)
        self.assertEqual(h["status"], "ok")
        self.assertEqual(len(h["errors"]), h["error_count"])
        self.assertTrue(any(re.match(r"^(content/)?events/alpha\.md:3: \S.*", e) for e in h["errors"]), h["errors"])
        s = self.summaries()
        self.assertIn("Alpha Summit", s, "the last good version stays")
        self.assertNotIn("Alpha Broken", s)
        self.assertGreaterEqual(metric(get(self.port, "/metrics").text(), "almanac_content_errors"), 1)
        # Other files still update while one is broken.
        g = self.generation()
        write_file(self.path("events/gamma.md"), event_md("Gamma Moved", "2030-07-02"))
        s = self.wait_change(g, "another file's edit", lambda s: "Gamma Moved" in s)
        self.assertIn("Alpha Summit", s)
        # The fix: error gone, new version served.
        g = self.generation()
        write_file(self.path("events/alpha.md"), event_md("Alpha Fixed", "2030-05-11T09:00", "duration: PT8H"))
        s = self.wait_change(g, "the fixed version", lambda s: "Alpha Fixed" in s)
        self.assertNotIn("Alpha Summit", s)
        h = healthz(self.port)
        self.assertEqual((h["error_count"], h["errors"]), (0, []))

    def test_i_editor_leftovers_do_not_rebuild(self):
        g = self.generation()
        lines = self.server.log_size()
        for name in (".alpha.md.swp", "alpha.md~", "4913", "#alpha.md#"):
            with self.subTest(name=name):
                write_file(self.path("events/" + name), "garbage: [\n")
                time.sleep(0.3)  # the only fixed wait: proving that nothing happens
                self.assertEqual(self.generation(), g, f"{name} caused a rebuild; log:\n{self.server.log()}")
        self.assertNotRegex("\n".join(self.server.lines[lines:]), r"generation \d+")
        # The watcher still works afterwards.
        write_file(self.path("events/alpha.md"), event_md("Alpha After Swap", "2030-05-10T09:00"))
        self.wait_change(g, "an edit after the leftovers", lambda s: "Alpha After Swap" in s)


# ---------------------------------------------------------------------------------------------------
# 7–8. Signals


class LastModifiedTest(SiteTestCase):
    """A client that revalidates with If-Modified-Since alone (no ETag) never gets a 304 for bytes it has not
    seen: Last-Modified moves forward whenever a document's bytes change, never backward (restarts included),
    and is never later than Date."""

    def setUp(self):
        self.root = self.make_root()
        self.config = make_site(self.root)
        self.server = self.start(self.config)

    def fetch(self, path="/events.ics", since=None):
        r = get(self.server.port, path, headers={"If-Modified-Since": since} if since else {})
        lm, date = r.header("Last-Modified"), r.header("Date")
        if lm:
            self.assertLessEqual(email.utils.parsedate_to_datetime(lm), email.utils.parsedate_to_datetime(date))
        return r

    def wait_new(self, before, path="/events.ics"):
        """Polls until `path` has other bytes than `before`; returns the new reply (with its Last-Modified)."""
        def attempt():
            r = self.fetch(path)
            return r if r.body != before.body and r.header("Last-Modified") else None
        return poll(attempt, f"a new version of {path}", timeout=DEADLINE + 2)

    def edit(self, rel, text):
        write_file(os.path.join(self.root, "content", rel), text)

    def stale_304(self, seen, path="/events.ics"):
        """Revalidates `seen` with its Last-Modified only: True when the server says 304 for other bytes."""
        r = self.fetch(path, since=seen.header("Last-Modified"))
        current = self.fetch(path)
        return r.status == 304 and current.body != seen.body

    def test_an_edit_that_changes_no_date(self):
        first = self.fetch()
        time.sleep(1.1)  # a new second, so that the new version's date can be told from the first's
        self.edit("events/alpha.md", event_md("Alpha Summit", "2030-05-10T09:00", "duration: PT8H",
                                              'location: "Hamburg"', "kind: conference", "tags: [summit, europe]"))
        second = self.wait_new(first)
        self.assertIn(b"Hamburg", second.body)
        self.assertFalse(self.stale_304(first))
        self.assertEqual(self.fetch(since=first.header("Last-Modified")).status, 200)
        self.assertGreater(email.utils.parsedate_to_datetime(second.header("Last-Modified")),
                           email.utils.parsedate_to_datetime(first.header("Last-Modified")))
        self.assertEqual(self.fetch(since=second.header("Last-Modified")).status, 304)

    def test_two_versions_within_one_second(self):
        # The second version is dated a second after the first, and that date is only sent once it has come.
        first = self.fetch()
        seen = [first]
        for n in range(3):
            self.edit("events/gamma.md", event_md(f"Gamma {n}", "2030-07-01", "end: 2030-07-03"))
            seen.append(self.wait_new(seen[-1]))
        for older in seen[:-1]:
            self.assertEqual(self.fetch(since=older.header("Last-Modified")).status, 200)
        dates = [email.utils.parsedate_to_datetime(r.header("Last-Modified")) for r in seen]
        self.assertEqual(dates, sorted(set(dates)), "each version is dated after the one before")

    def test_deleting_the_newest_item(self):
        first = self.fetch("/blog.atom")
        time.sleep(1.1)
        os.remove(os.path.join(self.root, "content", "blog", "second.md"))
        second = self.wait_new(first, "/blog.atom")
        self.assertNotIn(b"Second Post", second.body)
        self.assertFalse(self.stale_304(first, "/blog.atom"))
        self.assertGreater(email.utils.parsedate_to_datetime(second.header("Last-Modified")),
                           email.utils.parsedate_to_datetime(first.header("Last-Modified")))

    def test_a_restart_never_moves_it_back(self):
        first = self.fetch()
        self.server.kill()
        time.sleep(1.1)
        # Changed while the daemon was down: the new process must not date it before what clients saw.
        self.edit("events/alpha.md", event_md("Alpha Summit", "2030-05-10T09:00", "duration: PT8H",
                                              'location: "Leipzig"', "kind: conference", "tags: [summit, europe]"))
        self.server = self.start(self.config)
        second = self.fetch()
        self.assertIn(b"Leipzig", second.body)
        self.assertFalse(self.stale_304(first))
        self.assertGreaterEqual(email.utils.parsedate_to_datetime(second.header("Last-Modified")),
                                email.utils.parsedate_to_datetime(first.header("Last-Modified")))


class DetectedSectionsTest(SiteTestCase):
    def test_a_new_top_level_folder_becomes_a_section_and_a_feed(self):
        # Without content.sections, sections follow the folders: no SIGHUP needed for a new one.
        root = self.make_root()
        write_file(os.path.join(root, "almanac.yaml"), 'site:\n  title: "Detected"\n  base_url: "https://d.example.org/"\n')
        write_file(os.path.join(root, "content", "events", "a.md"), event_md("Detected Event", "2031-01-01"))
        server = self.start(os.path.join(root, "almanac.yaml"))
        self.assertEqual(get(server.port, "/events.ics").status, 200)
        self.assertEqual(get(server.port, "/talks.rss").status, 404)
        write_file(os.path.join(root, "content", "talks", "first.md"), "---\ntitle: First Talk\ndate: 2025-01-01\n---\nHi.\n")
        poll(lambda: (lambda r: r.status == 200 and b"First Talk" in r.body)(get(server.port, "/talks.rss")),
             "the new folder's feed /talks.rss")
        self.assertIn(b"Detected Event", get(server.port, "/events.ics").body)
        shutil.rmtree(os.path.join(root, "content", "talks"))
        poll(lambda: get(server.port, "/talks.rss").status == 404, "the removed folder's feed to go")


class TimeTest(SiteTestCase):
    def test_publish_and_expiry_take_effect_at_the_moment(self):
        # No file changes: the daemon wakes up by itself at the next publishDate / expiryDate.
        root = self.make_root()
        config = make_site(root)
        soon = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0) + datetime.timedelta(seconds=3)
        stamp = soon.strftime("%Y-%m-%dT%H:%M:%SZ")
        write_file(os.path.join(root, "content", "events", "appearing.md"),
                   event_md("Appearing Event", "2031-02-01", f"publishDate: {stamp}"))
        write_file(os.path.join(root, "content", "events", "vanishing.md"),
                   event_md("Vanishing Event", "2031-02-02", f"expiryDate: {stamp}"))
        server = self.start(config)
        first = ics_summaries(get(server.port, "/events.ics").body)
        if time.time() < soon.timestamp():
            self.assertNotIn("Appearing Event", first)
            self.assertIn("Vanishing Event", first)
        poll(lambda: (lambda s: "Appearing Event" in s and "Vanishing Event" not in s)(
                 ics_summaries(get(server.port, "/events.ics").body)),
             "the publishDate and expiryDate to pass", timeout=10)
        self.assertGreaterEqual(time.time(), soon.timestamp())
        metrics = get(server.port, "/metrics").text()
        self.assertGreaterEqual(metric(metrics, "almanac_rebuilds_total", reason="time", result="ok"), 1)


class SignalTest(SiteTestCase):
    def setUp(self):
        self.root = self.make_root()
        self.config = make_site(self.root)
        self.server = self.start(self.config)
        self.port = self.server.port

    def calname(self):
        m = re.search(rb"X-WR-CALNAME:([^\r]*)\r\n", get(self.port, "/events.ics").body)
        return m.group(1).decode() if m else None

    def test_sighup_reloads_and_rejects_an_invalid_config(self):
        self.assertEqual(self.calname(), "Fixture events")
        write_file(self.config, CONFIG.format(events_title="Renamed calendar"))
        self.server.signal(signal.SIGHUP)
        poll(lambda: self.calname() == "Renamed calendar", "the new feed title")
        self.assertIn('"Renamed calendar"', get(self.port, "/events.json").text())
        self.server.wait_log(r"config reloaded")

        mark = self.server.log_size()
        write_file(self.config, CONFIG.format(events_title="Never served").replace(
            "timezone: Europe/Berlin", "timezone: Mars/Base"))
        self.server.signal(signal.SIGHUP)
        self.server.wait_log(r"config reload rejected", since=mark)
        # The level says the severity, once.
        self.assertRegex("\n".join(self.server.lines[mark:]), r"error: \S*almanac\.yaml:\d+:\d+: site\.timezone")
        self.assertEqual(self.calname(), "Renamed calendar")
        self.assertEqual(healthz(self.port)["status"], "ok")
        self.assertEqual(metric(get(self.port, "/metrics").text(), "almanac_config_reloads_rejected_total"), 1)
        self.assertIsNone(self.server.proc.poll())
        # The kept config still watches the content.
        write_file(os.path.join(self.root, "content", "events", "alpha.md"), event_md("Alpha After HUP", "2030-05-10"))
        poll(lambda: b"SUMMARY:Alpha After HUP" in get(self.port, "/events.ics").body, "an edit after the rejection")

    def stop_with(self, signum):
        conn = http.client.HTTPConnection(HOST, self.port, timeout=5)
        try:
            conn.request("GET", "/events.ics")
            r = conn.getresponse()
            r.read()
            self.assertEqual(r.status, 200)
            self.assertFalse(r.will_close)
            start = time.monotonic()
            self.server.signal(signum)
            status = self.server.wait_exit(5)
            took = time.monotonic() - start
        finally:
            conn.close()
        self.assertEqual(status, 0, self.server.log())
        self.assertLess(took, 5)
        self.server.wait_log(r"stopped")
        with self.assertRaises(OSError):
            socket.create_connection((HOST, self.port), timeout=1).close()

    def test_sigterm_with_an_open_keep_alive_connection(self):
        self.stop_with(signal.SIGTERM)

    def test_sigint_with_an_open_keep_alive_connection(self):
        self.stop_with(signal.SIGINT)


# ---------------------------------------------------------------------------------------------------
# 9. Start-up failures


class StartupFailureTest(SiteTestCase):
    def run_serve(self, config, listen):
        try:
            return subprocess.run([ALMANAC, "serve", "--config", config, "--listen", listen], stdin=subprocess.DEVNULL,
                                  capture_output=True, timeout=20, start_new_session=True)
        except subprocess.TimeoutExpired:
            self.fail("almanac serve kept running although it could not start")

    def test_port_in_use(self):
        config = make_site(self.make_root())
        with socket.socket() as taken:
            taken.bind((HOST, 0))
            taken.listen(1)
            port = taken.getsockname()[1]
            r = self.run_serve(config, f"{HOST}:{port}")
        err = r.stderr.decode()
        self.assertEqual(r.returncode, 1, err)
        self.assertRegex(err, rf"(?i)127\.0\.0\.1:{port}\b.*in use")

    def test_invalid_config(self):
        root = self.make_root()
        config = make_site(root)
        write_file(config, CONFIG.format(events_title="x").replace("timezone: Europe/Berlin", "timezone: Mars/Base"))
        r = self.run_serve(config, f"{HOST}:0")
        err = r.stderr.decode()
        self.assertEqual(r.returncode, 1, err)
        self.assertRegex(err, r"error: \S*almanac\.yaml:4:\d+: site\.timezone")
        self.assertNotIn("listening on", err)


# ---------------------------------------------------------------------------------------------------
# 10. The example site


class ExampleSiteTest(SiteTestCase):
    def copy_examples(self):
        site = os.path.join(self.make_root(), "examples")
        shutil.copytree(os.path.join(SOURCE_DIR, "examples"), site, symlinks=True)
        return site

    def test_every_feed_of_the_example_site(self):
        site = self.copy_examples()
        server = self.start(os.path.join(site, "almanac.yaml"))
        before = get(server.port, "/metrics").text()
        sizes = {}  # the length of every document asked for uncompressed, by path

        def fetch(path):
            r = get(server.port, path)
            sizes[path] = len(r.body)
            return r

        index = fetch("/")
        self.assertEqual(index.status, 200)
        feeds = sorted(set(re.findall(r'href="https://todogroup\.org/([a-z0-9_-]+\.(?:ics|rss|atom|json))"',
                                      index.text())))
        self.assertGreaterEqual(len(feeds), 10, feeds)
        for feed in feeds:
            with self.subTest(feed=feed):
                r = fetch("/" + feed)
                self.assertEqual(r.status, 200, r)
                self.assertGreater(len(r.body), 100)
        for zone in ("Europe/Stockholm", "Asia/Tokyo", "Australia/Sydney"):
            with self.subTest(zone=zone):
                r = fetch(f"/tz/{zone}/events.ics")
                self.assertEqual(r.status, 200)
                self.assertIn(f"X-WR-TIMEZONE:{zone}".encode(), r.body)
        h = healthz(server.port)
        self.assertEqual((h["error_count"], h["errors"]), (0, []))
        self.assertGreater(h["items"], 100)
        # Each document of 32 KiB to 1 MiB asked for uncompressed went out by sendfile from a sealed
        # copy of its own, made once (blog.rss, about 180 KB, is asked for twice).
        fetch("/blog.rss")
        after = get(server.port, "/metrics").text()
        sealed = [n for n in sizes.values() if 32 * 1024 <= n <= 1024 * 1024]
        self.assertIn(sizes["/blog.rss"], sealed)
        self.assertEqual(metric(before, "almanac_sealed_files"), 0)
        if metric(after, "almanac_snapshot_generation") == metric(before, "almanac_snapshot_generation"):
            self.assertEqual(metric(after, "almanac_sealed_files"), len(sealed), sizes)
            self.assertEqual(metric(after, "almanac_sealed_bytes"), sum(sealed), sizes)

    def test_with_base_url_every_link_to_a_document_is_served_here(self):
        # `scripts/dev.sh run` serves the example with --base-url at its own address: every link of the
        # index page to a feed or a view must then answer from this server, and the links to the site's
        # own pages (item permalinks) must keep the site's address, where those pages are.
        site = self.copy_examples()
        with socket.socket() as s:
            s.bind((HOST, 0))
            port = s.getsockname()[1]
        base = f"http://{HOST}:{port}/"
        server = self.start(os.path.join(site, "almanac.yaml"), listen=f"{HOST}:{port}", args=("--base-url", base))
        page = get(server.port, "/").text()
        links = set(re.findall(r'(?:href|src|action|content)="([^"]+)"', page))
        here = {l for l in links if l.startswith((base, f"webcal://{HOST}:{port}/"))}
        self.assertGreaterEqual(len(here), 12, sorted(links))
        for link in sorted(here):
            with self.subTest(link=link):
                path = "/" + link.split(f"{HOST}:{port}/", 1)[1]
                r = get(server.port, path.replace("&amp;", "&"))
                self.assertEqual(r.status, 200, r)
        # No link leads to the real site's copies of the feeds.
        elsewhere = [l for l in links if re.match(r"(https?|webcal)://todogroup\.org/.*\.(ics|rss|atom|json)\b", l)]
        self.assertEqual(elsewhere, [])
        # Feeds name this server as their own address; items keep their permalinks and ids.
        atom = get(server.port, "/blog.atom").text()
        self.assertIn(f'rel="self" type="application/atom+xml" href="{base}blog.atom"', atom)
        self.assertIn('<link rel="alternate" type="text/html" href="https://todogroup.org/blog/', atom)
        ics = get(server.port, "/events.ics").text()
        self.assertIn(f"URL:{base}events.ics", ics)
        self.assertNotIn(f"@{HOST}", ics)

    def test_served_bytes_equal_almanac_build(self):
        # One snapshot builder: `serve` and `build` must give the same bytes for every document.
        site = self.copy_examples()
        out = os.path.join(self.make_root(), "built")
        subprocess.run([ALMANAC, "build", "--config", os.path.join(site, "almanac.yaml"), "--out", out],
                       check=True, timeout=120, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        server = self.start(os.path.join(site, "almanac.yaml"))
        compared = 0
        for root, _, files in os.walk(out):
            for name in files:
                rel = os.path.relpath(os.path.join(root, name), out)
                if rel == "index.html":
                    continue  # its upcoming events depend on the moment it was made
                with open(os.path.join(root, name), "rb") as f:
                    built = f.read()
                with self.subTest(document=rel):
                    r = get(server.port, "/" + rel)
                    self.assertEqual(r.status, 200)
                    self.assertEqual(r.body, built)
                compared += 1
        self.assertGreaterEqual(compared, 70)

    def test_an_edit_during_start_up_is_served(self):
        # The file is rewritten once the first build has read it, while the server is still starting:
        # the change must not be lost (the watch has to exist before the scan, or be followed by a rescan).
        site = self.copy_examples()
        server = self.start(os.path.join(site, "almanac.yaml"), wait=False)
        server.wait_log(r"generation 1 \(start", START_DEADLINE)
        path = os.path.join(site, "content", "events", "ospocon-europe-2026.md")
        with open(path, encoding="utf-8") as f:
            text = f.read()
        write_file(path, text.replace('title: "OSPOCon Europe 2026"', 'title: "Edited During Start"'))
        watching_before_edit = "info: watching " in server.log()
        server.wait_ready()
        poll(lambda: b"SUMMARY:Edited During Start" in get(server.port, "/events.ics").body,
             "the edit made during start-up to be served (the edit was written "
             + ("after" if watching_before_edit else "before") + " the daemon logged 'watching'); log:\n"
             + "\n".join(line for line in server.log().splitlines() if "warning" not in line))


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit("usage: serve_test.py ALMANAC_BINARY SOURCE_DIR [unittest arguments]")
    ALMANAC, SOURCE_DIR = (os.path.abspath(a) for a in sys.argv[1:3])
    unittest.main(argv=[sys.argv[0]] + sys.argv[3:], verbosity=2)
