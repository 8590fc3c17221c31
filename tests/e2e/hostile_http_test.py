#!/usr/bin/env python3
# Hostile HTTP clients against `almanac serve` on a small fixture site, over real loopback sockets:
# oversized and malformed requests, slowloris, connection floods (also under a low open-file limit),
# path traversal, absurd ?tz= values and thousands of zone views. Each attack gets a 4xx or a closed
# connection (the only 5xx is the documented 503 at the connection cap), nothing hangs, memory stays
# bounded, and a normal client is served quickly during and after each attack.
# usage: hostile_http_test.py ALMANAC_BINARY SOURCE_DIR [unittest arguments]
import datetime
import http.server
import os
import re
import resource
import selectors
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hostile_support import (HOST, Server, event_md, get, healthz, ics_summaries, metric, poll,  # noqa: E402
                             timed_get, tz_database_files, write_file)

ALMANAC = SOURCE_DIR = None
QUICK = 2.0  # seconds a normal request may take while the server is under attack
RSS_LIMIT_KIB = 200 * 1024  # the fixture site needs about 20 MB; floods must not grow it far
if "ASAN_OPTIONS" in os.environ:  # the sanitizer stage: shadow memory and the free quarantine add ~2x
    RSS_LIMIT_KIB *= 3

CONFIG = """\
site:
  title: "Hostile"
  base_url: "https://cal.example.org/"
  timezone: Europe/Berlin
content:
  dir: content
  sections:
    events: {{ type: event }}
    blog: {{ type: post }}
feeds:
  - name: events
    title: "Events"
    sections: [events]
    formats: [ics, rss, atom, json]
  - name: blog
    title: "Blog"
    sections: [blog]
    formats: [rss, atom, json]
timezones:
  prerender: [America/New_York]
  allow_any: true
server:
  limits:
    max_header_bytes: 16384
    header_timeout: 1s
    idle_timeout: 2s
    max_connections: {max_connections}
    max_cached_zones: 32
"""

GOOD_EVENTS = ["Alpha Summit", "Beta Meetup", "Gamma Workshop"]

# A page on another origin that fetches FEED as a web calendar would, and writes what its script could
# read into <pre id="out">.
PAGE = """<!DOCTYPE html><html><body><pre id="out">pending</pre><script>
(async () => {
  const out = [];
  try {
    const first = await fetch("FEED");
    const etag = first.headers.get("ETag");
    out.push(`first ${first.status} etag=${etag} last-modified=${first.headers.get("Last-Modified")}`);
    await first.text();
    const again = await fetch("FEED", {headers: {"If-None-Match": etag}});
    out.push(`again ${again.status}`);
    const missing = await fetch("FEED".replace("events.ics", "nope.ics"), {headers: {"If-None-Match": etag}});
    out.push(`missing ${missing.status} ${(await missing.text()).trim()}`);
  } catch (e) {
    out.push(`error ${e}`);
  }
  document.getElementById("out").textContent = out.join("\\n");
})();
</script></body></html>
"""


def make_site(root, max_connections=200):
    write_file(os.path.join(root, "almanac.yaml"), CONFIG.format(max_connections=max_connections))
    content = os.path.join(root, "content")
    write_file(os.path.join(content, "events/alpha.md"),
               event_md("Alpha Summit", "2030-05-10T09:00", "duration: PT8H", "tags: [summit]"))
    write_file(os.path.join(content, "events/beta.md"),
               event_md("Beta Meetup", "2025-01-08T18:00", "duration: PT2H", "timezone: America/Los_Angeles",
                        'rrule: "FREQ=MONTHLY;BYDAY=2WE"', "tags: [local]"))
    write_file(os.path.join(content, "events/gamma.md"), event_md("Gamma Workshop", "2030-07-01", "end: 2030-07-03"))
    write_file(os.path.join(content, "blog/2025-01-01-hello.md"), '---\ntitle: "Hello"\ndate: 2025-01-01\n---\nHi.\n')
    return os.path.join(root, "almanac.yaml")


def raw(port, data, timeout=6.0):
    """Sends `data` on a new connection and reads until the server closes it (or `timeout`). Returns
    (status or None when no response came, response bytes, seconds, closed by the server)."""
    start = time.monotonic()
    out = b""
    closed = False
    with socket.create_connection((HOST, port), timeout=timeout) as s:
        try:
            s.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered and closed before reading everything: fine
        s.settimeout(0.2)
        while time.monotonic() - start < timeout:
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                continue
            except ConnectionResetError:
                closed = True
                break
            if not chunk:
                closed = True
                break
            out += chunk
    m = re.match(rb"HTTP/1\.[01] (\d{3}) ", out)
    return (int(m.group(1)) if m else None), out, time.monotonic() - start, closed


