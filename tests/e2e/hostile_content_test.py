#!/usr/bin/env python3
# Hostile content dropped into the content dir of a running `almanac serve`: huge files, deep and
# alias-bomb YAML, endless and huge RRULEs, symlink loops and escapes, FIFOs and sockets named like
# content, unreadable files and folders, non-UTF-8 text. For each: the rebuild finishes within a
# deadline, memory stays bounded, /healthz (and `almanac check`) names the file, line and problem, and
# the good items are still served.
# usage: hostile_content_test.py ALMANAC_BINARY SOURCE_DIR [unittest arguments]
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hostile_support import Server, event_md, get, healthz, ics_summaries, poll, timed_get, write_file  # noqa: E402

ALMANAC = SOURCE_DIR = None
REBUILD_DEADLINE = 15.0  # seconds a rebuild may take after a hostile file lands
RSS_LIMIT_KIB = 400 * 1024  # the fixture needs ~20 MB; a 1 MiB file may cost a few hundred while parsed

CONFIG = """\
site:
  title: "Hostile content"
  base_url: "https://cal.example.org/"
  timezone: Europe/Berlin
content:
  dir: content
  sections:
    events: { type: event }
    blog: { type: post }
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
  allow_any: true
"""

GOOD_EVENTS = ["Alpha Summit", "Beta Weekly", "Gamma Workshop"]
GOOD_POSTS = ["Hello World"]


def make_site(root):
    write_file(os.path.join(root, "almanac.yaml"), CONFIG)
    content = os.path.join(root, "content")
    write_file(os.path.join(content, "events/alpha.md"),
               event_md("Alpha Summit", "2030-05-10T09:00", "duration: PT8H"))
    write_file(os.path.join(content, "events/beta.md"),
               event_md("Beta Weekly", "2024-01-09T18:00", "duration: PT2H", 'rrule: "FREQ=WEEKLY"'))
    write_file(os.path.join(content, "events/gamma.md"), event_md("Gamma Workshop", "2030-07-01", "end: 2030-07-03"))
    write_file(os.path.join(content, "blog/2025-01-01-hello.md"), '---\ntitle: "Hello World"\ndate: 2025-01-01\n---\nHi.\n')
    return os.path.join(root, "almanac.yaml")


def nested(opening, closing, depth):
    return opening * depth + "1" + closing * depth


def laughs():
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    prev = "a"
    for name in "bcdefghi":
        lines.append(f"{name}: &{name} [" + ",".join(["*" + prev] * 9) + "]")
        prev = name
    return "\n".join(lines) + "\n"


class ContentTestCase(unittest.TestCase):
    """A fixture site and its server, fresh for each test class."""

    preexec = None  # how the server process is started (UnreadableTest drops privileges)
    argv_prefix = ()

    @classmethod
    def setUpClass(cls):
        cls.root = tempfile.mkdtemp(prefix="almanac-hostile-content-")
        os.chmod(cls.root, 0o755)
        try:
            cls.config = make_site(cls.root)
            cls.prepare()
            cls.server = Server(ALMANAC, cls.config, preexec=cls.preexec, argv_prefix=cls.argv_prefix)
        except BaseException:
            shutil.rmtree(cls.root, True)
            raise
        cls.port = cls.server.port

    @classmethod
    def prepare(cls):
        pass

    @classmethod
    def tearDownClass(cls):
        cls.server.kill()
        shutil.rmtree(cls.root, True)

    def path(self, rel):
        return os.path.join(self.root, "content", rel)

    def tearDown(self):
        self.assertTrue(self.server.alive(), "the server died; log:\n" + self.server.log())
        self.assert_good_items_served()
        self.assertLess(self.server.rss_kib(), RSS_LIMIT_KIB)

    def assert_good_items_served(self):
        r, took = timed_get(self.port, "/events.ics")
        self.assertEqual(r.status, 200)
        self.assertLess(took, 2.0)
        summaries = ics_summaries(r.body)
        for title in GOOD_EVENTS:
            self.assertIn(title, summaries)
        posts = [item["title"] for item in json.loads(get(self.port, "/blog.json").body)["items"]]
        for title in GOOD_POSTS:
            self.assertIn(title, posts)

    def rebuilt(self, change, what, deadline=REBUILD_DEADLINE):
        """Makes `change` and waits for the rebuild it causes; returns the seconds it took."""
        before = healthz(self.port)["generation"]
        start = time.monotonic()
        change()
        poll(lambda: healthz(self.port)["generation"] > before, f"the rebuild after {what}", timeout=deadline)
        return time.monotonic() - start

    def drop(self, rel, data, deadline=REBUILD_DEADLINE):
        """Writes a file into the content dir and waits for its rebuild; returns the seconds it took."""
        return self.rebuilt(lambda: write_file(self.path(rel), data), rel, deadline)

    def nudge(self):
        """Rewrites a good file, so that a rebuild runs (a new symlink or FIFO alone is no file change)."""
        path = self.path("blog/2025-01-01-hello.md")
        with open(path, encoding="utf-8") as f:
            text = f.read()
        return self.rebuilt(lambda: write_file(path, text + "\n"), "a nudge")

    def errors(self):
        return healthz(self.port)["errors"]

    def assert_error(self, expected):
        """`expected` ("content/x.md:3: message") is among /healthz's errors."""
        errors = self.errors()
        self.assertIn(expected, errors, "\n".join(errors))

    def remove(self, rel):
        self.rebuilt(lambda: os.remove(self.path(rel)), f"removing {rel}")


