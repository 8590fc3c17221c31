#!/usr/bin/env python3
# The index page (`GET /`) in a real browser: headless Chromium (Debian's `chromium`) driven over the
# DevTools protocol, with a minimal RFC 6455 WebSocket client written with the standard library only.
#
# Checks, against a fixture site whose events lie a few days ahead (dates relative to today):
#  - the page loads (200), names the site's zone, lists the upcoming events with the expected local
#    times (computed independently with zoneinfo), offers http(s):// and webcal:// links for every feed,
#    and every feed link on the page answers 200;
#  - picking a zone through the form as a user would (the select set, a real mouse click on "Show")
#    navigates to /?tz=Asia%2FTokyo, and the heading, intro, select, times, day headings and calendar
#    links follow the zone; all-day events keep their date;
#  - the same with JavaScript disabled, the zone chosen with the keyboard (select type-ahead);
#  - on a phone-sized screen (390x844) too, with no horizontal scrolling;
#  - no request leaves 127.0.0.1 (no fonts, CDNs, scripts), the page has no scripts or web fonts, and
#    the console stays free of errors and warnings.
# Screenshots (full page, before and after picking a zone, desktop and phone) go to
# $ALMANAC_SCREENSHOT_DIR, else to a fresh directory under the system's temp dir that is kept; their
# paths are printed. Everything else (server, browser, profile, fixture) is killed and removed.
#
# usage: index_page_browser_test.py ALMANAC_BINARY SOURCE_DIR
# The browser is $CHROMIUM, else `chromium` or `chromium-browser` on PATH; none is a failure.
import base64
import datetime
import hashlib
import http.client
import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.parse
import zoneinfo

HOST = "127.0.0.1"
TOTAL_DEADLINE = 55  # seconds for the whole test; the harness allows 60
START_DEADLINE = 20.0  # for the server to listen, for the browser to open its DevTools port
STEP_DEADLINE = 10.0  # for any one DevTools answer, navigation or event
DESKTOP = dict(width=1280, height=900, deviceScaleFactor=1, mobile=False)
PHONE = dict(width=390, height=844, deviceScaleFactor=2, mobile=True)
SITE_ZONE = "Europe/Berlin"


class Failure(Exception):
    pass


# ---------------------------------------------------------------------------------------------------
# The fixture site: events a few days ahead, so that they are upcoming (within 90 days) on any date.

CONFIG = """\
site:
  title: "Almanac Fixture Calendar"
  base_url: "http://{host}:{port}/"
  timezone: {zone}
content:
  dir: content
  sections:
    events: {{ type: event }}
    blog: {{ type: post }}
feeds:
  - name: events
    title: "Community events"
    description: "Meetups, workshops and conferences of the fixture community."
    sections: [events]
    formats: [ics, rss, atom, json]
  - name: blog
    title: "Fixture blog"
    sections: [blog]
    formats: [rss, atom, json]
timezones:
  prerender: [America/New_York, Asia/Tokyo]
  allow_any: true
server:
  listen: ["{host}:{port}"]
log:
  level: info
"""


def day(offset):
    return datetime.date.today() + datetime.timedelta(days=offset)


# Timed events: (file, title, local start, duration in hours, event zone, extra front matter).
TIMED = [
    ("standup", "Morning Standup", (3, 9, 0), 1, SITE_ZONE,
     ['location: "Berlin, Alexanderplatz"', "kind: meetup", 'tags: [daily, "berlin & co"]']),
    ("late", "Late Night Hack Session", (4, 20, 0), 2, SITE_ZONE, ["status: tentative"]),
    ("pacific", "Pacific Meetup", (6, 10, 0), 2, "America/Los_Angeles",
     ['location: "San Francisco"', 'online: "https://meet.example.org/pacific"']),
    ("cancelled", "Cancelled Conference Dinner With A Rather Long Title To See How It Wraps On Small Screens",
     (7, 19, 30), 3, SITE_ZONE, ["status: cancelled", 'location: "Vienna"']),
]
ALL_DAY = ("summit", "Open Source Summit", 5, 6)  # file, title, first and last day (inclusive)


def event_md(title, start, extra):
    return "---\n" + f'title: "{title}"\nstart: {start}\n' + "".join(f"{line}\n" for line in extra) + "---\nBody.\n"


def write_file(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


def make_site(root, port):
    write_file(os.path.join(root, "almanac.yaml"), CONFIG.format(host=HOST, port=port, zone=SITE_ZONE))
    for name, title, (offset, hour, minute), hours, zone, extra in TIMED:
        start = f"{day(offset).isoformat()}T{hour:02}:{minute:02}"
        lines = [f"duration: PT{hours}H"] + ([f"timezone: {zone}"] if zone != SITE_ZONE else []) + extra
        write_file(os.path.join(root, "content", "events", name + ".md"), event_md(title, start, lines))
    name, title, first, last = ALL_DAY
    write_file(os.path.join(root, "content", "events", name + ".md"),
               event_md(title, day(first).isoformat(), [f"end: {day(last).isoformat()}", 'location: "Lyon"']))
    write_file(os.path.join(root, "content", "blog", "hello.md"),
               f'---\ntitle: "Hello"\ndate: {day(-1).isoformat()}\n---\nFirst post.\n')
    return os.path.join(root, "almanac.yaml")


def day_heading(d):
    # The page's day headings, "Thu 6 Jun 2024", in English whatever the host's locale.
    return "{} {} {} {}".format(("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")[d.weekday()], d.day,
                                ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov",
                                 "Dec")[d.month - 1], d.year)


def zone_label(t):
    # "CET (UTC+01:00)"
    minutes = int(t.utcoffset().total_seconds()) // 60
    sign = "-" if minutes < 0 else "+"
    return f"{t.tzname()} (UTC{sign}{abs(minutes) // 60:02}:{abs(minutes) % 60:02})"


