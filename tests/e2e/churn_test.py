#!/usr/bin/env python3
# Churn under load: a content folder that is a git repository (three branches that differ a lot) gets
# thousands of operations — creates, edits in place, editors' atomic saves, edits that keep the file's
# stamp, renames, deletes, symlinks, folders made, removed and moved (out, in, into new folders),
# broken files and their fixes, `git checkout` between branches — while threads with keep-alive
# connections poll every feed document. No request may fail or get a 5xx, every body must be a valid
# document whose ETag always names the same bytes, files nobody touches must never leave their feeds,
# and once the churn stops the server must converge on exactly what `almanac build` and `almanac check`
# make of the final content.
# usage: churn_test.py ALMANAC_BINARY SOURCE_DIR [unittest arguments]
# ALMANAC_CHURN_OPS (default 3000 operations) spread over ALMANAC_CHURN_SECONDS (default 60);
# ALMANAC_CHURN_SEED replays the same operations (the seed is printed); ALMANAC_CHURN_CLIENTS load
# threads (default 4); ALMANAC_CHURN_LOG=FILE keeps the daemon's log.
import gzip
import hashlib
import http.client
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import serve_test  # noqa: E402  (the Server process wrapper and the HTTP helpers)
from serve_test import HOST, Server, get, healthz, metric_sum  # noqa: E402

try:
    import icalendar
except ImportError:  # installed by `scripts/dev.sh test` (python3-icalendar)
    icalendar = None

ALMANAC = SOURCE_DIR = None

OPS = int(os.environ.get("ALMANAC_CHURN_OPS", "3000"))
SECONDS = float(os.environ.get("ALMANAC_CHURN_SECONDS", "60"))
SEED = int(os.environ.get("ALMANAC_CHURN_SEED", str(random.randrange(1 << 30))))
CLIENTS = int(os.environ.get("ALMANAC_CHURN_CLIENTS", "4"))
CONVERGE_DEADLINE = 60.0  # seconds after the churn for the served documents to equal the build's
ATOM = "{http://www.w3.org/2005/Atom}"

# ---------------------------------------------------------------------------------------------------
# The site

PRERENDER = ["Asia/Tokyo", "Europe/Berlin"]
ON_DEMAND = ["Australia/Sydney", "America/Argentina/Buenos_Aires"]  # views rendered on request

CONFIG = """\
site:
  title: "Churn"
  base_url: "https://churn.example.org/"
  timezone: America/Los_Angeles
  author: "Churn Test"
content:
  dir: content
  sections:
    events:   {{ type: event, permalink: "/events/:slug/" }}
    meetups:  {{ type: event, permalink: "/meetups/:slug/" }}
    blog:     {{ type: post,  permalink: "/blog/:slug/" }}
    newsletter:
      type: post
      include: ["????-??-??.md"]
      permalink: "https://example.org/newsletter/:filename"
    pages:    {{ type: page }}
feeds:
  - name: events
    title: "Every event"
    sections: [events, meetups]
    formats: [ics, rss, atom, json]
  - name: meetups
    sections: [meetups]
    formats: [ics, atom]
  - name: europe
    sections: [events, meetups]
    tags: [europe]
    formats: [ics, json]
  - name: blog
    sections: [blog]
    formats: [rss, atom, json]
    limit: 40
  - name: newsletter
    sections: [newsletter]
    formats: [rss, json]
  - name: everything
    sections: [events, meetups, blog, newsletter]
    formats: [json]
timezones:
  prerender: [{prerender}]
  allow_any: true
server:
  listen: ["127.0.0.1:8080"]
  limits:
    idle_timeout: 60s
log:
  level: info
"""

FEEDS = {"events": ["ics", "rss", "atom", "json"], "meetups": ["ics", "atom"], "europe": ["ics", "json"],
         "blog": ["rss", "atom", "json"], "newsletter": ["rss", "json"], "everything": ["json"]}
SECTIONS = {"events": "event", "meetups": "event", "blog": "post", "newsletter": "post", "pages": "page"}
MEDIA = {"ics": "text/calendar; charset=utf-8", "rss": "application/rss+xml; charset=utf-8",
         "atom": "application/atom+xml; charset=utf-8", "json": "application/feed+json; charset=utf-8"}

ZONES = ["Europe/Berlin", "America/New_York", "Asia/Tokyo", "Australia/Sydney", "Asia/Kolkata", "UTC",
         "America/Los_Angeles", "Europe/London", "America/Sao_Paulo"]
RRULES = ["FREQ=WEEKLY;BYDAY=TU;COUNT=8", "FREQ=MONTHLY;BYDAY=2WE;COUNT=6", "FREQ=DAILY;INTERVAL=3;COUNT=5",
          "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,TH;UNTIL=20281231T235959Z", "FREQ=YEARLY;COUNT=3",
          "FREQ=MONTHLY;BYMONTHDAY=15;COUNT=4"]
TAGS = ["europe", "asia", "americas", "online", "ospo", "community", "security", "ai"]
WORDS = ["open", "source", "summit", "meetup", "office", "hours", "policy", "survey", "kernel", "cloud",
         "review", "sprint", "forum", "release", "roadmap", "planning", "workshop", "social"]