class HugeAndComplexFilesTest(ContentTestCase):
    def test_a_huge_file_is_too_large(self):
        base = self.server.rss_kib()
        took = self.drop("blog/huge.md", "---\ntitle: Huge\ndate: 2025-01-01\n---\n" + "All work and no play.\n" * 3_000_000)
        self.assertLess(took, 5.0)
        size = os.path.getsize(self.path("blog/huge.md"))
        self.assertGreater(size, 60 * 1024 * 1024)
        self.assert_error(f"content/blog/huge.md: file too large: {size} bytes (the limit is 1 MiB)")
        self.assertLess(self.server.rss_kib() - base, 50 * 1024, "a file too large must not be read")
        huge_yaml = "---\ntitle: Huge\nstart: 2030-01-01\ntags: [" + "x, " * 20_000_000 + "x]\n---\n"
        self.drop("events/huge-front-matter.md", huge_yaml)
        self.assertTrue(any(e.startswith("content/events/huge-front-matter.md: file too large") for e in self.errors()))
        self.remove("blog/huge.md")
        self.remove("events/huge-front-matter.md")

    def test_a_file_at_the_limit_is_read_in_bounded_time(self):
        paragraph = "Lorem *ipsum* dolor sit amet, [consectetur](https://example.org/) adipiscing elit.\n\n"
        body = paragraph * ((1024 * 1024 - 100) // len(paragraph))
        took = self.drop("blog/2025-02-02-long.md", "---\ntitle: Long Read\ndate: 2025-02-02\n---\n" + body)
        self.assertLess(took, REBUILD_DEADLINE)
        posts = [item["title"] for item in json.loads(get(self.port, "/blog.json").body)["items"]]
        self.assertIn("Long Read", posts)
        self.remove("blog/2025-02-02-long.md")

    def test_deeply_nested_yaml(self):
        self.drop("events/deep-list.md", "---\ntitle: Deep\nstart: 2030-01-01\nx: " + nested("[", "]", 100_000) + "\n---\n")
        self.assert_error("content/events/deep-list.md:4: too complex: nesting deeper than 64 levels")
        self.drop("events/deep-map.md", "---\ntitle: Deep\nstart: 2030-01-01\na: " + nested("{a: ", "}", 100_000) + "\n---\n")
        self.assert_error("content/events/deep-map.md:4: too complex: nesting deeper than 64 levels")
        self.drop("events/deep-data.yaml", "events:\n  - title: Deep\n    start: 2030-01-01\n    x: " + nested("[", "]", 100) + "\n")
        self.assert_error("content/events/deep-data.yaml:4: x: too complex: nesting deeper than 64 levels")
        for rel in ("events/deep-list.md", "events/deep-map.md", "events/deep-data.yaml"):
            self.remove(rel)

    def test_alias_bombs(self):
        took = self.drop("events/laughs.md", "---\ntitle: Laughs\nstart: 2030-01-01\n" + laughs() + "---\n")
        self.assertLess(took, 5.0)
        laugh_errors = [e for e in self.errors() if e.startswith("content/events/laughs.md:")]
        self.assertEqual(len(laugh_errors), 1, laugh_errors)
        self.assertIn(": too complex: ", laugh_errors[0])
        # Few values, much text: a 900 KB summary repeated as 70 tags would make 63 MB of tags, and every
        # calendar view of them 67 MB.
        bomb = ("---\ntitle: Bomb\nstart: 2030-01-01\nsummary: &b \"" + "x" * (900 * 1024) + "\"\ntags: [" +
                ", ".join(["*b"] * 70) + "]\n---\n")
        self.drop("events/text-bomb.md", bomb)
        bomb_errors = [e for e in self.errors() if e.startswith("content/events/text-bomb.md:")]
        self.assertEqual(len(bomb_errors), 1, bomb_errors)
        self.assertTrue(bomb_errors[0].startswith("content/events/text-bomb.md:5: tags: too complex: aliases repeat"),
                        bomb_errors[0])
        self.assertLess(len(get(self.port, "/tz/Asia/Tokyo/events.ics").body), 1024 * 1024)
        self.remove("events/laughs.md")
        self.remove("events/text-bomb.md")


class RecurrenceTest(ContentTestCase):
    def test_endless_and_huge_rules_stay_bounded(self):
        entries = []
        for i in range(100):
            entries.append((f"Every Second {i}", "2024-01-10T18:00", "PT1S", "FREQ=SECONDLY"))
            entries.append((f"Every Minute {i}", "2020-01-10T18:00", "PT1M", "FREQ=MINUTELY"))
        for i in range(50):
            entries.append((f"Every Hour {i}", "2016-01-10T18:00", "PT30M", "FREQ=HOURLY"))
            entries.append((f"Every Day Since 1900 {i}", "1900-01-01T09:00", "PT1H", "FREQ=DAILY"))
        for i in range(3):
            entries.append((f"Twenty Thousand {i}", "2024-01-01T08:00", "PT1H", "FREQ=DAILY;COUNT=20000"))
        data = "events:\n" + "".join(f'  - title: "{t}"\n    start: {s}\n    duration: {d}\n    rrule: "{r}"\n'
                                     for t, s, d, r in entries)
        took = self.drop("events/rules.yaml", data, deadline=30)
        self.assertLess(took, 10.0)
        self.assertEqual([e for e in self.errors() if "rules.yaml" in e], [])
        for path in ("/events.ics", "/?tz=Asia/Tokyo", "/tz/Asia/Tokyo/events.rss", "/tz/America/Sao_Paulo/events.ics"):
            r, took = timed_get(self.port, path, timeout=30)
            self.assertEqual(r.status, 200, path)
            self.assertLess(took, 5.0, path)
            self.assertLess(len(r.body), 5 * 1024 * 1024, path)
        ics = get(self.port, "/events.ics").text()
        self.assertIn("RRULE:FREQ=SECONDLY\r\n", ics)
        self.assertIn("RRULE:FREQ=DAILY;COUNT=20000\r\n", ics)
        self.assertIn("BEGIN:VTIMEZONE\r\nTZID:Europe/Berlin\r\n", ics)
        self.remove("events/rules.yaml")


class TreeTest(ContentTestCase):
    @classmethod
    def prepare(cls):
        outside = os.path.join(cls.root, "outside")
        write_file(os.path.join(outside, "secret.md"), event_md("Outside Secret", "2030-01-01"))

    def test_symlinks_are_never_followed(self):
        events = self.path("events")
        links = {"loop": ".", "ping": "pong", "pong": "ping", "passwd.md": "/etc/passwd", "etc": "/etc",
                 "secret.md": os.path.join(self.root, "outside", "secret.md"), "outside": os.path.join(self.root, "outside"),
                 "up": ".."}
        mark = self.server.log_size()
        for name, target in links.items():
            os.symlink(target, os.path.join(events, name))
        took = self.nudge()
        self.assertLess(took, 5.0)
        # The links' own inotify events may start rebuilds of their own, before or after the nudge's:
        # each warning is logged once, by whichever rebuild first sees the link.
        for name in links:
            self.server.wait_log(re.escape(f"warning: content/events/{name}: symbolic link not followed"), since=mark)
        self.assertNotIn("Outside Secret", ics_summaries(get(self.port, "/events.ics").body))
        self.assertNotIn(b"root:", get(self.port, "/events.json").body)
        for name in links:
            os.remove(os.path.join(events, name))

    def test_fifos_sockets_and_folders_named_like_content(self):
        events = self.path("events")
        # Marked before the FIFO is made: its own inotify event may start the rebuild that logs it
        # (each problem is logged once), before or after the nudge.
        mark = self.server.log_size()
        os.mkfifo(os.path.join(events, "fifo.md"))
        unix = socket.socket(socket.AF_UNIX)
        unix.bind(os.path.join(events, "socket.md"))
        os.mkdir(os.path.join(events, "folder.md"))
        took = self.nudge()  # must not hang on the FIFO
        self.assertLess(took, 5.0)
        self.server.wait_log(re.escape("warning: content/events/fifo.md: a FIFO, not a regular file: ignored"), since=mark)
        self.server.wait_log(re.escape("warning: content/events/socket.md: a socket, not a regular file: ignored"),
                             since=mark)
        self.assertNotIn("folder.md", self.server.log(mark))
        unix.close()
        for name in ("fifo.md", "socket.md"):
            os.remove(os.path.join(events, name))
        os.rmdir(os.path.join(events, "folder.md"))

    def test_a_deep_folder_tree(self):
        deep = os.path.join(self.path("events"), *(["d"] * 300))
        took = self.rebuilt(lambda: write_file(os.path.join(deep, "deep.md"), event_md("Deep Down", "2030-03-03")),
                            "a file 300 folders down")
        self.assertLess(took, 10.0)
        poll(lambda: "Deep Down" in ics_summaries(get(self.port, "/events.ics").body), "the deep event")
        self.rebuilt(lambda: shutil.rmtree(os.path.join(self.path("events"), "d")), "removing the deep tree")


class TextTest(ContentTestCase):
    def test_encodings_and_odd_files(self):
        cases = [
            ("events/latin1.md", '---\ntitle: "Café"\nstart: 2030-01-01\n---\n'.encode("latin-1"),
             "content/events/latin1.md:2: invalid UTF-8 (byte 0xE9); the file must be UTF-8"),
            ("events/utf16.md", '---\ntitle: "x"\nstart: 2030-01-01\n---\n'.encode("utf-16"),
             "content/events/utf16.md:1: invalid UTF-8 (byte 0xFF); the file must be UTF-8"),
            ("events/invalid.md", b'---\ntitle: "ok"\nstart: 2030-01-01\n---\nBad \xc3\x28 sequence\n',
             "content/events/invalid.md:5: invalid UTF-8 (byte 0xC3); the file must be UTF-8"),
            ("events/overlong.md", b'---\ntitle: "\xc0\xafetc"\nstart: 2030-01-01\n---\n',
             "content/events/overlong.md:2: invalid UTF-8 (byte 0xC0); the file must be UTF-8"),
            ("events/nul.md", b'---\ntitle: "N\x00ul"\nstart: 2030-01-01\n---\n',
             "content/events/nul.md:2: YAML syntax error: control character U+0000 is not allowed"),
            ("events/empty.md", b"", "content/events/empty.md:1: an event needs a title"),
            ("events/unclosed.md", b"---\ntitle: Unclosed\nstart: 2030-01-01\n",
             "content/events/unclosed.md:1: front matter opened by --- on line 1 is never closed"),
            ("blog/undated.md", b"# No date anywhere\n\nText.\n", None),
        ]
        for rel, data, expected in cases:
            with self.subTest(rel):
                took = self.drop(rel, data)
                self.assertLess(took, 5.0)
                if expected:
                    self.assert_error(expected)
                else:
                    self.assertTrue(any(e.startswith(f"content/{rel}:") for e in self.errors()), self.errors())
        # Accepted: a UTF-8 BOM, CRLF line ends, NUL bytes in the body (CommonMark replaces them).
        self.drop("events/bom.md", b"\xef\xbb\xbf" + event_md("BOM Accepted", "2030-02-01").encode())
        self.drop("events/crlf.md", event_md("CRLF Accepted", "2030-02-02").replace("\n", "\r\n").encode())
        self.drop("events/nul-body.md", event_md("NUL In Body", "2030-02-03").encode() + b"Zero\x00byte.\n")
        summaries = ics_summaries(get(self.port, "/events.ics").body)
        for title in ("BOM Accepted", "CRLF Accepted", "NUL In Body"):
            self.assertIn(title, summaries)
        self.assertNotIn(b"\x00", get(self.port, "/events.rss").body)
        for rel, _, _ in cases:
            self.remove(rel)
        for rel in ("events/bom.md", "events/crlf.md", "events/nul-body.md"):
            self.remove(rel)
        self.assertEqual(healthz(self.port)["error_count"], 0)

    def test_a_broken_edit_keeps_the_last_good_version(self):
        path = self.path("events/alpha.md")
        with open(path, "rb") as f:
            good = f.read()
        self.drop("events/alpha.md", "---\ntitle: Alpha\nstart: 2030-05-10\nx: " + nested("[", "]", 100_000) + "\n---\n")
        self.assert_error("content/events/alpha.md:4: too complex: nesting deeper than 64 levels")
        self.assertIn("Alpha Summit", ics_summaries(get(self.port, "/events.ics").body))
        self.drop("events/alpha.md", good)
        self.assertEqual(healthz(self.port)["error_count"], 0)


class CheckTest(unittest.TestCase):
    """`almanac check` on a tree holding every kind of hostile file: bounded time, every problem named."""

    def test_check_names_every_problem(self):
        root = tempfile.mkdtemp(prefix="almanac-hostile-check-")
        self.addCleanup(shutil.rmtree, root, True)
        config = make_site(root)
        content = os.path.join(root, "content")
        write_file(os.path.join(content, "blog/huge.md"), "x" * (2 * 1024 * 1024))
        write_file(os.path.join(content, "events/deep.md"),
                   "---\ntitle: Deep\nstart: 2030-01-01\nx: " + nested("[", "]", 100_000) + "\n---\n")
        write_file(os.path.join(content, "events/laughs.md"), "---\ntitle: L\nstart: 2030-01-01\n" + laughs() + "---\n")
        write_file(os.path.join(content, "events/latin1.md"), '---\ntitle: "Café"\nstart: 2030-01-01\n---\n'.encode("latin-1"))
        write_file(os.path.join(content, "events/secondly.md"),
                   event_md("Every Second", "2024-01-10T18:00", "duration: PT1S", 'rrule: "FREQ=SECONDLY"'))
        os.mkfifo(os.path.join(content, "events/fifo.md"))
        os.symlink(".", os.path.join(content, "events/loop"))
        os.symlink("/etc/passwd", os.path.join(content, "events/passwd.md"))
        start = time.monotonic()
        result = subprocess.run([ALMANAC, "check", "--config", config], capture_output=True, timeout=60,
                                stdin=subprocess.DEVNULL)
        took = time.monotonic() - start
        out = result.stdout.decode()
        self.assertEqual(result.returncode, 1, out + result.stderr.decode())
        self.assertLess(took, 20.0)
        for line in (
            "content/blog/huge.md: error: file too large: 2097152 bytes (the limit is 1 MiB)",
            "content/events/deep.md:4:",
            "content/events/laughs.md:",
            "content/events/latin1.md:2:12: error: invalid UTF-8 (byte 0xE9); the file must be UTF-8",
            "content/events/fifo.md: warning: a FIFO, not a regular file: ignored",
            "content/events/loop: warning: symbolic link not followed",
            "content/events/passwd.md: warning: symbolic link not followed",
        ):
            self.assertIn(line, out)
        self.assertIn("too complex: nesting deeper than 64 levels", out)
        self.assertNotIn("secondly.md", out)


@unittest.skipUnless(os.geteuid() != 0 or shutil.which("setpriv"), "needs setpriv to drop root's privileges")
class UnreadableTest(ContentTestCase):
    """Files and folders the daemon may not read. Root reads everything, so a root test run starts the
    server as `nobody`."""

    argv_prefix = ("setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups") if os.geteuid() == 0 else ()

    @classmethod
    def prepare(cls):
        # The server, as nobody, must be able to write nothing and read everything but what is locked.
        for folder, dirs, files in os.walk(cls.root):
            for name in dirs:
                os.chmod(os.path.join(folder, name), 0o755)
            for name in files:
                os.chmod(os.path.join(folder, name), 0o644)

    def test_unreadable_file_and_folder(self):
        locked_file = self.path("events/locked.md")
        locked_dir = self.path("events/locked")

        def lock():
            write_file(locked_file, event_md("Locked Away", "2030-04-04"))
            write_file(os.path.join(locked_dir, "inside.md"), event_md("Locked Inside", "2030-04-05"))
            os.chmod(locked_file, 0)
            os.chmod(locked_dir, 0)

        self.addCleanup(os.chmod, locked_dir, 0o755)
        took = self.rebuilt(lock, "locking a file and a folder")
        self.assertLess(took, 5.0)
        poll(lambda: "content/events/locked: cannot list: Permission denied; the files below it are not read"
             in self.errors(), "the folder's error")
        self.assert_error("content/events/locked.md: cannot read: Permission denied")
        summaries = ics_summaries(get(self.port, "/events.ics").body)
        self.assertNotIn("Locked Away", summaries)
        self.assertNotIn("Locked Inside", summaries)
        # Readable again: the chmod alone brings them in.
        self.rebuilt(lambda: (os.chmod(locked_file, 0o644), os.chmod(locked_dir, 0o755)), "unlocking")
        poll(lambda: {"Locked Away", "Locked Inside"} <= set(ics_summaries(get(self.port, "/events.ics").body)),
             "the unlocked events")
        self.assertEqual(healthz(self.port)["error_count"], 0)


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit("usage: hostile_content_test.py ALMANAC_BINARY SOURCE_DIR [unittest arguments]")
    ALMANAC, SOURCE_DIR = (os.path.abspath(a) for a in sys.argv[1:3])
    unittest.main(argv=[sys.argv[0]] + sys.argv[3:], verbosity=2)