def describe_times(start, end):
    # The page's text for a timed occurrence, from the start and end in the view's zone.
    start_text = f"{day_heading(start.date())}, {start:%H:%M}"
    same_label = zone_label(start) == zone_label(end)
    if start.date() == end.date():
        if same_label:
            return f"{start_text}–{end:%H:%M} {zone_label(start)}"
        return f"{start_text} {zone_label(start)} – {end:%H:%M} {zone_label(end)}"
    end_text = f"{day_heading(end.date())}, {end:%H:%M}"
    if same_label:
        return f"{start_text} – {end_text} {zone_label(start)}"
    return f"{start_text} {zone_label(start)} – {end_text} {zone_label(end)}"


def expected_timed(view_zone):
    """{title: (day heading, time text)} of the timed events seen from view_zone, computed with zoneinfo."""
    view = zoneinfo.ZoneInfo(view_zone)
    out = {}
    for _, title, (offset, hour, minute), hours, zone, _ in TIMED:
        start = datetime.datetime.combine(day(offset), datetime.time(hour, minute), zoneinfo.ZoneInfo(zone))
        local_start = start.astimezone(view)
        local_end = (start + datetime.timedelta(hours=hours)).astimezone(view)
        heading = day_heading(local_start.date())
        times = describe_times(local_start, local_end)
        # Under its day's heading an entry does not repeat that date.
        out[title] = (heading, times.removeprefix(heading + ", "))
    return out


# ---------------------------------------------------------------------------------------------------
# Processes


def free_port():
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


class Process:
    """A child in its own process group, its stderr collected by a thread."""

    def __init__(self, argv, name):
        self.name = name
        self.lines = []
        self.cond = threading.Condition()
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, start_new_session=True)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for raw in self.proc.stderr:
            with self.cond:
                self.lines.append(raw.decode("utf-8", "replace").rstrip("\n"))
                self.cond.notify_all()
        with self.cond:
            self.cond.notify_all()

    def log(self, last=40):
        with self.cond:
            return "\n".join(self.lines[-last:])

    def wait_log(self, pattern, timeout):
        regex = re.compile(pattern)
        end = time.monotonic() + timeout
        with self.cond:
            while True:
                for line in self.lines:
                    match = regex.search(line)
                    if match:
                        return match
                if self.proc.poll() is not None and not self.reader.is_alive():
                    return None
                left = end - time.monotonic()
                if left <= 0:
                    raise Failure(f"{self.name}: no log line matching {pattern!r} within {timeout}s; "
                                  f"log:\n{self.log()}")
                self.cond.wait(min(left, 0.1))

    def kill(self, grace=0.0):
        """Waits up to `grace` seconds for the process to end by itself, then kills its whole group."""
        try:
            self.proc.wait(grace)
        except subprocess.TimeoutExpired:
            pass
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            print(f"warning: {self.name} (pid {self.proc.pid}) still running after SIGKILL", file=sys.stderr)
        # The group's other members (Chromium's helpers) die with the same signal; the reader ends at EOF.
        self.reader.join(5)
        self.proc.stderr.close()


def start_server(almanac, root):
    """`almanac serve` on a free port written into the config's base_url (so that the form, whose action
    is the base URL, comes back to this server). Retries if another process took the port meanwhile."""
    for attempt in range(3):
        port = free_port()
        config = make_site(root, port)
        server = Process([almanac, "serve", "--config", config, "--listen", f"{HOST}:{port}"], "almanac serve")
        try:
            match = server.wait_log(r"info: listening on http://127\.0\.0\.1:(\d+)/", START_DEADLINE)
        except BaseException:
            server.kill()
            raise
        if match and int(match.group(1)) == port:
            return server, port
        log = server.log()
        server.kill()
        if attempt == 2:
            raise Failure(f"almanac serve did not start on {HOST}:{port}; log:\n{log}")
    raise AssertionError("unreachable")


def find_chromium():
    wanted = os.environ.get("CHROMIUM")
    for candidate in [wanted] if wanted else ["chromium", "chromium-browser"]:
        path = shutil.which(candidate)
        if path:
            return path
    raise Failure("Chromium not found (" + (f"$CHROMIUM={wanted} is not an executable" if wanted else
                                            "neither chromium nor chromium-browser is on PATH") +
                  "): this test needs a headless browser; install Debian's package "
                  "with `apt-get install --no-install-recommends chromium`, or point $CHROMIUM at one")


def start_browser(chromium, profile):
    os.makedirs(profile)
    browser = Process([chromium, "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                       f"--user-data-dir={profile}", "--remote-debugging-address=127.0.0.1",
                       "--remote-debugging-port=0", "--no-first-run", "--no-default-browser-check",
                       "--disable-extensions", "--disable-background-networking", "--disable-component-update",
                       "--disable-default-apps", "--disable-sync", "--hide-scrollbars", "--mute-audio",
                       "--password-store=basic", "--use-mock-keychain", "--lang=en-US", "about:blank"],
                      "chromium")
    try:
        return (browser,) + wait_devtools_port(browser, os.path.join(profile, "DevToolsActivePort"))
    except BaseException:
        browser.kill()
        raise


def wait_devtools_port(browser, active_port):
    end = time.monotonic() + START_DEADLINE
    while True:
        try:
            with open(active_port, encoding="utf-8") as f:
                lines = f.read().split("\n")
            if len(lines) >= 2 and lines[0].isdigit() and lines[1].startswith("/devtools/"):
                return int(lines[0]), lines[1]
        except FileNotFoundError:
            pass
        if browser.proc.poll() is not None:
            raise Failure(f"chromium exited with status {browser.proc.returncode}; stderr:\n{browser.log()}")
        if time.monotonic() > end:
            raise Failure(f"chromium wrote no DevToolsActivePort within {START_DEADLINE}s; stderr:\n{browser.log()}")
        time.sleep(0.05)