class Text:
    """Content generators: a fresh, valid (or deliberately broken) file for any section."""

    def __init__(self, rng):
        self.rng = rng
        self.serial = 0

    def title(self):
        self.serial += 1
        words = self.rng.sample(WORDS, 3)
        return " ".join(w.capitalize() for w in words) + f" {self.serial}"

    def tags(self):
        return self.rng.sample(TAGS, self.rng.randint(0, 3))

    def event(self, title=None):
        r = self.rng
        title = title or self.title()
        lines = [f'title: "{title}"']
        year, month, day = r.randint(2025, 2028), r.randint(1, 12), r.randint(1, 28)
        if r.random() < 0.2:
            lines.append(f"start: {year}-{month:02d}-{day:02d}")
            lines.append(f"end: {year}-{month:02d}-{day + r.randint(0, 2):02d}")
        else:
            lines.append(f"start: {year}-{month:02d}-{day:02d}T{r.choice([8, 9, 10, 13, 15, 18, 19]):02d}:"
                         f"{r.choice([0, 15, 30]):02d}")
            lines.append(f"timezone: {r.choice(ZONES)}")
            lines.append(f"duration: {r.choice(['PT1H', 'PT1H30M', 'PT2H', 'PT45M'])}")
            if r.random() < 0.4:
                lines.append(f'rrule: "{r.choice(RRULES)}"')
        lines.append(f'location: "{r.choice(["Berlin", "Online", "Tokyo", "São Paulo", "Lisbon & Porto"])}"')
        lines.append(f"kind: {r.choice(['meetup', 'conference', 'workshop'])}")
        lines.append(f"tags: [{', '.join(self.tags())}]")
        if r.random() < 0.1:
            lines.append("status: cancelled")
        body = f"{title}: *details* and a [link](https://example.org/{self.serial}).\n"
        return "---\n" + "\n".join(lines) + "\n---\n" + body

    def data_file(self):
        entries = []
        for _ in range(self.rng.randint(1, 5)):
            title = self.title()
            start = f"2027-0{self.rng.randint(1, 9)}-1{self.rng.randint(0, 9)}T10:00"
            entries.append(f'  - title: "{title}"\n    start: {start}\n'
                           f"    duration: PT1H\n    timezone: {self.rng.choice(ZONES)}\n"
                           f'    rrule: "FREQ=MONTHLY;BYDAY=1MO;COUNT={self.rng.randint(2, 9)}"\n'
                           f"    tags: [online, {self.rng.choice(TAGS)}]\n")
        return "# Generated series\nevents:\n" + "".join(entries)

    def post(self, title=None):
        r = self.rng
        title = title or self.title()
        date = f"{r.randint(2020, 2026)}-{r.randint(1, 12):02d}-{r.randint(1, 28):02d}"
        return (f'---\ntitle: "{title}"\ndate: {date}\ntags: [{", ".join(self.tags())}]\n---\n'
                f"# {title}\n\nA paragraph with **bold** text, `code` and a list:\n\n- one\n- two\n")

    def newsletter(self, title=None):
        return f"# {title or self.title()}\n\nThe monthly news, item {self.serial}.\n"

    def page(self, title=None):
        return f'---\ntitle: "{title or self.title()}"\n---\nA page.\n'

    def good(self, rel):
        """Valid content for the content file `rel` (relative to the content dir)."""
        section = rel.split("/", 1)[0]
        kind = SECTIONS.get(section, "post")
        if kind == "event":
            return self.data_file() if rel.endswith((".yaml", ".yml")) else self.event()
        if kind == "page":
            return self.page()
        if section == "newsletter":
            return self.newsletter()
        return self.post()

    def broken(self, rel):
        """Content that makes `rel` an error: bad YAML, an impossible date, a bad RRULE, no closing line."""
        t = self.title()
        if rel.endswith((".yaml", ".yml")):
            return self.rng.choice([f'events:\n  - title: "{t}\n    start: [\n',
                                    f'events:\n  - title: "{t}"\n    start: 2027-02-30T10:00\n'])
        kind = SECTIONS.get(rel.split("/", 1)[0], "post")
        if kind == "event":
            return self.rng.choice([
                f'---\ntitle: "{t}\nstart: [2030-01-01\n---\nbad yaml\n',
                f'---\ntitle: "{t}"\nstart: 2030-13-45T10:00\nduration: PT1H\n---\nbad date\n',
                f'---\ntitle: "{t}"\nstart: 2030-01-01T10:00\nduration: PT1H\nrrule: "FREQ=SOMETIMES;COUNT=x"\n---\n',
                f'---\ntitle: "{t}"\nstart: 2030-01-01T10:00\nend: 2029-01-01T10:00\n---\nends before it starts\n',
                f'---\ntitle: "{t}"\nstart: 2030-01-01\n',
            ])
        return self.rng.choice([f'---\ntitle: "{t}\ndate: [2024\n---\n',
                                f'---\ntitle: "{t}"\ndate: 2025-02-30\n---\nx\n',
                                f'---\ntitle: "{t}"\ndate: 2024-01-01\n'])


# Files no operation touches, in every branch: each version of the feeds that hold them must list them,
# whatever happens to the files and folders around them.
SENTINELS = {
    "events/sentinel-first.md": "Sentinel First Keep",
    "events/sentinel-last.md": "Sentinel Last Keep",
    "events/keep/sentinel-deep.md": "Sentinel Deep Keep",
    "events/keep/zz/sentinel-deeper.md": "Sentinel Deeper Keep",
    "events/keep-b/sentinel-b.md": "Sentinel Bee Keep",
    "newsletter/2019-01-01.md": "Sentinel Newsletter Keep",
    "newsletter/2019-01-02.md": "Sentinel Second Newsletter Keep",
}
SENTINEL_FEEDS = {"events": ["events"], "europe": ["events"], "newsletter": ["newsletter"],
                  "everything": ["events", "newsletter"]}


def sentinel_text(rel, title):
    if rel.startswith("newsletter/"):
        return f"# {title}\n\nNever edited.\n"
    return (f'---\ntitle: "{title}"\nstart: 2027-03-0{len(title) % 9 + 1}T10:00\ntimezone: Europe/Paris\n'
            f'duration: PT1H\nrrule: "FREQ=WEEKLY;COUNT=3"\ntags: [europe]\n---\nNever edited.\n')