def raise_open_file_limit(wanted):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(wanted, hard), hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def flood(port, count, request=b"GET /healthz HTTP/1.1\r\nHost: flood\r\n\r\n", deadline=10.0, during=None):
    """Opens `count` connections at once and sends `request` on each. Returns ({status or "closed" or
    "silent": count}, {status: [header blocks]}, sockets still open). `during()` runs while they are all open."""
    sel = selectors.DefaultSelector()
    socks = []
    for _ in range(count):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        try:
            s.connect((HOST, port))
        except BlockingIOError:
            pass
        socks.append(s)
        sel.register(s, selectors.EVENT_WRITE)
    outcome = {}
    heads = {}
    waiting = set(socks)
    sent = set()
    end = time.monotonic() + deadline
    during_done = during is None
    while waiting and time.monotonic() < end:
        for key, events in sel.select(0.1):
            s = key.fileobj
            if s not in sent and events & selectors.EVENT_WRITE:
                try:
                    s.send(request)
                except (BlockingIOError, BrokenPipeError, ConnectionResetError, ConnectionRefusedError):
                    pass
                sent.add(s)
                sel.modify(s, selectors.EVENT_READ)
                continue
            try:
                data = s.recv(4096)
            except BlockingIOError:
                continue
            except (ConnectionResetError, ConnectionRefusedError):
                data = b""
            m = re.match(rb"HTTP/1\.1 (\d{3}) ", data)
            what = int(m.group(1)) if m else "closed"
            outcome[what] = outcome.get(what, 0) + 1
            if m:
                heads.setdefault(what, []).append(data.split(b"\r\n\r\n")[0])
            sel.unregister(s)
            waiting.discard(s)
        if not during_done and len(sent) == count:
            during()
            during_done = True
    outcome["silent"] = len(waiting)
    sel.close()
    return outcome, heads, socks


def close_all(socks):
    for s in socks:
        s.close()