# ---------------------------------------------------------------------------------------------------
# The DevTools protocol over a minimal WebSocket client (RFC 6455: client frames masked, text messages,
# fragmentation, ping/pong, close).


class DevTools:
    GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

    def __init__(self, port, path):
        self.sock = socket.create_connection((HOST, port), timeout=STEP_DEADLINE)
        key = base64.b64encode(os.urandom(16))
        self.sock.sendall(b"GET " + path.encode() + b" HTTP/1.1\r\nHost: " + f"{HOST}:{port}".encode() +
                          b"\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " + key +
                          b"\r\nSec-WebSocket-Version: 13\r\n\r\n")
        self.buf = b""
        end = time.monotonic() + STEP_DEADLINE
        while b"\r\n\r\n" not in self.buf:
            self._fill(end)
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        if not lines[0].startswith("HTTP/1.1 101"):
            raise Failure(f"DevTools WebSocket handshake refused: {head!r}")
        headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
        accept = base64.b64encode(hashlib.sha1(key + self.GUID).digest()).decode()
        if headers.get("sec-websocket-accept") != accept:
            raise Failure(f"DevTools WebSocket handshake: bad Sec-WebSocket-Accept in {head!r}")
        self.next_id = 0
        self.events = []  # every event received, in order: {"method", "params", "sessionId"}

    def close(self):
        try:
            self._send_frame(0x8, struct.pack("!H", 1000))
        except OSError:
            pass
        self.sock.close()

    def _fill(self, end):
        left = end - time.monotonic()
        if left <= 0:
            raise Failure("timed out reading from the DevTools WebSocket")
        self.sock.settimeout(left)
        try:
            chunk = self.sock.recv(1 << 16)
        except socket.timeout:
            raise Failure("timed out reading from the DevTools WebSocket") from None
        if not chunk:
            raise Failure("the browser closed the DevTools WebSocket")
        self.buf += chunk

    def _take(self, n, end):
        while len(self.buf) < n:
            self._fill(end)
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def _send_frame(self, opcode, payload):
        head = bytes([0x80 | opcode])
        n = len(payload)
        if n < 126:
            head += bytes([0x80 | n])
        elif n < 1 << 16:
            head += bytes([0x80 | 126]) + struct.pack("!H", n)
        else:
            head += bytes([0x80 | 127]) + struct.pack("!Q", n)
        mask = os.urandom(4)
        repeated = (mask * (n // 4 + 1))[:n]
        masked = (int.from_bytes(payload, "big") ^ int.from_bytes(repeated, "big")).to_bytes(n, "big")
        self.sock.settimeout(STEP_DEADLINE)
        self.sock.sendall(head + mask + masked)

    def _read_message(self, end):
        parts = []
        while True:
            b0, b1 = self._take(2, end)
            fin, opcode, n = b0 & 0x80, b0 & 0x0F, b1 & 0x7F
            if n == 126:
                n = struct.unpack("!H", self._take(2, end))[0]
            elif n == 127:
                n = struct.unpack("!Q", self._take(8, end))[0]
            mask = self._take(4, end) if b1 & 0x80 else None
            payload = self._take(n, end)
            if mask:
                payload = bytes(c ^ mask[i % 4] for i, c in enumerate(payload))
            if opcode == 0x8:
                raise Failure("the browser closed the DevTools WebSocket")
            if opcode == 0x9:
                self._send_frame(0xA, payload)
                continue
            if opcode == 0xA:
                continue
            parts.append(payload)
            if fin:
                return json.loads(b"".join(parts).decode("utf-8"))

    def call(self, method, params=None, session=None, timeout=STEP_DEADLINE):
        self.next_id += 1
        message = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        self._send_frame(0x1, json.dumps(message).encode("utf-8"))
        end = time.monotonic() + timeout
        while True:
            reply = self._read_message(end)
            if "id" not in reply:
                self.events.append(reply)
            elif reply["id"] == self.next_id:
                if "error" in reply:
                    raise Failure(f"DevTools {method} failed: {reply['error']}")
                return reply.get("result", {})

    def wait_event(self, method, session, since, timeout=STEP_DEADLINE, predicate=lambda params: True):
        """The first event `method` of `session` received at index `since` or later, read as needed."""
        end = time.monotonic() + timeout
        i = since
        while True:
            while i < len(self.events):
                event = self.events[i]
                i += 1
                if (event.get("method") == method and event.get("sessionId") == session
                        and predicate(event.get("params", {}))):
                    return event["params"]
            try:
                self.events.append(self._read_message(end))
            except Failure as e:
                if "timed out" in str(e):
                    raise Failure(f"no {method} within {timeout}s") from None
                raise


class Tab:
    """One page target, attached in flat mode, at a given screen size."""

    def __init__(self, devtools, name, screen, scripts=True):
        self.dt, self.name = devtools, name
        target = self.dt.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.session = self.dt.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page", "Runtime", "Network", "Log", "DOM"):
            self.call(f"{domain}.enable")
        self.call("Emulation.setDeviceMetricsOverride", screen)
        if screen["mobile"]:
            self.call("Emulation.setTouchEmulationEnabled", {"enabled": True, "maxTouchPoints": 1})
        if not scripts:
            self.call("Emulation.setScriptExecutionDisabled", {"value": True})

    def call(self, method, params=None):
        return self.dt.call(method, params, self.session)

    def events(self, method):
        return [e["params"] for e in self.dt.events if e.get("method") == method and e.get("sessionId") == self.session]

    def navigating(self, action):
        """Runs action() and waits for the main frame's next load event; returns the new URL."""
        mark = len(self.dt.events)
        action()
        self.dt.wait_event("Page.loadEventFired", self.session, mark)
        return self.evaluate("location.href")

    def goto(self, url):
        def go():
            result = self.call("Page.navigate", {"url": url})
            if result.get("errorText"):
                raise Failure(f"{self.name}: navigating to {url}: {result['errorText']}")
        return self.navigating(go)

    def evaluate(self, expression):
        result = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True})
        if "exceptionDetails" in result:
            raise Failure(f"{self.name}: evaluating {expression[:80]!r}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def node(self, selector):
        root = self.call("DOM.getDocument", {"depth": 0})["root"]["nodeId"]
        node = self.call("DOM.querySelector", {"nodeId": root, "selector": selector})["nodeId"]
        if not node:
            raise Failure(f"{self.name}: no element matches {selector!r}")
        return node

    def click(self, selector):
        """A real click (or tap on a phone) in the middle of the element, through the input pipeline: it
        works whether or not the page may run scripts."""
        node = self.node(selector)
        self.call("DOM.scrollIntoViewIfNeeded", {"nodeId": node})
        quad = self.call("DOM.getContentQuads", {"nodeId": node})["quads"][0]
        x, y = sum(quad[0::2]) / 4, sum(quad[1::2]) / 4
        self.call("Input.dispatchMouseEvent", {"type": "mouseMoved", "x": x, "y": y})
        for kind in ("mousePressed", "mouseReleased"):
            self.call("Input.dispatchMouseEvent",
                      {"type": kind, "x": x, "y": y, "button": "left", "buttons": 1, "clickCount": 1})

    def type_into(self, selector, text):
        """Focuses the element and types text, key by key (for a select: type-ahead picks the option)."""
        self.call("DOM.focus", {"nodeId": self.node(selector)})
        for ch in text:
            self.call("Input.dispatchKeyEvent", {"type": "keyDown", "key": ch, "text": ch, "unmodifiedText": ch})
            self.call("Input.dispatchKeyEvent", {"type": "keyUp", "key": ch})

    def screenshot(self, path):
        size = self.call("Page.getLayoutMetrics")["cssContentSize"]
        shot = self.call("Page.captureScreenshot",
                         {"format": "png", "captureBeyondViewport": True,
                          "clip": {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1}})
        with open(path, "wb") as f:
            f.write(base64.b64decode(shot["data"]))
        print(f"screenshot: {path}")


# What the tests read from the page, through the DevTools protocol (it runs even when the page's own
# scripts are disabled).
PAGE_STATE = r"""(() => {
  const text = e => e ? e.textContent.replace(/\s+/g, ' ').trim() : null;
  const select = document.querySelector('select[name=tz]');
  return {
    href: location.href,
    title: document.title,
    h1: text(document.querySelector('h1')),
    zone: text(document.querySelector('.zone strong')),
    select: select ? select.value : null,
    selectOptions: select ? select.options.length : 0,
    formMethod: document.querySelector('#zone form') ? document.querySelector('#zone form').method : null,
    button: text(document.querySelector('#zone form button[type=submit]')),
    intro: text(document.querySelector('#upcoming p')),
    events: [...document.querySelectorAll('#upcoming li.event')].map(li => ({
      title: text(li.querySelector('strong')),
      when: text(li.querySelector('.when')),
      day: text(li.closest('ul').previousElementSibling),
      cancelled: li.classList.contains('cancelled'),
    })),
    feedLinks: [...document.querySelectorAll('#feeds a[href]')].map(a => a.getAttribute('href')),
    scripts: [...document.scripts].filter(s => s.type !== 'application/ld+json').length,
    jsonld: [...document.querySelectorAll('script[type="application/ld+json"]')].map(s => s.textContent),
    copy: [...document.querySelectorAll('#feeds label.copy input[readonly]')].map(i => i.value),
    filters: [...document.querySelectorAll('#feeds li.filter')].map(li => text(li.querySelector('strong'))),
    eventLinks: [...document.querySelectorAll('#upcoming li.event')].map(li => ({
      title: text(li.querySelector('strong')),
      ics: li.querySelector('a.ics') ? li.querySelector('a.ics').getAttribute('href') : null,
      google: li.querySelector('a.google') ? li.querySelector('a.google').getAttribute('href') : null,
    })),
    externalSheets: [...document.styleSheets].filter(s => s.href).map(s => s.href),
    webFonts: document.fonts.size,
    images: document.images.length,
    scrollWidth: document.documentElement.scrollWidth,
    clientWidth: document.documentElement.clientWidth,
    overflowing: [...document.body.querySelectorAll('*')]
      .filter(e => e.getBoundingClientRect().right > document.documentElement.clientWidth + 0.5)
      .map(e => e.tagName.toLowerCase() + (e.className ? '.' + e.className : '')).slice(0, 5),
  };
})()"""


# ---------------------------------------------------------------------------------------------------
# The checks


class Checks:
    def __init__(self):
        self.passed = self.failed = 0

    def expect(self, ok, what, detail=""):
        if ok:
            self.passed += 1
            print(f"ok: {what}")
        else:
            self.failed += 1
            print(f"FAIL: {what}" + (f"\n  {detail}" if detail else ""))
        return ok

    def require(self, ok, what, detail=""):
        if not self.expect(ok, what, detail):
            raise Failure(f"cannot go on after: {what}")


def expected_instants():
    """Each listed event's (start, end) as the feed means them: UTC instants, or dates for the all-day one."""
    out = {}
    for name, title, (offset, hour, minute), hours, zone, extra in TIMED:
        start = datetime.datetime.combine(day(offset), datetime.time(hour, minute), zoneinfo.ZoneInfo(zone))
        out[title] = (start.astimezone(datetime.timezone.utc), (start + datetime.timedelta(hours=hours)).astimezone(datetime.timezone.utc))
    name, title, first, last = ALL_DAY
    out[title] = (day(first), day(last))
    return out


def check_event_links(c, label, state, port, zone):
    """Each upcoming event: its own .ics (in the page's view) and a Google "add event" link with the
    right dates, zone and location; its schema.org Event with the feed's instants."""
    base = f"http://{HOST}:{port}/"
    expected = expected_instants()
    locations = {title: next((l.split('"')[1] for l in extra if l.startswith("location:")), "")
                 for _, title, _, _, _, extra in TIMED}
    locations[ALL_DAY[1]] = "Lyon"
    locations["Pacific Meetup"] = "San Francisco"
    prefix = base + ("" if zone == SITE_ZONE else f"tz/{zone}/") + "events/"
    for e in state["eventLinks"]:
        title = e["title"]
        if title.startswith("Cancelled"):
            c.expect(e["ics"] is None and e["google"] is None, f"{label}: no add links for the cancelled event", e)
            continue
        c.expect(e["ics"] is not None and e["ics"].startswith(prefix) and e["ics"].endswith(".ics"),
                 f"{label}: {title!r} links its own document under {prefix}", e["ics"])
        g = urllib.parse.urlsplit(e["google"] or "")
        q = urllib.parse.parse_qs(g.query)
        start, end = expected[title]
        if isinstance(start, datetime.datetime):
            dates = start.strftime("%Y%m%dT%H%M%SZ") + "/" + end.strftime("%Y%m%dT%H%M%SZ")
            want_zone = [zone]
        else:
            dates = start.strftime("%Y%m%d") + "/" + (end + datetime.timedelta(days=1)).strftime("%Y%m%d")
            want_zone = None
        c.expect((g.scheme, g.netloc, g.path) == ("https", "calendar.google.com", "/calendar/render")
                 and q.get("action") == ["TEMPLATE"] and q.get("text") == [title] and q.get("dates") == [dates]
                 and q.get("ctz") == want_zone and q.get("location") == ([locations[title]] if locations[title] else None),
                 f"{label}: {title!r} has a Google add-event link with dates {dates}", q)
    scripts = state["jsonld"]
    c.require(len(scripts) == 1, f"{label}: one JSON-LD block", len(scripts))
    events = {e["name"]: e for e in json.loads(scripts[0])}
    c.expect(set(events) == set(e["title"] for e in state["events"]), f"{label}: a schema.org Event for each upcoming event",
             sorted(events))
    for title, (start, end) in expected.items():
        e = events.get(title, {})
        if isinstance(start, datetime.datetime):
            got = (datetime.datetime.fromisoformat(e.get("startDate", "1970-01-01T00:00:00+00:00")),
                   datetime.datetime.fromisoformat(e.get("endDate", "1970-01-01T00:00:00+00:00")))
            ok = got == (start, end) and got[0].utcoffset() == start.astimezone(zoneinfo.ZoneInfo(zone)).utcoffset()
        else:
            ok = (e.get("startDate"), e.get("endDate")) == (start.isoformat(), end.isoformat())
        status = "EventCancelled" if title.startswith("Cancelled") else "EventScheduled"
        mode = "Mixed" if title == "Pacific Meetup" else "Offline"
        c.expect(ok and e.get("@type") == "Event" and e.get("eventStatus") == "https://schema.org/" + status
                 and e.get("eventAttendanceMode") == f"https://schema.org/{mode}EventAttendanceMode",
                 f"{label}: JSON-LD {title!r}: the feed's instants in {zone}, {status}, {mode}", e)


def check_page(c, label, state, port, zone):
    base = f"http://{HOST}:{port}/"
    c.expect(state["title"] == "Almanac Fixture Calendar" and state["h1"] == "Almanac Fixture Calendar",
             f"{label}: title and heading are the site's", state["title"])
    c.expect(state["zone"] == zone, f"{label}: the heading's zone line names {zone}", state["zone"])
    c.expect(state["select"] == zone, f"{label}: the picker shows {zone} selected", state["select"])
    c.expect(state["selectOptions"] > 300, f"{label}: the picker offers the tz database's zones",
             state["selectOptions"])
    c.expect(state["formMethod"] == "get" and state["button"] == "Show", f"{label}: a GET form with a Show button")
    c.expect(state["intro"] is not None and f"times in {zone}." in state["intro"],
             f"{label}: the upcoming events' intro names {zone}", state["intro"])

    events = {e["title"]: e for e in state["events"]}
    for title, (heading, times) in expected_timed(zone).items():
        e = events.get(title)
        c.expect(e is not None and e["when"] == times and e["day"] == heading,
                 f"{label}: {title!r} under {heading!r}, {times!r}", e)
    name, title, first, last = ALL_DAY
    e = events.get(title)
    c.expect(e is not None and e["day"] == day_heading(day(first))
             and ":" not in e["when"] and e["when"].endswith(f" – {day_heading(day(last))}"),
             f"{label}: the all-day {title!r} keeps its date {day_heading(day(first))}", e)
    cancelled = [e["title"] for e in state["events"] if e["cancelled"]]
    c.expect(len(cancelled) == 1 and cancelled[0].startswith("Cancelled"), f"{label}: the cancelled event is marked",
             cancelled)

    ics = "tz/" + zone + "/events.ics" if zone != SITE_ZONE else "events.ics"
    links = state["feedLinks"]
    c.expect(f"webcal://{HOST}:{port}/{ics}" in links and base + ics in links,
             f"{label}: the calendar feed has webcal:// and http:// links to /{ics}", links)
    for feed, formats in (("events", ("rss", "atom", "json")), ("blog", ("rss", "atom", "json"))):
        for ext in formats:
            c.expect(any(link.startswith(base) and link.endswith(f"/{feed}.{ext}") for link in links),
                     f"{label}: a link to the {feed} feed as .{ext}")
    copies = [base + ics]
    c.expect(all(v in state["copy"] for v in copies) and f"{base}{ics}?tag=daily" in state["copy"]
             and f"{base}{ics}?kind=meetup" in state["copy"] and f"{base}{ics}?tag=berlin%20%26%20co" in state["copy"],
             f"{label}: the calendar's address, and its filtered ones by tag and kind, in read-only fields to copy",
             state["copy"])
    c.expect(state["filters"] == ["meetup", "berlin & co", "daily"], f"{label}: the kinds and tags offered as filters",
             state["filters"])
    for link in (f"https://calendar.google.com/calendar/r?cid=webcal%3A%2F%2F{HOST}%3A{port}%2F" + urllib.parse.quote(ics, safe=""),
                 f"https://outlook.live.com/calendar/0/addfromweb?url=http%3A%2F%2F{HOST}%3A{port}%2F"
                 + urllib.parse.quote(ics, safe="") + "&name=Community%20events"):
        c.expect(link in links, f"{label}: one-click subscribe link {link[:60]}…", links)
    check_event_links(c, label, state, port, zone)
    c.expect(state["scripts"] == 0 and not state["externalSheets"] and state["webFonts"] == 0
             and state["images"] == 0, f"{label}: no scripts, stylesheets, web fonts or images",
             {k: state[k] for k in ("scripts", "externalSheets", "webFonts", "images")})
    c.expect(state["scrollWidth"] <= state["clientWidth"] and not state["overflowing"],
             f"{label}: nothing wider than the screen ({state['clientWidth']}px)",
             {k: state[k] for k in ("scrollWidth", "clientWidth", "overflowing")})


def service_target(link, port):
    """The local address a one-click subscribe link hands its service, when the link has exactly the
    form the service takes (Google: /calendar/r?cid=webcal://…; Outlook.com and Microsoft 365:
    /calendar/0/addfromweb?url=https://…&name=…); None for anything else."""
    url = urllib.parse.urlsplit(link)
    query = urllib.parse.parse_qs(url.query, keep_blank_values=True)
    local = (f"webcal://{HOST}:{port}/", f"http://{HOST}:{port}/")
    if (url.scheme, url.netloc, url.path) == ("https", "calendar.google.com", "/calendar/r") and set(query) == {"cid"}:
        target = query["cid"][0]
        return target if target.startswith(local[0]) and len(query["cid"]) == 1 else None
    if (url.scheme, url.path) == ("https", "/calendar/0/addfromweb") and url.netloc in ("outlook.live.com", "outlook.office.com") \
            and set(query) == {"url", "name"} and query["name"][0].strip() and url.query.startswith("url="):
        target = query["url"][0]
        return target if target.startswith(local[1]) else None
    return None


def check_links_answer(c, port, links):
    """Every http link of the feeds section answers 200 (webcal:// ones are the same URLs); every
    link to a calendar service has that service's form and hands it an address that answers 200."""
    bad = []
    local = []
    for link in sorted(set(links)):
        if link.startswith("https://"):
            target = service_target(link, port)
            if target is None:
                bad.append((link, "not a subscribe link of the form its service takes"))
            else:
                local.append(target)
        else:
            local.append(link)
    for link in sorted(set(local)):
        url = urllib.parse.urlsplit(link)
        if url.scheme == "webcal":
            url = url._replace(scheme="http")
        conn = http.client.HTTPConnection(HOST, port, timeout=STEP_DEADLINE)
        try:
            conn.request("GET", url.path + (f"?{url.query}" if url.query else ""))
            r = conn.getresponse()
            r.read()
            if r.status != 200 or url.netloc != f"{HOST}:{port}":
                bad.append((link, r.status))
        finally:
            conn.close()
    c.expect(not bad, f"all {len(set(links))} feed links on the page answer 200 or have their service's form", bad)


def check_event_documents(c, port, states, tmp):
    """The events' own documents linked from the pages: 200 text/calendar with validators, 304 on
    revalidation, gzip on request; then, laid out as `almanac build` would (the default calendar
    beside tz/{zone}/events/{event}.ics), through the same iCalendar oracles as the calendars."""
    root = os.path.join(tmp, "event-documents")
    problems = []

    def fetch(path, headers=None):
        conn = http.client.HTTPConnection(HOST, port, timeout=STEP_DEADLINE)
        try:
            conn.request("GET", path, headers=headers or {})
            r = conn.getresponse()
            return r.status, dict(r.getheaders()), r.read()
        finally:
            conn.close()

    status, _, body = fetch("/events.ics")
    write_file(os.path.join(root, "events.ics"), body.decode("utf-8"))
    count = 0
    for state in states:
        for e in state["eventLinks"]:
            if not e["ics"]:
                continue
            path = urllib.parse.urlsplit(e["ics"]).path
            status, headers, body = fetch(path)
            if status != 200 or headers.get("Content-Type") != "text/calendar; charset=utf-8" or b"BEGIN:VEVENT" not in body:
                problems.append((path, status, headers.get("Content-Type")))
                continue
            if fetch(path, {"If-None-Match": headers.get("ETag", "")})[0] != 304:
                problems.append((path, "no 304 for its ETag"))
            if fetch(path, {"Accept-Encoding": "gzip"})[1].get("Content-Encoding") != "gzip":
                problems.append((path, "no gzip"))
            if not path.startswith("/tz/"):
                continue  # the default view's are checked by the conformance build
            count += 1
            target = os.path.join(root, *urllib.parse.unquote(path).lstrip("/").split("/"))
            os.makedirs(os.path.dirname(target), exist_ok=True)
            with open(target, "wb") as f:
                f.write(body)
    c.expect(not problems and count > 0, f"{count} zone-view event documents answer 200 with validators, 304 and gzip",
             problems)
    checker = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "conformance", "ics", "check_ics.sh")
    run = subprocess.run([checker, root], capture_output=True, text=True, timeout=30)
    c.expect(run.returncode == 0, "the events' own documents pass the iCalendar oracles (ical.js, libical, "
             "python-icalendar, vobject, dateutil)", (run.stdout + run.stderr)[-2000:])