def write_file(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


def git(repo, *args):
    env = dict(os.environ, GIT_CONFIG_NOSYSTEM="1", GIT_CONFIG_GLOBAL="/dev/null", LC_ALL="C")
    result = subprocess.run(["git", "-C", repo, "-c", "user.name=Churn", "-c", "user.email=churn@example.org",
                             "-c", "commit.gpgsign=false", "-c", "core.autocrlf=false", *args],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
    if result.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed: {result.stdout.decode(errors='replace')}")
    return result.stdout.decode(errors="replace")


def content_files(content):
    """Every file below `content` outside .git, relative and '/'-separated."""
    out = []
    for dirpath, dirnames, filenames in os.walk(content):
        dirnames[:] = [d for d in dirnames if d != ".git"]
        rel = os.path.relpath(dirpath, content)
        for name in filenames:
            out.append(name if rel == "." else f"{rel}/{name}".replace(os.sep, "/"))
    return out


def make_repo(root, rng):
    """The content dir as a git repository with three branches that differ substantially."""
    text = Text(rng)
    content = os.path.join(root, "content")
    corpus = os.path.join(SOURCE_DIR, "examples", "content")
    for dirpath, _, filenames in os.walk(corpus):
        rel = os.path.relpath(dirpath, corpus)
        section = rel.split(os.sep)[0]
        for i, name in enumerate(sorted(filenames)):
            if section == "blog" and i % 2:
                continue  # half of the blog is plenty
            os.makedirs(os.path.join(content, rel), exist_ok=True)
            shutil.copyfile(os.path.join(dirpath, name), os.path.join(content, rel, name))
    for region in ("europe", "americas", "apac"):
        for i in range(40):
            write_file(os.path.join(content, "events", "gen", region, f"ev-{region}-{i:03d}.md"), text.event())
    for i in range(20):
        write_file(os.path.join(content, "meetups", "gen", f"meetup-{i:03d}.md"), text.event())
    write_file(os.path.join(content, "meetups", "series.yaml"), text.data_file())
    for year in ("2025", "2026"):
        for i in range(15):
            write_file(os.path.join(content, "blog", year, f"post-{year}-{i:02d}.md"), text.post())
    for rel, title in SENTINELS.items():
        write_file(os.path.join(content, rel), sentinel_text(rel, title))
    git(content, "init", "-q", "-b", "main")
    git(content, "add", "-A")
    git(content, "commit", "-q", "-m", "main")

    # reorg: files added, removed, renamed and edited; folders moved, one across sections.
    git(content, "checkout", "-q", "-b", "reorg")
    files = sorted(f for f in content_files(content) if f.endswith(".md"))
    blog = [f for f in files if f.startswith("blog/")]
    for f in blog[::5]:
        git(content, "rm", "-q", f)
    for i in range(30):
        write_file(os.path.join(content, "events", "reorg", f"added-{i:02d}.md"), text.event())
    for f in [f for f in files if f.startswith("events/gen/americas/")][:10]:
        git(content, "mv", f, f.replace("/ev-", "/renamed-ev-"))
    for f in [f for f in files if f.startswith("events/gen/apac/")][10:30]:
        write_file(os.path.join(content, f), text.event())
    git(content, "mv", "events/gen/europe", "meetups/europe")
    git(content, "mv", "blog/2025", "blog/archive-2025")
    git(content, "add", "-A")
    git(content, "commit", "-q", "-m", "reorg")

    # slim: a third shape, from main: half the events gone, the newsletter's translations moved.
    git(content, "checkout", "-q", "main")
    git(content, "checkout", "-q", "-b", "slim")
    for f in [f for f in files if f.startswith("events/gen/")][::2]:
        git(content, "rm", "-q", f)
    for f in [f for f in files if f.startswith("blog/2026/")]:
        write_file(os.path.join(content, f), text.post())
    if os.path.isdir(os.path.join(content, "newsletter", "日本語版")):
        git(content, "mv", "newsletter/日本語版", "newsletter/translations")
    git(content, "add", "-A")
    git(content, "commit", "-q", "-m", "slim")
    git(content, "checkout", "-q", "main")
    return content


# ---------------------------------------------------------------------------------------------------
# The churn


class Churn:
    """Operations on the content tree, one at a time, counted by kind."""

    BRANCHES = ["main", "reorg", "slim"]

    def __init__(self, root, content, rng):
        self.root, self.content, self.rng = root, content, rng
        self.text = Text(random.Random(rng.random()))
        self.attic = os.path.join(root, "attic")  # outside the content dir: folders moved out wait here
        os.makedirs(self.attic, exist_ok=True)
        self.counts = {}
        self.branch = "main"
        self.serial = 0
        self.flapping = []  # empty folders made by op_flap_dir
        self.rescan()

    def rescan(self):
        # The sentinels and their folders are left alone; so are hidden files.
        self.files = [f for f in content_files(self.content)
                      if not os.path.basename(f).startswith(".") and f not in SENTINELS and "/keep" not in f]
        self.dirs = sorted({os.path.dirname(f) for f in self.files if "/" in f})

    def path(self, rel):
        return os.path.join(self.content, rel)

    def fresh_name(self, folder, ext=".md"):
        self.serial += 1
        if folder.split("/", 1)[0] == "newsletter" and self.rng.random() < 0.8:
            n = self.serial  # a date no other serial gives
            return f"{folder}/{2030 + n // 300}-{n // 28 % 12 + 1:02d}-{n % 28 + 1:02d}.md"
        return f"{folder}/churn-{self.serial:05d}{ext}"

    def some_file(self):
        while self.files:
            rel = self.rng.choice(self.files)
            if os.path.isfile(self.path(rel)):
                return rel
            self.files.remove(rel)
        return None

    def some_dir(self):
        return self.rng.choice(self.dirs or list(SECTIONS))

    def count(self, kind):
        self.counts[kind] = self.counts.get(kind, 0) + 1

    @property
    def total(self):
        return sum(self.counts.values())

    # Each operation returns the name it is counted under.

    def op_create(self):
        rel = self.fresh_name(self.some_dir())
        write_file(self.path(rel), self.text.good(rel))
        self.files.append(rel)
        return "create"

    def op_edit_in_place(self):
        rel = self.some_file()
        if not rel:
            return self.op_create()
        with open(self.path(rel), "w", encoding="utf-8") as f:
            text = self.text.good(rel)
            if self.rng.random() < 0.3:  # written in two steps: the daemon may see the first half
                f.write(text[: len(text) // 2])
                f.flush()
                f.write(text[len(text) // 2:])
            else:
                f.write(text)
        return "edit"

    def op_atomic_save(self):
        rel = self.some_file()
        if not rel:
            return self.op_create()
        folder, name = os.path.split(self.path(rel))
        text = self.text.good(rel)
        if self.rng.random() < 0.5:  # write a hidden temp file, rename it over
            tmp = os.path.join(folder, f".{name}.tmp{self.rng.randrange(1000)}")
            write_file(tmp, text)
            os.rename(tmp, self.path(rel))
        else:  # vim: probe file 4913, original kept as name~, new file written, backup removed
            probe = os.path.join(folder, "4913")
            write_file(probe, "")
            os.unlink(probe)
            os.rename(self.path(rel), self.path(rel) + "~")
            write_file(self.path(rel), text)
            os.unlink(self.path(rel) + "~")
        return "atomic-save"

    def op_rename(self):
        rel = self.some_file()
        if not rel:
            return self.op_create()
        same_section = [d for d in self.dirs if d.split("/")[0] == rel.split("/")[0]]
        folder = self.rng.choice(same_section) if same_section and self.rng.random() < 0.8 else self.some_dir()
        target = self.fresh_name(folder, os.path.splitext(rel)[1] or ".md")
        os.makedirs(os.path.dirname(self.path(target)), exist_ok=True)
        os.rename(self.path(rel), self.path(target))
        self.files.remove(rel)
        self.files.append(target)
        return "rename"

    def op_delete(self):
        rel = self.some_file()
        if not rel:
            return self.op_create()
        os.unlink(self.path(rel))
        self.files.remove(rel)
        return "delete"

    def op_touch(self):
        rel = self.some_file()
        if rel:
            os.utime(self.path(rel))
        return "touch"

    def quiet_edit(self, rel):
        """Rewrites `rel` in place with a new title of the same length and gives it back its modification
        time (`rsync --inplace -t`, `cp -p` over it): same inode, size and mtime, so only the watch on its
        folder can tell that it changed. False when the file has no title to change."""
        path = self.path(rel)
        try:
            with open(path, "rb") as f:
                data = f.read()
            info = os.stat(path)
        except OSError:
            return False
        match = re.search(rb'(?m)^(?:title: "|  - title: "|# )([A-Za-z0-9 ]{4,})', data)
        if not match:
            return False
        old = match.group(1)
        new = bytes(self.rng.choice(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ") if c != 32 else 32 for c in old)
        with open(path, "r+b") as f:
            f.write(data[: match.start(1)] + new + data[match.end(1):])
        os.utime(path, ns=(info.st_atime_ns, info.st_mtime_ns))
        return True

    def op_quiet_edit(self):
        rel = self.some_file()
        if not rel or not self.quiet_edit(rel):
            return self.op_edit_in_place()
        return "quiet-edit"

    def probe_every_folder(self):
        """A quiet edit in every folder that holds a content file: each must still be watched."""
        self.rescan()
        by_folder = {}
        for rel in sorted(f for f in self.files if "never-good" not in f):
            by_folder.setdefault(os.path.dirname(rel), []).append(rel)
        for folder, files in sorted(by_folder.items()):
            for rel in files:
                if self.quiet_edit(rel):
                    self.count("probe-edit")
                    break

    def op_break(self):
        if self.rng.random() < 0.5 or not self.files:
            rel = self.fresh_name(self.some_dir())
            self.files.append(rel)
        else:
            rel = self.some_file()
        write_file(self.path(rel), self.text.broken(rel))
        return "break"

    def op_fix(self):
        rel = self.some_file()
        if rel:
            write_file(self.path(rel), self.text.good(rel))
        return "fix"

    def op_mkdir(self):
        section = self.rng.choice(list(SECTIONS))
        self.serial += 1
        folder = f"{section}/dir-{self.serial:05d}"
        os.makedirs(self.path(folder))
        for _ in range(self.rng.randint(0, 4)):  # written at once, before the watch may exist
            rel = self.fresh_name(folder)
            write_file(self.path(rel), self.text.good(rel))
        self.rescan()
        return "mkdir"

    def op_rmdir(self):
        if not self.dirs:
            return self.op_mkdir()
        folder = self.rng.choice(self.dirs)
        if folder.count("/") == 0:
            return self.op_mkdir()  # sections stay
        shutil.rmtree(self.path(folder), ignore_errors=True)
        self.rescan()
        return "rmdir"

    def op_move_dir(self):
        candidates = [d for d in self.dirs if d.count("/") >= 1]
        parked = os.listdir(self.attic)
        if parked and self.rng.random() < 0.4:  # a folder comes back from outside
            name = self.rng.choice(parked)
            target = f"{self.some_dir()}/{name}-back{self.serial}"
            self.serial += 1
            os.makedirs(os.path.dirname(self.path(target)), exist_ok=True)
            os.rename(os.path.join(self.attic, name), self.path(target))
            self.rescan()
            return "move-dir-in"
        if not candidates:
            return self.op_mkdir()
        folder = self.rng.choice(candidates)
        self.serial += 1
        if self.rng.random() < 0.3:  # out of the content dir
            os.rename(self.path(folder), os.path.join(self.attic, f"parked-{self.serial}"))
            kind = "move-dir-out"
        else:  # elsewhere in the tree, maybe into another section
            parent = self.rng.choice([d for d in self.dirs if not (d + "/").startswith(folder + "/")] or list(SECTIONS))
            target = f"{parent}/moved-{self.serial}"
            os.makedirs(self.path(parent), exist_ok=True)
            os.rename(self.path(folder), self.path(target))
            kind = "move-dir"
        self.rescan()
        return kind

    def op_archive_dir(self):
        """`mkdir -p x/archive && mv x/sub x/archive/`: a folder moved into a folder that did not exist
        an instant before; the files in it are edited later like any other."""
        candidates = [d for d in self.dirs if d.count("/") >= 1]
        if not candidates:
            return self.op_mkdir()
        folder = self.rng.choice(candidates)
        self.serial += 1
        outside = [d for d in self.dirs if not (d + "/").startswith(folder + "/")] or list(SECTIONS)
        parent = f"{self.rng.choice(outside)}/archive-{self.serial}"
        os.makedirs(self.path(parent))
        os.rename(self.path(folder), self.path(f"{parent}/{os.path.basename(folder)}"))
        self.rescan()
        return "archive-dir"

    def op_move_section(self):
        """A whole section folder leaves the content dir and comes back (its feed empties meanwhile)."""
        section = self.rng.choice(["meetups", "pages"])
        parked = os.path.join(self.attic, f"section-{section}")
        if os.path.isdir(self.path(section)) and not os.path.exists(parked):
            os.rename(self.path(section), parked)
            kind = "move-section-out"
        elif os.path.isdir(parked) and not os.path.exists(self.path(section)):
            os.rename(parked, self.path(section))
            kind = "move-section-in"
        else:
            return self.op_create()
        self.rescan()
        return kind

    def op_flap_dir(self):
        """An empty folder appears or goes (build tools, git): a listing of the tree must not stumble on it."""
        flapping = [d for d in self.flapping if os.path.isdir(self.path(d))]
        if len(flapping) > 4 or (flapping and self.rng.random() < 0.5):
            folder = self.rng.choice(flapping)
            os.rmdir(self.path(folder)) if not os.listdir(self.path(folder)) else shutil.rmtree(self.path(folder))
            self.flapping = [d for d in flapping if d != folder]
            return "flap-rmdir"
        self.serial += 1
        folder = f"{self.rng.choice(['events', 'newsletter', 'events/keep', 'events/keep-b'])}/tmp-{self.serial}"
        os.mkdir(self.path(folder))
        self.flapping = flapping + [folder]
        return "flap-mkdir"

    def op_symlink(self):
        """A symbolic link to a file or a folder appears (never followed: a warning) or goes."""
        links = [rel for rel in self.files if os.path.islink(self.path(rel))]
        if links and self.rng.random() < 0.4:
            rel = self.rng.choice(links)
            os.unlink(self.path(rel))
            self.files.remove(rel)
            return "symlink-remove"
        folder = self.some_dir()
        self.serial += 1
        rel = f"{folder}/link-{self.serial}.md"
        target = self.some_file() if self.rng.random() < 0.7 else self.some_dir()
        if not target:
            return self.op_create()
        os.symlink(os.path.relpath(self.path(target), os.path.dirname(self.path(rel))), self.path(rel))
        self.files.append(rel)
        return "symlink"

    def op_hidden(self):
        """Files nobody may read: in a hidden folder, or editors' leftovers."""
        folder = self.some_dir()
        self.serial += 1
        rel = self.rng.choice([f"{folder}/.drafts/churn-{self.serial}.md", f"{folder}/.#churn-{self.serial}.md",
                               f"{folder}/churn-{self.serial}.md~", f"{folder}/#churn-{self.serial}.md#",
                               f"{folder}/.churn-{self.serial}.md.swp"])
        write_file(self.path(rel), self.text.good(rel))
        return "hidden"

    def op_data_file(self):
        candidates = [f for f in self.files if f.endswith(".yaml") and f.split("/")[0] in ("events", "meetups")]
        if candidates:
            rel = self.rng.choice(candidates)
        else:
            rel = self.fresh_name(self.rng.choice(["events", "meetups"]), ".yaml")
        write_file(self.path(rel), self.text.data_file() if self.rng.random() < 0.8 else self.text.broken(rel))
        if rel not in self.files:
            self.files.append(rel)
        return "data-file"

    def op_checkout(self):
        target = self.rng.choice([b for b in self.BRANCHES if b != self.branch])
        if self.rng.random() < 0.5:  # commit the work, then switch
            git(self.content, "add", "-A")
            git(self.content, "commit", "-q", "--allow-empty", "-m", f"churn {self.total}")
            git(self.content, "checkout", "-q", target)
            kind = "git-commit-checkout"
        else:  # throw the work away and switch
            git(self.content, "checkout", "-q", "-f", target)
            git(self.content, "clean", "-q", "-f", "-d")
            kind = "git-checkout-f"
        self.branch = target
        self.rescan()
        return kind

    OPS = [(op_create, 14), (op_edit_in_place, 22), (op_atomic_save, 14), (op_rename, 10), (op_delete, 8),
           (op_touch, 4), (op_break, 7), (op_fix, 6), (op_mkdir, 3), (op_rmdir, 2), (op_move_dir, 3),
           (op_data_file, 3), (op_move_section, 1), (op_hidden, 2), (op_archive_dir, 2),
           (op_quiet_edit, 4),
           (op_flap_dir, 10), (op_symlink, 1)]

    def run(self, ops, seconds, stop_early):
        """About `ops` operations over `seconds`, in bursts with pauses of varied length, and a git
        checkout about every tenth of the way."""
        functions = [f for f, _ in self.OPS]
        weights = [w for _, w in self.OPS]
        checkout_every = max(ops // 10, 50)
        start = time.monotonic()
        while self.total < ops and not stop_early():
            burst = self.rng.choice([1, 2, 5, 10, 20, 40, 80])
            for _ in range(min(burst, ops - self.total)):
                if self.total and self.total % checkout_every == 0:
                    self.count(self.op_checkout())
                    continue
                self.count(self.rng.choices(functions, weights)[0](self))
            # Keep to the planned pace: pause for what this burst was ahead of it, sometimes longer.
            ahead = start + seconds * self.total / ops - time.monotonic()
            if ahead > 0:
                time.sleep(ahead * self.rng.choice([0.5, 1.0, 1.0, 1.5]))

    def settle_errors(self, config):
        """Fixes every file `almanac check` reports an error in, so that no file ends broken after
        having had a good version (the daemon would keep that version; a build leaves it out). Then adds
        files broken from the start, which both leave out and report."""
        for _ in range(5):
            errors = {d["path"] for d in check(config)[0] if d["severity"] == "error"}
            if not errors:
                break
            for shown in errors:
                rel = os.path.relpath(os.path.join(self.root, shown), self.content)
                if os.path.isfile(self.path(rel)):
                    write_file(self.path(rel), self.text.good(rel))
                    self.count("final-fix")
        else:
            raise AssertionError(f"content errors remain after fixing: {check(config)[0]}")
        for rel in ("events/final/never-good.md", "blog/final-never-good.md", "meetups/never-good.yaml"):
            write_file(self.path(rel), self.text.broken(rel))
            self.count("final-broken")


def check(config):
    """`almanac check --format json`: (diagnostics, item count)."""
    result = subprocess.run([ALMANAC, "check", "--config", config, "--format", "json"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, timeout=120)
    if result.returncode not in (0, 1):
        raise AssertionError(f"almanac check failed ({result.returncode}): {result.stderr.decode()}")
    match = re.search(r"(\d+) item\(s\)", result.stderr.decode())
    return json.loads(result.stdout), int(match.group(1)) if match else None


# ---------------------------------------------------------------------------------------------------
# The load


def ics_problem(body):
    """Why `body` is not a sound iCalendar document, or None."""
    text = body.decode("utf-8")
    if not text.startswith("BEGIN:VCALENDAR\r\n") or not text.endswith("END:VCALENDAR\r\n"):
        return "not framed by BEGIN:VCALENDAR / END:VCALENDAR"
    unfolded = re.sub(r"\r\n[ \t]", "", text).split("\r\n")
    stack = []
    for line in unfolded:
        if line.startswith("BEGIN:"):
            stack.append(line[6:])
        elif line.startswith("END:"):
            if not stack or stack.pop() != line[4:]:
                return f"unbalanced {line!r}"
    if stack:
        return f"unclosed {stack}"
    if icalendar is not None:
        cal = icalendar.Calendar.from_ical(body)
        events = len(cal.walk("VEVENT"))
        if events != text.count("\r\nBEGIN:VEVENT\r\n"):
            return f"python-icalendar sees {events} VEVENTs"
    return None


def xml_problem(body, ext):
    root = ET.fromstring(body)
    if ext == "rss":
        if root.tag != "rss" or root.find("channel/title") is None:
            return f"not an RSS channel: {root.tag}"
    elif root.tag != ATOM + "feed" or root.find(ATOM + "id") is None or root.find(ATOM + "updated") is None:
        return f"not an Atom feed: {root.tag}"
    return None


def json_problem(body):
    doc = json.loads(body)
    if (doc.get("version") != "https://jsonfeed.org/version/1.1" or "title" not in doc
            or not isinstance(doc.get("items"), list)):
        return "not a JSON Feed 1.1 document"
    if any("id" not in item for item in doc["items"]):
        return "an item without id"
    return None


class Load:
    """Threads polling every document over keep-alive connections, checking every answer."""

    def __init__(self, port, paths):
        self.port, self.paths = port, paths
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.statuses = {}
        self.failures = []  # (path, what)
        self.connection_errors = []
        self.valid = set()  # sha256 of bodies already checked
        self.etags = {}  # identity ETag → sha256 of the identity bytes
        self.requests = 0
        self.threads = [threading.Thread(target=self.client, args=(i,), daemon=True) for i in range(CLIENTS)]
        self.threads.append(threading.Thread(target=self.monitor, daemon=True))
        self.generations = set()

    def start(self):
        for t in self.threads:
            t.start()

    def finish(self):
        self.stop.set()
        for t in self.threads:
            t.join(60)

    def fail(self, path, what):
        with self.lock:
            if len(self.failures) < 200:
                self.failures.append((path, what))

    def client(self, index):
        rng = random.Random(SEED + index)
        conn = http.client.HTTPConnection(HOST, self.port, timeout=30)
        last_etag = {}
        while not self.stop.is_set():
            order = list(self.paths)
            rng.shuffle(order)
            for path in order:
                if self.stop.is_set():
                    break
                headers = {}
                compressed = rng.random() < 0.3
                if compressed:
                    headers["Accept-Encoding"] = "gzip"
                if path in last_etag and rng.random() < 0.25:
                    headers["If-None-Match"] = last_etag[path]
                try:
                    conn.request("GET", path, headers=headers)
                    r = conn.getresponse()
                    body = r.read()
                except (OSError, http.client.HTTPException) as e:
                    with self.lock:
                        self.connection_errors.append(f"{path}: {type(e).__name__}: {e}")
                    conn.close()
                    conn = http.client.HTTPConnection(HOST, self.port, timeout=30)
                    continue
                with self.lock:
                    self.requests += 1
                    self.statuses[r.status] = self.statuses.get(r.status, 0) + 1
                if r.status == 304 and "If-None-Match" in headers:
                    continue
                if r.status != 200:
                    self.fail(path, f"status {r.status}: {body[:200]!r}")
                    continue
                self.check_body(path, r, body, compressed)
                if r.getheader("ETag"):
                    last_etag[path] = r.getheader("ETag")
        conn.close()

    def check_body(self, path, r, body, compressed):
        encoding = r.getheader("Content-Encoding")
        etag = r.getheader("ETag") or ""
        if encoding == "gzip":
            if not compressed:
                return self.fail(path, "gzip sent without being asked for")
            try:
                body = gzip.decompress(body)
            except (OSError, EOFError) as e:
                return self.fail(path, f"gzip body does not decompress: {e}")
            if not etag.endswith('.gz"'):
                return self.fail(path, f"gzip body with ETag {etag}")
            etag = etag[:-4] + '"'
        elif encoding is not None:
            return self.fail(path, f"Content-Encoding {encoding}")
        digest = hashlib.sha256(body).hexdigest()
        with self.lock:
            known = self.etags.setdefault(etag, digest)
        if known != digest:
            return self.fail(path, f"ETag {etag} names two different bodies")
        ext = path.split("?")[0].rsplit(".", 1)[-1] if path != "/" else "html"
        if ext in MEDIA and r.getheader("Content-Type") != MEDIA[ext]:
            return self.fail(path, f"Content-Type {r.getheader('Content-Type')}")
        feed = path.split("?")[0].rsplit("/", 1)[-1].split(".")[0]
        missing = [title for section in SENTINEL_FEEDS.get(feed, []) for rel, title in SENTINELS.items()
                   if rel.startswith(section + "/") and title.encode() not in body]
        if missing:
            return self.fail(path, f"items of files nobody touched are missing: {missing} (ETag {etag})")
        with self.lock:
            if digest in self.valid:
                return None
        try:
            if ext == "ics":
                problem = ics_problem(body)
            elif ext in ("rss", "atom"):
                problem = xml_problem(body, ext)
            elif ext == "json":
                problem = json_problem(body)
            else:
                problem = None if b"</html>" in body else "an index page without </html>"
        except Exception as e:  # a parser's verdict
            problem = f"{type(e).__name__}: {e}"
        if problem:
            return self.fail(path, problem + f" (body {len(body)} bytes, ETag {etag})")
        with self.lock:
            self.valid.add(digest)
        return None

    def monitor(self):
        conn = http.client.HTTPConnection(HOST, self.port, timeout=30)
        while not self.stop.wait(0.2):
            for path in ("/healthz", "/metrics"):
                try:
                    conn.request("GET", path)
                    r = conn.getresponse()
                    body = r.read()
                except (OSError, http.client.HTTPException) as e:
                    with self.lock:
                        self.connection_errors.append(f"{path}: {type(e).__name__}: {e}")
                    conn.close()
                    conn = http.client.HTTPConnection(HOST, self.port, timeout=30)
                    continue
                with self.lock:
                    self.requests += 1
                    self.statuses[r.status] = self.statuses.get(r.status, 0) + 1
                if r.status != 200:
                    self.fail(path, f"status {r.status}")
                elif path == "/healthz":
                    self.generations.add(json.loads(body)["generation"])
        conn.close()


def document_paths():
    """Every document the load polls: each feed and format in the default view, in each pre-rendered
    zone (by path and by ?tz=), in zones rendered on request, and the index page."""
    paths = ["/"]
    for feed, formats in FEEDS.items():
        for ext in formats:
            paths.append(f"/{feed}.{ext}")
            paths += [f"/tz/{zone}/{feed}.{ext}" for zone in PRERENDER]
            paths.append(f"/{feed}.{ext}?tz={PRERENDER[0]}")
            if feed in ("events", "europe"):
                paths += [f"/{feed}.{ext}?tz={zone}" for zone in ON_DEMAND]
    return paths


# ---------------------------------------------------------------------------------------------------
# The test


def build(config, out):
    result = subprocess.run([ALMANAC, "build", "--config", config, "--out", out], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, timeout=120)
    if result.returncode not in (0, 1):
        raise AssertionError(f"almanac build failed ({result.returncode}): {result.stderr.decode()[-2000:]}")
    built = {}
    for dirpath, _, filenames in os.walk(out):
        for name in filenames:
            rel = os.path.relpath(os.path.join(dirpath, name), out).replace(os.sep, "/")
            with open(os.path.join(dirpath, name), "rb") as f:
                built[rel] = f.read()
    return built


def titles(body, ext):
    """The item titles of a document, for a readable account of a difference."""
    try:
        if ext == "ics":
            return sorted(re.findall(r"\r\nSUMMARY:([^\r]*)", body.decode()))
        if ext == "json":
            return sorted(i.get("title", "") for i in json.loads(body)["items"])
        root = ET.fromstring(body)
        return sorted((e.text or "") for e in root.iter() if e.tag in ("title", ATOM + "title"))
    except Exception as e:
        return [f"<unreadable: {e}>"]


class ChurnTest(unittest.TestCase):
    def settle(self, port, since):
        """Polls /healthz until its generation has not moved for 3 s: (when the last one was first seen,
        that generation)."""
        generation, seen_at = healthz(port)["generation"], time.monotonic()
        deadline = since + CONVERGE_DEADLINE
        while time.monotonic() - seen_at < 3.0:
            if time.monotonic() > deadline:
                raise AssertionError(f"the server still rebuilds {CONVERGE_DEADLINE:.0f}s after the churn ended")
            time.sleep(0.05)
            now = healthz(port)["generation"]
            if now != generation:
                generation, seen_at = now, time.monotonic()
        return seen_at, generation

    def test_churn_under_load(self):
        wall = time.monotonic()
        rng = random.Random(SEED)
        print(f"\nchurn: seed {SEED} (ALMANAC_CHURN_SEED replays it), {OPS} operations over ~{SECONDS:.0f}s, "
              f"{CLIENTS} clients", flush=True)
        if icalendar is None:
            self.fail("python3-icalendar is needed to validate the calendars (apt-get install python3-icalendar)")
        root = tempfile.mkdtemp(prefix="almanac-churn-")
        self.addCleanup(shutil.rmtree, root, True)
        content = make_repo(root, rng)
        config = os.path.join(root, "almanac.yaml")
        write_file(config, CONFIG.format(prerender=", ".join(PRERENDER)))
        # The same site with the on-demand zones pre-rendered too: the oracle for those views.
        config_all_zones = os.path.join(root, "almanac-all-zones.yaml")
        write_file(config_all_zones, CONFIG.format(prerender=", ".join(PRERENDER + ON_DEMAND)))

        server = Server(config)
        self.addCleanup(server.kill)
        if os.environ.get("ALMANAC_CHURN_LOG"):  # keep the daemon's log for a post-mortem
            self.addCleanup(lambda: write_file(os.environ["ALMANAC_CHURN_LOG"], server.log()))
        port = server.port
        start_items = healthz(port)["items"]
        print(f"churn: {len(content_files(content))} files, {start_items} items served at start", flush=True)

        load = Load(port, document_paths())
        load.start()
        churn = Churn(root, content, rng)
        churn_started = time.monotonic()
        try:
            churn.run(OPS, SECONDS, lambda: server.proc.poll() is not None)
            churn.settle_errors(config)
            churn.probe_every_folder()
            churn_ended = time.monotonic()
            self.assertIsNone(server.proc.poll(), "the server exited during the churn; log:\n" + server.log()[-5000:])
            # The load goes on while the server settles: until its generation has not moved for 3 s.
            settled_at, last_generation = self.settle(port, churn_ended)
        finally:
            load.finish()
        load_requests = load.requests

        # Convergence: every document the build makes from the final content is served byte for byte.
        built = build(config, os.path.join(root, "built"))
        built_all = build(config_all_zones, os.path.join(root, "built-all-zones"))
        expected = {"/" + rel: body for rel, body in built.items() if rel != "index.html"}
        for rel, body in built_all.items():  # each zone's view by ?tz= too, pre-rendered or not
            for zone in PRERENDER + ON_DEMAND:
                if rel.startswith(f"tz/{zone}/"):
                    expected[f"/{rel[len(f'tz/{zone}/'):]}?tz={zone}"] = body
        differing = {}

        def converged():
            differing.clear()
            for path, body in expected.items():
                r = get(port, path)
                if r.status != 200 or r.body != body:
                    differing[path] = r
            return not differing

        deadline = time.monotonic() + CONVERGE_DEADLINE
        while not converged() and time.monotonic() < deadline:
            time.sleep(0.5)
        if differing:
            lines = []
            for path, r in sorted(differing.items())[:12]:
                ext = path.split("?")[0].rsplit(".", 1)[-1]
                want, have = set(titles(expected[path], ext)), set(titles(r.body, ext)) if r.status == 200 else set()
                lines.append(f"  {path}: status {r.status}, {len(r.body)} bytes served vs {len(expected[path])} built; "
                             f"only built: {sorted(want - have)[:8]}; only served: {sorted(have - want)[:8]}")
            lost = set()
            for path, r in differing.items():
                ext = path.split("?")[0].rsplit(".", 1)[-1]
                lost |= set(titles(expected[path], ext)) - set(titles(r.body, ext) if r.status == 200 else [])
            where = sorted({rel for rel in content_files(content) for title in list(lost)[:50]
                            if title.encode() in open(os.path.join(content, rel), "rb").read()})
            lines.append(f"  files whose current titles are not served: {where[:20]}")
            self.fail(f"{len(differing)} of {len(expected)} documents still differ from `almanac build` "
                      f"{CONVERGE_DEADLINE:.0f}s after the server settled (generation {healthz(port)['generation']}):\n"
                      + "\n".join(lines) + "\nlog tail:\n" + "\n".join(server.log().splitlines()[-30:]))
        converge_seconds = settled_at - churn_ended
        generation = healthz(port)["generation"]
        time.sleep(1.0)
        h = healthz(port)
        self.assertEqual(h["generation"], generation, "the server kept rebuilding after converging")
        self.assertTrue(converged(), f"served documents changed after converging: {sorted(differing)}")
        for path, body in expected.items():  # and the compressed copies hold the same bytes
            r = get(port, path, headers={"Accept-Encoding": "gzip"})
            served = gzip.decompress(r.body) if r.header("Content-Encoding") == "gzip" else r.body
            self.assertEqual(served, body, f"{path} with gzip")

        # The same documents: the build's count (with the index page) is the snapshot's, but for the
        # one-event documents ({feed}/{event}.ics), which the server renders on request (compared above).
        events = [rel for rel in built if rel.count("/") == 1 and not rel.startswith("tz/")]
        self.assertGreater(len(events), 0, "almanac build wrote no one-event document")
        self.assertEqual(h["documents"], len(built) - len(events), "documents served vs written by `almanac build`")
        index = get(port, "/")
        self.assertEqual(index.status, 200)
        linked = set(re.findall(r'href="https://churn\.example\.org/([a-z0-9_-]+\.(?:ics|rss|atom|json))"',
                                index.text()))
        self.assertEqual(linked, {rel for rel in built if "/" not in rel and rel != "index.html"})

        # /healthz reports exactly what `almanac check` finds in the final content.
        diagnostics, check_items = check(config)
        want_errors = sorted(d["path"] + (f":{d['line']}" if d["line"] > 0 else "") + ": " + d["message"]
                             for d in diagnostics if d["severity"] == "error")
        self.assertEqual(sorted(h["errors"]), want_errors)
        self.assertEqual(len({d["path"] for d in diagnostics if d["severity"] == "error"}), 3,
                         "errors in exactly the three files broken from the start")
        self.assertEqual(h["warning_count"], sum(d["severity"] != "error" for d in diagnostics))
        self.assertEqual(h["items"], check_items)

        metrics = get(port, "/metrics").text()
        rebuilds = {reason: metric_sum(metrics, "almanac_rebuilds_total", reason=reason)
                    for reason in ("start", "change", "time", "reload")}
        failed_rebuilds = metric_sum(metrics, "almanac_rebuilds_total", result="failed")
        server_5xx = sum(metric_sum(metrics, "almanac_http_requests_total", code=str(c)) for c in range(500, 600))
        wall_seconds = time.monotonic() - wall

        print(f"churn: {churn.total} operations in {churn_ended - churn_started:.1f}s: "
              + ", ".join(f"{k} {v}" for k, v in sorted(churn.counts.items())), flush=True)
        print(f"churn: {load_requests} requests during the churn ({len(load.paths)} documents polled by {CLIENTS} "
              f"clients; statuses {dict(sorted(load.statuses.items()))}), {len(load.valid)} distinct bodies "
              f"validated, {len(load.etags)} ETags seen", flush=True)
        print(f"churn: rebuilds {dict((k, int(v)) for k, v in rebuilds.items())}, {int(failed_rebuilds)} failed; "
              f"{len(load.generations)} generations seen by the monitor, final generation {h['generation']}, "
              f"{h['items']} items, {h['documents']} documents", flush=True)
        print(f"churn: converged {converge_seconds:.2f}s after the churn ended (the last generation, "
              f"{last_generation}, went live then; {len(expected)} documents equal to `almanac build`); "
              f"wall time {wall_seconds:.1f}s", flush=True)

        self.assertEqual(len(load.connection_errors), 0, f"{len(load.connection_errors)} connection errors, first: "
                         + "\n".join(load.connection_errors[:10]))
        self.assertEqual(len(load.failures), 0, f"{len(load.failures)} bad answers (at most 200 kept), first:\n"
                         + "\n".join(f"  {path}: {what}" for path, what in load.failures[:10]))
        self.assertFalse(any(s >= 500 for s in load.statuses), load.statuses)
        self.assertEqual(server_5xx, 0, "5xx answers counted by the server")
        self.assertEqual(failed_rebuilds, 0, "failed rebuilds; log:\n" + "\n".join(
            line for line in server.log().splitlines() if "rebuild" in line)[-3000:])
        self.assertGreaterEqual(churn.total, OPS)
        self.assertGreater(load_requests, 0)


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit("usage: churn_test.py ALMANAC_BINARY SOURCE_DIR [unittest arguments]")
    ALMANAC, SOURCE_DIR = (os.path.abspath(a) for a in sys.argv[1:3])
    serve_test.ALMANAC, serve_test.SOURCE_DIR = ALMANAC, SOURCE_DIR
    unittest.main(argv=[sys.argv[0]] + sys.argv[3:], verbosity=2)