class HostileHttpTest(unittest.TestCase):
    """One server for every attack; each test checks a normal client afterwards."""

    @classmethod
    def setUpClass(cls):
        cls.root = tempfile.mkdtemp(prefix="almanac-hostile-http-")
        try:
            cls.server = Server(ALMANAC, make_site(cls.root))
        except BaseException:
            shutil.rmtree(cls.root, True)
            raise
        cls.port = cls.server.port

    @classmethod
    def tearDownClass(cls):
        cls.server.kill()
        shutil.rmtree(cls.root, True)

    def tearDown(self):
        self.assertTrue(self.server.alive(), "the server died; log:\n" + self.server.log())
        self.assert_served()
        self.assertLess(self.server.rss_kib(), RSS_LIMIT_KIB)

    def assert_served(self, within=QUICK):
        r, took = timed_get(self.port, "/events.ics", timeout=within + 3)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(ics_summaries(r.body), sorted(GOOD_EVENTS))
        self.assertLess(took, within, "a normal request was slow")

    def assert_refused(self, data, what, statuses=range(400, 500)):
        status, out, took, closed = raw(self.port, data)
        self.assertLess(took, 5.0, f"{what}: no answer and no close (a hang)")
        self.assertTrue(closed or status is not None, f"{what}: neither answered nor closed")
        if status is not None:
            self.assertIn(status, statuses, f"{what}: {out[:300]!r}")
        return status, out

    # --- Oversized and malformed requests ------------------------------------------------------------

    def test_oversized_request_line_and_headers(self):
        cases = {
            "100 KB request line": (414, b"GET /" + b"a" * 100_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n"),
            "20 KB request line": (414, b"GET /events.ics?tag=" + b"a" * 20_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n"),
            "20 KB header": (431, b"GET /events.ics HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * 20_000 + b"\r\n\r\n"),
            "10,000 headers": (431, b"GET /events.ics HTTP/1.1\r\nHost: x\r\n" + b"X-N: 1\r\n" * 10_000 + b"\r\n"),
            "1 MB of header without end": (431, b"GET /events.ics HTTP/1.1\r\nX: " + b"c" * 1_000_000),
        }
        for what, (expected, data) in cases.items():
            with self.subTest(what):
                status, _ = self.assert_refused(data, what)
                if status is not None:
                    self.assertEqual(status, expected, what)

    def test_malformed_requests(self):
        cases = {
            "garbage": b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 TLS hello\r\n\r\n",
            "words": b"HELLO THERE\r\n\r\n",
            "method only": b"GET\r\n\r\n",
            "missing version": b"GET /events.ics\r\n\r\n",
            "HTTP/0.9": b"GET /events.ics\r\n",
            "HTTP/2 preface": b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
            "HTTP/2.0 request": b"GET /events.ics HTTP/2.0\r\nHost: x\r\n\r\n",
            "HTTP/1.10": b"GET /events.ics HTTP/1.10\r\nHost: x\r\n\r\n",
            "HTTP/3.0": b"GET /events.ics HTTP/3.0\r\nHost: x\r\n\r\n",
            "bad method": b"G@T /events.ics HTTP/1.1\r\nHost: x\r\n\r\n",
            "unknown method": b"BREW /events.ics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
            "POST": b"POST /events.ics HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc",
            "5000-byte method": b"M" * 5000 + b" / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
            "huge Content-Length": b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999999\r\n\r\n",
            "large Content-Length": b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 10000000\r\n\r\n",
            "negative Content-Length": b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
            "text Content-Length": b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: ten\r\n\r\n",
            "two Content-Lengths": b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
            "chunked garbage": b"GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nxx\r\n0\r\n\r\n",
            "chunk size overflow": b"GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFFFFFFFFFFFF\r\n",
            "chunked and Content-Length": (b"GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                                           b"Content-Length: 5\r\n\r\n0\r\n\r\n"),
            "unknown transfer coding": b"GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: zip\r\n\r\n",
            "NUL in request line": b"GET /events.ics\x00 HTTP/1.1\r\nHost: x\r\n\r\n",
            "NUL in header": b"GET /events.ics HTTP/1.1\r\nHost: x\x00y\r\n\r\n",
            "bare LF": b"GET /events.ics HTTP/1.1\nHost: x\n\n",
            "bare CR": b"GET /events.ics HTTP/1.1\rHost: x\r\r",
            "header without colon": b"GET /events.ics HTTP/1.1\r\nHost x\r\n\r\n",
            "space before colon": b"GET /events.ics HTTP/1.1\r\nHost : x\r\n\r\n",
            "tab in target": b"GET /events\t.ics HTTP/1.1\r\nHost: x\r\n\r\n",
            "two spaces": b"GET  /events.ics HTTP/1.1\r\nHost: x\r\n\r\n",
            "invalid UTF-8 target": b"GET /\xff\xfe.ics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
            "asterisk target": b"GET * HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
            "no Host": b"GET /events.ics HTTP/1.1\r\n\r\n",
            "two Hosts": b"GET /events.ics HTTP/1.1\r\nHost: x\r\nHost: x\r\n\r\n",
            "Host with a path": b"GET /events.ics HTTP/1.1\r\nHost: x/events.ics\r\n\r\n",
            "Host with user info": b"GET /events.ics HTTP/1.1\r\nHost: me@x\r\n\r\n",
            "HTTP/1.0 chunked": (b"GET /events.ics HTTP/1.0\r\nConnection: keep-alive\r\n"
                                 b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /events.ics HTTP/1.0\r\n\r\n"),
        }
        for what, data in cases.items():
            with self.subTest(what):
                self.assert_refused(data, what)
        self.assertEqual(healthz(self.port)["status"], "ok")

    # --- Protocol corners and cross-origin requests ---------------------------------------------------
    # Each corner was once answered wrongly; the answers are what RFC 9112 and RFC 9110 prescribe.
    # Cross-origin: Chromium's preflight sent by curl, and Chromium itself.

    def exchange(self, data):
        """Sends `data` on a new connection; returns (the status of every response, the bytes, closed)."""
        _, out, _, closed = raw(self.port, data)
        return [int(m) for m in re.findall(rb"(?:^|\n)HTTP/1\.[01] (\d{3}) ", out)], out, closed

    def test_one_valid_host(self):
        # RFC 9112 §3.2: one Host, valid; each refusal closes the connection.
        for host in (b"", b"Host: x\r\nHost: x\r\n", b"Host: a b\r\n", b"Host: x/y\r\n", b"Host: [::1\r\n"):
            with self.subTest(host=host):
                statuses, out, closed = self.exchange(b"GET /events.ics HTTP/1.1\r\n" + host + b"\r\n"
                                                      b"GET /events.ics HTTP/1.1\r\nHost: x\r\n\r\n")
                self.assertEqual(statuses, [400], out[:300])
                self.assertTrue(closed)
        for host in (b"cal.example.org", b"cal.example.org:443", b"127.0.0.1:8080", b"[::1]:8080", b""):
            with self.subTest(host=host):
                statuses, out, _ = self.exchange(b"GET /events.ics HTTP/1.1\r\nHost: " + host +
                                                 b"\r\nConnection: close\r\n\r\n")
                self.assertEqual(statuses, [200], out[:300])

    def test_transfer_encoding_in_http10(self):
        # RFC 9112 §6.1: Transfer-Encoding in HTTP/1.0 is faulty framing: 400, and the request after it is
        # not answered.
        statuses, out, closed = self.exchange(b"GET /events.ics HTTP/1.0\r\nConnection: keep-alive\r\n"
                                              b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
                                              b"GET /events.ics HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        self.assertEqual(statuses, [400], out[:300])
        self.assertTrue(closed)

    def test_expect_continue(self):
        # Expect: 100-continue: the final answer at once (405 for POST), not a 408 once the header timeout
        # has passed waiting for a body the client holds back.
        statuses, out, closed = self.exchange(b"POST /events.ics HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\n"
                                              b"Content-Length: 5\r\nExpect: 100-continue\r\n\r\n")
        self.assertEqual(statuses, [405], out[:300])
        self.assertIn(b"\r\nAllow: GET, HEAD\r\n", out)
        self.assertTrue(closed)
        # curl waits for the 100 (up to a second) before it sends the body: it gets the 405 and stops.
        curl = subprocess.run(["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "5",
                               "-H", "Expect: 100-continue", "--data-binary", "@-",
                               f"http://{HOST}:{self.port}/events.ics"],
                              input=b"x" * 10_000, capture_output=True, timeout=10)
        self.assertEqual(curl.stdout, b"405", curl.stderr)

    def test_empty_lines_before_a_request(self):
        # RFC 9112 §2.2: empty lines before a request line are ignored, first on a connection or between
        # kept-alive requests.
        statuses, out, _ = self.exchange(b"\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\n\r\n\r\n"
                                         b"GET /events.ics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        self.assertEqual(statuses, [200, 200], out[:300])

    def test_later_minor_version(self):
        # RFC 9110 §2.5: HTTP/1.2 is answered as 1.1.
        statuses, out, _ = self.exchange(b"GET /events.ics HTTP/1.2\r\nHost: x\r\nConnection: close\r\n\r\n")
        self.assertEqual(statuses, [200], out[:300])
        self.assertTrue(out.startswith(b"HTTP/1.1 200 "), out[:100])

    def test_repeated_content_length(self):
        # RFC 9112 §6.3: the same Content-Length twice is that length; two different ones are an error.
        statuses, out, _ = self.exchange(b"GET /events.ics HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n"
                                         b"Content-Length: 3\r\n\r\nabc"
                                         b"GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 2, 2\r\n"
                                         b"Connection: close\r\n\r\nde")
        self.assertEqual(statuses, [200, 200], out[:300])
        statuses, out, _ = self.exchange(b"GET /events.ics HTTP/1.1\r\nHost: x\r\nContent-Length: 3, 4\r\n\r\nabcd")
        self.assertEqual(statuses, [400], out[:300])

    def test_query_parameters(self):
        # Absolute-form keeps its query; '+' in a zone is a '+'; an unknown parameter, however encoded,
        # is ignored.
        for target, expected in ((b"http://cal.example.org?tz=Asia/Tokyo", b"Asia/Tokyo"),
                                 (b"http://cal.example.org/events.ics?tz=Asia/Tokyo", b"X-WR-TIMEZONE:Asia/Tokyo"),
                                 (b"/events.ics?tz=Etc/GMT+5", b"X-WR-TIMEZONE:Etc/GMT+5"),
                                 (b"/events.ics?utm_source=%zz&tz=Etc/GMT-3", b"X-WR-TIMEZONE:Etc/GMT-3")):
            with self.subTest(target=target):
                statuses, out, _ = self.exchange(b"GET " + target +
                                                 b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                self.assertEqual(statuses, [200], out[:300])
                self.assertIn(expected, out)

    def test_cross_origin_requests_as_chromium_sends_them(self):
        # The preflight Chromium sends before a fetch() with If-None-Match from another origin, header
        # for header (services/network/cors/preflight_controller.cc: lower-case, comma-joined names), then
        # the request itself. The preflight's answer must let it through by the Fetch standard's rules.
        origin = "http://localhost:3000"
        url = f"http://{HOST}:{self.port}/events.ics"
        chrome = ["-H", "Connection: keep-alive", "-H", "Accept: */*", "-H", "Origin: " + origin,
                  "-H", "User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
                  "Chrome/120.0.0.0 Safari/537.36",
                  "-H", "Sec-Fetch-Mode: cors", "-H", "Sec-Fetch-Site: cross-site", "-H", "Sec-Fetch-Dest: empty",
                  "-H", "Referer: " + origin + "/", "-H", "Accept-Encoding: gzip, deflate, br",
                  "-H", "Accept-Language: en-US,en;q=0.9"]

        def curl(*args, target=url):
            done = subprocess.run(["curl", "-sS", "--http1.1", "-D", "-", "-o", "/dev/null", "--max-time", "5",
                                   *chrome, *args, target], capture_output=True, timeout=10)
            self.assertEqual(done.returncode, 0, done.stderr)
            lines = done.stdout.decode().split("\r\n")
            headers = {}
            for line in lines[1:]:
                if ":" in line:
                    name, value = line.split(":", 1)
                    headers[name.strip().lower()] = value.strip()
            return int(lines[0].split()[1]), headers

        status, pre = curl("-X", "OPTIONS", "-H", "Access-Control-Request-Method: GET",
                           "-H", "Access-Control-Request-Headers: cache-control,if-modified-since,if-none-match")
        self.assertTrue(200 <= status <= 299, (status, pre))
        self.assertIn(pre.get("access-control-allow-origin"), ("*", origin))
        self.assertIn("GET", [m.strip() for m in pre.get("access-control-allow-methods", "").split(",")])
        allowed = {h.strip().lower() for h in pre.get("access-control-allow-headers", "").split(",")}
        self.assertLessEqual({"cache-control", "if-modified-since", "if-none-match"}, allowed)
        self.assertGreater(int(pre.get("access-control-max-age", "0")), 0)

        status, first = curl()
        self.assertEqual(status, 200)
        self.assertEqual(first.get("access-control-allow-origin"), "*")
        exposed = {h.strip().lower() for h in first.get("access-control-expose-headers", "").split(",")}
        self.assertLessEqual({"etag", "last-modified"}, exposed)
        status, again = curl("-H", "If-None-Match: " + first["etag"], "-H", "Cache-Control: max-age=0")
        self.assertEqual(status, 304)
        self.assertEqual(again.get("access-control-allow-origin"), "*")
        status, missing = curl("-H", "If-None-Match: " + first["etag"], target=url.replace("events.ics", "nope.ics"))
        self.assertEqual(status, 404)
        self.assertEqual(missing.get("access-control-allow-origin"), "*")

    def test_cross_origin_revalidation_in_chromium(self):
        # A page on another origin (another port) fetches a feed, reads its validators, revalidates with
        # If-None-Match (which makes Chromium send a preflight first) and reads a 404's reason: what a web
        # calendar does. Chromium decides by its own CORS rules whether the script may see each answer.
        wanted = os.environ.get("CHROMIUM")
        chromium = shutil.which(wanted) if wanted else shutil.which("chromium") or shutil.which("chromium-browser")
        self.assertIsNotNone(chromium, "no chromium on PATH (or $CHROMIUM): `apt-get install chromium`")
        page = PAGE.replace("FEED", f"http://{HOST}:{self.port}/events.ics").encode()

        class PageHandler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (the name http.server calls)
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(page)))
                self.end_headers()
                self.wfile.write(page)

            def log_message(self, *args):
                pass

        origin = http.server.ThreadingHTTPServer((HOST, 0), PageHandler)
        threading.Thread(target=origin.serve_forever, daemon=True).start()
        profile = tempfile.mkdtemp(prefix="almanac-chromium-")
        try:
            done = subprocess.run([chromium, "--headless=new", "--no-sandbox", "--disable-gpu",
                                   "--disable-dev-shm-usage", f"--user-data-dir={profile}", "--no-first-run",
                                   "--disable-extensions", "--disable-background-networking",
                                   "--disable-component-update",
                                   "--virtual-time-budget=10000", "--dump-dom",
                                   f"http://{HOST}:{origin.server_address[1]}/"],
                                  capture_output=True, timeout=90)
        finally:
            origin.shutdown()
            origin.server_close()
            shutil.rmtree(profile, True)
        m = re.search(rb'<pre id="out">(.*?)</pre>', done.stdout, re.S)
        self.assertIsNotNone(m, done.stderr[-2000:])
        lines = m.group(1).decode().split("\n")
        self.assertRegex(lines[0], r'^first 200 etag="[^"]+" last-modified=\w{3}, ')
        self.assertEqual(lines[1:], ["again 304", "missing 404 no feed named 'nope'"])

    # --- Slow clients --------------------------------------------------------------------------------

    def test_slowloris_is_closed_by_the_header_timeout(self):
        # 30 clients send a header one byte every 0.2 s, forever. header_timeout is 1 s: each must be
        # closed (with 408) about a second after its first byte, and a normal client served meanwhile.
        clients = []
        for _ in range(30):
            s = socket.create_connection((HOST, self.port), timeout=5)
            s.setblocking(False)
            clients.append({"sock": s, "start": time.monotonic(), "closed": None, "data": b""})
        header = b"GET /events.ics HTTP/1.1\r\nHost: slow\r\nX-Slow: " + b"z" * 200
        served_during = None
        for step in range(40):  # 8 s at most
            for c in clients:
                if c["closed"] is not None:
                    continue
                try:
                    c["sock"].send(header[step:step + 1] if step < len(header) else b"z")
                except (BrokenPipeError, ConnectionResetError):
                    c["closed"] = time.monotonic() - c["start"]
                    continue
                try:
                    data = c["sock"].recv(4096)
                    c["data"] += data
                    if not data:
                        c["closed"] = time.monotonic() - c["start"]
                except BlockingIOError:
                    pass
                except ConnectionResetError:
                    c["closed"] = time.monotonic() - c["start"]
            if step == 2:
                r, took = timed_get(self.port, "/events.ics")
                served_during = (r.status, took)
            if all(c["closed"] is not None for c in clients):
                break
            time.sleep(0.2)
        for c in clients:
            c["sock"].close()
        self.assertEqual(served_during[0], 200)
        self.assertLess(served_during[1], QUICK)
        for c in clients:
            self.assertIsNotNone(c["closed"], "a slowloris connection was kept open for 8 s")
            self.assertLess(c["closed"], 3.5)
            self.assertGreater(c["closed"], 0.8)
            if c["data"]:
                self.assertRegex(c["data"], rb"^HTTP/1\.1 408 ")

    def test_slow_body_gets_408(self):
        status, _, took, _ = raw(self.port, b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0123456789")
        self.assertEqual(status, 408)
        self.assertLess(took, 3.5)

    def test_a_client_that_never_reads(self):
        # 20,000 pipelined requests and not one response read: the server must stop reading while its
        # writes cannot proceed, not buffer every answer, and drop the client after idle_timeout.
        requests = b"GET /events.ics HTTP/1.1\r\nHost: x\r\n\r\n" * 20_000
        s = socket.create_connection((HOST, self.port), timeout=5)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.setblocking(False)
        sent = 0
        end = time.monotonic() + 8
        closed_at = None
        while time.monotonic() < end:
            try:
                sent += s.send(requests[sent:sent + 65536]) if sent < len(requests) else 0
            except BlockingIOError:
                pass
            except (BrokenPipeError, ConnectionResetError):
                closed_at = time.monotonic()
                break
            if sent >= len(requests):
                break
            time.sleep(0.05)
        self.assertLess(self.server.rss_kib(), RSS_LIMIT_KIB)
        self.assert_served()
        # The server gave up on this client idle_timeout (2 s) after its write stalled: what it sent
        # before ends with the close, well before 10 s.
        closed = closed_at is not None
        s.setblocking(True)
        s.settimeout(10)
        try:
            while not closed:
                closed = not s.recv(1 << 20)
        except ConnectionResetError:
            closed = True
        except socket.timeout:
            pass
        s.close()
        self.assertTrue(closed, "a client that never reads was kept for more than 10 s")

    # --- Connection floods ---------------------------------------------------------------------------

    def test_connection_flood_beyond_the_cap(self):
        raise_open_file_limit(8000)
        during = {}

        def normal_client():
            r, took = timed_get(self.port, "/events.ics")
            during["reply"], during["took"] = r, took

        outcome, heads, socks = flood(self.port, 2500, during=normal_client)
        try:
            self.assertEqual(outcome["silent"], 0, outcome)
            self.assertEqual(set(outcome) - {200, 503, "closed", "silent"}, set(), outcome)
            self.assertLessEqual(outcome.get(200, 0), 200, "max_connections is 200")
            self.assertGreaterEqual(outcome.get(503, 0), 2000, outcome)
            for head in heads[503]:
                self.assertIn(b"\r\nRetry-After: 1", head)
            # While the cap is full, a new client gets the documented 503, at once.
            self.assertEqual(during["reply"].status, 503)
            self.assertLess(during["took"], QUICK)
            self.assertLess(self.server.rss_kib(), RSS_LIMIT_KIB)
        finally:
            close_all(socks)
        poll(lambda: get(self.port, "/events.ics").status == 200, "service after the flood", timeout=5)
        poll(lambda: metric(get(self.port, "/metrics").text(), "almanac_open_connections") <= 2,
             "the flood's connections to be released", timeout=5)

    def test_idle_connections_beyond_the_cap_are_closed_by_the_header_timeout(self):
        # Connections that never send anything: the cap's 503 or, for the admitted ones, the close
        # after header_timeout. None stays open.
        raise_open_file_limit(8000)
        outcome, _, socks = flood(self.port, 2000, request=b"", deadline=6)
        close_all(socks)
        self.assertEqual(outcome["silent"], 0, outcome)
        self.assertGreaterEqual(outcome.get(503, 0), 1800, outcome)
        self.assertEqual(set(outcome) - {503, "closed", "silent"}, set(), outcome)

    # --- Paths and zones -----------------------------------------------------------------------------

    def test_path_traversal(self):
        targets = [
            "/../../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd", "/%2E%2E%2F%2E%2E%2Fetc%2Fpasswd", "/tz/../../..",
            "/tz/../../../etc/passwd", "/tz/..%2F..%2F..%2Fetc/events.ics", "/tz/Europe/../../../etc/passwd/events.ics",
            "/..\\..\\etc\\passwd", "/tz\\..\\..\\etc\\passwd", "/events.ics%00.html", "/%00", "/etc/passwd%00",
            "/%252e%252e/%252e%252e/etc/passwd", "/%25%32%65%25%32%65/etc/passwd", "http://host/../../etc/passwd",
            "http://host/tz/../../events.ics", "http://evil.example/%2e%2e/etc/passwd", "//etc/passwd",
            "/./events.ics/..", "/tz/%2e%2e/%2e%2e/usr/share/zoneinfo/UTC/events.ics", "/usr/share/zoneinfo/UTC",
            "/tz/../../usr/share/zoneinfo/Europe/Berlin/events.ics", "/events.ics/../../../etc/passwd",
        ]
        for target in targets:
            with self.subTest(target):
                status, out = self.assert_refused(
                    f"GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode(), target)
                self.assertIn(status, (400, 404), out[:300])
                self.assertNotIn(b"root:", out)
                self.assertNotIn(b"TZif", out)

    def test_absurd_time_zones(self):
        cases = ["A" * 10240, "../../etc/passwd", "..%2F..%2Fetc%2Fpasswd", "/etc/passwd", "%00", "UTC%00",
                 "Etc/GMT%2B99", "Etc/GMT-15", "posixrules", "right/UTC", "right/Europe/Berlin", "posix/Europe/Berlin",
                 "zone.tab", "zone1970.tab", "tzdata.zi", "leap-seconds.list", "leapseconds", "iso3166.tab",
                 "localtime", "Factory", "Europe", "Europe/", "Europe//Berlin", "europe/berlin", "%C3%A9t%C3%A9",
                 "Europe/Berlin%0d%0aX-Injected:%201", "Europe/Berlin/../Paris", "SystemV/AST4", "+VERSION"]
        for tz in cases:
            for path in (f"/events.ics?tz={tz}", f"/?tz={tz}", f"/tz/{tz}/events.json"):
                with self.subTest(path[:80]):
                    status, out = self.assert_refused(
                        f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode(), path[:80])
                    self.assertIn(status, (400, 404), out[:300])
                    body = out.split(b"\r\n\r\n", 1)[1]
                    self.assertLessEqual(len(body), 300, "the reason repeats at most 100 bytes of the request")
                    self.assertNotIn(b"X-Injected", out.split(b"\r\n\r\n", 1)[0])

    def test_thousands_of_distinct_zone_views(self):
        # Every zone of the tz database in three formats, then 500 tag filters: each view is rendered once
        # on request; the cache keeps at most max_cached_zones (32) of them, and memory stays bounded.
        zones = tz_database_files()
        self.assertGreater(len(zones), 400)
        paths = [f"/events.{ext}?tz={zone.replace('+', '%2B')}" for ext in ("ics", "json", "atom") for zone in zones]
        paths += [f"/events.rss?tag=t{i}" for i in range(500)]
        statuses = {}
        slowest_normal = [0.0]
        stop = threading.Event()

        def normal_client():
            while not stop.is_set():
                r, took = timed_get(self.port, "/events.ics")
                assert r.status == 200, r
                slowest_normal[0] = max(slowest_normal[0], took)
                time.sleep(0.05)

        def worker(part):
            import http.client
            conn = http.client.HTTPConnection(HOST, self.port, timeout=10)
            for path in part:
                for attempt in range(2):  # idle keep-alive connections may be closed between requests
                    try:
                        conn.request("GET", path)
                        r = conn.getresponse()
                        r.read()
                        statuses[r.status] = statuses.get(r.status, 0) + 1
                        break
                    except (http.client.HTTPException, ConnectionError):
                        conn.close()
                        conn = http.client.HTTPConnection(HOST, self.port, timeout=10)
            conn.close()

        normal = threading.Thread(target=normal_client)
        normal.start()
        workers = [threading.Thread(target=worker, args=(paths[i::2],)) for i in range(2)]
        start = time.monotonic()
        try:
            for w in workers:
                w.start()
            for w in workers:
                w.join(100)
        finally:
            stop.set()
            normal.join(10)
        took = time.monotonic() - start
        self.assertEqual(set(statuses) - {200, 404}, set(), statuses)
        self.assertEqual(sum(statuses.values()), len(paths), statuses)
        self.assertGreater(statuses.get(200, 0), 0.9 * len(paths), statuses)
        self.assertLess(took, 90)
        self.assertLess(slowest_normal[0], QUICK, "a normal client waited during the zone flood")
        cached = metric(get(self.port, "/metrics").text(), "almanac_view_cache_entries")
        self.assertGreater(cached, 0)
        self.assertLessEqual(cached, 32)
        self.assertLess(self.server.rss_kib(), RSS_LIMIT_KIB)


class LowDescriptorLimitTest(unittest.TestCase):
    """A server allowed only 256 open files (soft and hard) with the default max_connections of 10000,
    as a shell or container may start it: a flood must neither leave clients waiting in silence nor
    take the descriptors a rebuild needs (before, a rebuild during the flood listed no folder and
    emptied every feed)."""

    def test_flood_during_a_rebuild(self):
        root = tempfile.mkdtemp(prefix="almanac-hostile-fd-")
        self.addCleanup(shutil.rmtree, root, True)
        config = make_site(root, max_connections=10000)

        def low_limit():
            resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256))

        server = Server(ALMANAC, config, preexec=low_limit)
        self.addCleanup(server.kill)
        server.wait_log(r"max_connections is 10000, but this process may open only 256 files")
        raise_open_file_limit(4000)
        edited = os.path.join(root, "content", "events", "delta.md")

        def edit_during_the_flood():
            write_file(edited, event_md("Delta Added During Flood", "2030-09-01T10:00", "duration: PT1H"))

        mark = server.log_size()
        outcome, _, socks = flood(server.port, 1500, during=edit_during_the_flood)
        try:
            self.assertEqual(outcome["silent"], 0, outcome)
            self.assertGreater(outcome.get(503, 0), 0, outcome)
            self.assertEqual(set(outcome) - {200, 503, "closed", "silent"}, set(), outcome)
        finally:
            close_all(socks)
        want = sorted(GOOD_EVENTS + ["Delta Added During Flood"])

        def summaries():
            # Right after the flood's sockets are closed the server may still hold all 256 of its
            # descriptors, and close a new connection as it closed some of the flood's ("closed"
            # above): asked again until it answers, within the same 10 s.
            try:
                return ics_summaries(get(server.port, "/events.ics").body)
            except ConnectionError:
                return None

        poll(lambda: summaries() == want, "every event, and the edit made during the flood", timeout=10)
        self.assertEqual(healthz(server.port)["error_count"], 0)
        self.assertNotRegex(server.log(mark), r"cannot list|Too many open files|removed events/")


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit("usage: hostile_http_test.py ALMANAC_BINARY SOURCE_DIR [unittest arguments]")
    ALMANAC, SOURCE_DIR = (os.path.abspath(a) for a in sys.argv[1:3])
    unittest.main(argv=[sys.argv[0]] + sys.argv[3:], verbosity=2)