def pick_zone_with_script(tab, zone):
    # As a user would: the option chosen in the select (with the input and change events a choice fires),
    # then a real click on the Show button.
    ok = tab.evaluate("(() => { const s = document.querySelector('select[name=tz]'); s.focus(); "
                      f"s.value = {json.dumps(zone)}; s.dispatchEvent(new Event('input', {{bubbles: true}})); "
                      "s.dispatchEvent(new Event('change', {bubbles: true})); return s.value; })()")
    if ok != zone:
        raise Failure(f"{tab.name}: the select has no option {zone}")
    return tab.navigating(lambda: tab.click("#zone button[type=submit]"))


def check_zone_url(c, label, href, port, zone):
    url = urllib.parse.urlsplit(href)
    query = urllib.parse.parse_qs(url.query)
    c.require(url.netloc == f"{HOST}:{port}" and url.path == "/" and query.get("tz") == [zone],
              f"{label}: the form led to /?tz={zone} on the same server", href)
    c.expect(("tz=" + urllib.parse.quote(zone, safe="")) in url.query,
             f"{label}: the zone is in the query as a form submits it (tz={urllib.parse.quote(zone, safe='')})", href)


def run(c, almanac, tmp, shots):
    timings = {}
    t0 = time.monotonic()
    chromium = find_chromium()
    server, port = start_server(almanac, os.path.join(tmp, "site"))
    cleanup = [server.kill]
    browser = devtools = None
    try:
        timings["server start"] = time.monotonic() - t0
        t = time.monotonic()
        browser, dt_port, dt_path = start_browser(chromium, os.path.join(tmp, "profile"))
        cleanup.append(browser.kill)
        devtools = DevTools(dt_port, dt_path)

        def close_browser():
            # Browser.close lets Chromium end its helper processes itself (a bare SIGKILL of the group leaves
            # them for init to reap); the kill that follows is for a browser that does not comply.
            try:
                devtools.call("Browser.close", timeout=3)
            except Exception:  # also a stream left mid-message by a failure: the kill below still happens
                pass
            try:
                devtools.close()
            finally:
                browser.kill(grace=5)

        cleanup[-1] = close_browser
        print(f"browser: {devtools.call('Browser.getVersion')['product']}")
        timings["browser start"] = time.monotonic() - t
        home = f"http://{HOST}:{port}/"
        tabs = []

        # Desktop, scripts allowed.
        t = time.monotonic()
        desk = Tab(devtools, "desktop", DESKTOP)
        tabs.append(desk)
        desk.goto(home)
        responses = [r["response"] for r in desk.events("Network.responseReceived") if r["type"] == "Document"]
        c.require(responses and responses[-1]["status"] == 200 and
                  responses[-1]["mimeType"] == "text/html", "desktop: GET / answers 200 text/html",
                  responses[-1:] and {k: responses[-1][k] for k in ("status", "mimeType")})
        before = desk.evaluate(PAGE_STATE)
        check_page(c, "desktop", before, port, SITE_ZONE)
        check_links_answer(c, port, before["feedLinks"])
        desk.screenshot(os.path.join(shots, "index-desktop-1-default.png"))
        href = pick_zone_with_script(desk, "Asia/Tokyo")
        check_zone_url(c, "desktop", href, port, "Asia/Tokyo")
        after = desk.evaluate(PAGE_STATE)
        check_page(c, "desktop after picking Asia/Tokyo", after, port, "Asia/Tokyo")
        when_before = {e["title"]: e["when"] for e in before["events"]}
        when_after = {e["title"]: e["when"] for e in after["events"]}
        changed = sorted(t for t in when_before if when_before[t] != when_after.get(t))
        c.expect(changed == sorted(t[1] for t in TIMED) and set(when_before) == set(when_after),
                 "desktop: the time text of every timed event changed with the zone, the all-day one's did not",
                 {"before": when_before, "after": when_after})
        check_links_answer(c, port, after["feedLinks"])
        check_event_documents(c, port, [before, after], tmp)
        desk.screenshot(os.path.join(shots, "index-desktop-2-asia-tokyo.png"))
        timings["desktop"] = time.monotonic() - t

        # Phone, scripts allowed.
        t = time.monotonic()
        phone = Tab(devtools, "phone", PHONE)
        tabs.append(phone)
        phone.goto(home)
        check_page(c, "phone", phone.evaluate(PAGE_STATE), port, SITE_ZONE)
        phone.screenshot(os.path.join(shots, "index-phone-1-default.png"))
        href = pick_zone_with_script(phone, "America/New_York")
        check_zone_url(c, "phone", href, port, "America/New_York")
        check_page(c, "phone after picking America/New_York", phone.evaluate(PAGE_STATE), port, "America/New_York")
        phone.screenshot(os.path.join(shots, "index-phone-2-america-new-york.png"))
        timings["phone"] = time.monotonic() - t

        # Desktop, scripts disabled: the zone picked with the keyboard, the form sent with a click.
        t = time.monotonic()
        nojs = Tab(devtools, "no-script", DESKTOP, scripts=False)
        tabs.append(nojs)
        probe = "data:text/html,<title>scripts off</title><script>document.title='scripts on'</script>"
        nojs.goto(probe)
        c.require(nojs.evaluate("document.title") == "scripts off", "no-script: the page's scripts really are off")
        nojs.goto(home)
        check_page(c, "no-script", nojs.evaluate(PAGE_STATE), port, SITE_ZONE)
        for attempt in range(3):  # type-ahead forgets what was typed after a pause of 1 s: a very slow machine
            nojs.type_into("select[name=tz]", "Asia/Kolkata")
            chosen = nojs.evaluate("document.querySelector('select[name=tz]').value")
            if chosen == "Asia/Kolkata":
                break
            time.sleep(1.1)
        c.require(chosen == "Asia/Kolkata", "no-script: typing 'Asia/Kolkata' on the focused picker selects that zone",
                  chosen)
        href = nojs.navigating(lambda: nojs.click("#zone button[type=submit]"))
        check_zone_url(c, "no-script", href, port, "Asia/Kolkata")
        check_page(c, "no-script after picking Asia/Kolkata", nojs.evaluate(PAGE_STATE), port, "Asia/Kolkata")
        timings["no-script"] = time.monotonic() - t

        # Over all tabs: no request left the server, nothing went wrong in the console.
        requests = [(tab.name, r["request"]["url"]) for tab in tabs for r in tab.events("Network.requestWillBeSent")]
        outside = [(n, u) for n, u in requests if not (u.startswith(home) or u.startswith("data:"))]
        paths = sorted(set(urllib.parse.urlsplit(u).path for _, u in requests if u.startswith(home)))
        c.expect(requests and not outside, f"no request to another host than {HOST}:{port} "
                 f"({len(requests)} requests, to {', '.join(paths)})", outside)
        failed = [(tab.name, r.get("errorText")) for tab in tabs for r in tab.events("Network.loadingFailed")]
        c.expect(not failed, "no request failed", failed)
        errors = [(tab.name, e["type"], e.get("args")) for tab in tabs for e in tab.events("Runtime.consoleAPICalled")
                  if e["type"] in ("error", "warning", "assert")]
        errors += [(tab.name, "exception", e["exceptionDetails"].get("text"))
                   for tab in tabs for e in tab.events("Runtime.exceptionThrown")]
        # The browser's own request for /favicon.ico (not one the page makes) is not counted against it.
        errors += [(tab.name, e["entry"]["level"], e["entry"].get("text"), e["entry"].get("url"))
                   for tab in tabs for e in tab.events("Log.entryAdded")
                   if e["entry"]["level"] in ("error", "warning")
                   and not (e["entry"].get("url") or "").endswith("/favicon.ico")]
        c.expect(not errors, "no console errors or warnings", errors)
        statuses = [(tab.name, r["response"]["url"], r["response"]["status"]) for tab in tabs
                    for r in tab.events("Network.responseReceived")
                    if r["response"]["url"].startswith(home) and not r["response"]["url"].endswith("/favicon.ico")]
        c.expect(all(s == 200 for _, _, s in statuses), "every page request answered 200",
                 [x for x in statuses if x[2] != 200])
        problems = [line for line in server.log(1000).splitlines() if " error: " in line or " warning: " in line]
        c.expect(not problems, "the server logged no error or warning", problems)
        return timings
    finally:
        signal.alarm(0)  # the clean-up has deadlines of its own and must not be cut short
        for fn in reversed(cleanup):
            try:
                fn()
            except Exception as e:  # cleanup goes on
                print(f"warning: cleanup: {e}", file=sys.stderr)


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: index_page_browser_test.py ALMANAC_BINARY SOURCE_DIR")
    almanac = os.path.abspath(sys.argv[1])

    def on_alarm(signum, frame):
        raise Failure(f"the test took longer than {TOTAL_DEADLINE}s")

    def on_term(signum, frame):
        raise SystemExit(f"stopped by signal {signum}")

    signal.signal(signal.SIGALRM, on_alarm)
    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    signal.alarm(TOTAL_DEADLINE)
    start = time.monotonic()
    tmp = tempfile.mkdtemp(prefix="almanac-index-browser-")
    # The screenshots are the test's output for review: kept, unlike everything else.
    shots = os.environ.get("ALMANAC_SCREENSHOT_DIR") or tempfile.mkdtemp(prefix="almanac-index-screenshots-")
    os.makedirs(shots, exist_ok=True)
    shots_made_here = not os.environ.get("ALMANAC_SCREENSHOT_DIR")
    print(f"screenshots go to {shots}")
    c = Checks()
    try:
        timings = run(c, almanac, tmp, shots)
        print("timings: " + ", ".join(f"{k} {v:.1f}s" for k, v in timings.items()))
    except Failure as e:
        c.failed += 1
        print(f"FAIL: {e}")
    except Exception:
        c.failed += 1
        print("FAIL: the test itself broke:\n" + traceback.format_exc())
    finally:
        signal.alarm(0)
        shutil.rmtree(tmp, ignore_errors=True)
        if os.path.exists(tmp):  # a late write by a dying browser helper
            time.sleep(0.5)
            shutil.rmtree(tmp, ignore_errors=True)
        if shots_made_here and not os.listdir(shots):
            os.rmdir(shots)
    print(f"total {time.monotonic() - start:.1f}s")
    print(f"{c.passed} passed, {c.failed} failed")
    sys.exit(1 if c.failed else 0)


if __name__ == "__main__":
    main()
