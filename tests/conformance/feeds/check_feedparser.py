#!/usr/bin/python3
"""Reads every .rss/.atom under DIR back with feedparser (a reader we did not write) and checks that
each field almanac writes arrives intact: no bozo, every entry's title/link/id/dates/authors/summary/
content/tags, the same entries in the same order as the document's JSON Feed twin, and the RFC 4287
rules the RELAX NG schema cannot express. Prints "ok FILE" or "FAIL FILE: why" per document.

Run with /usr/bin/python3: Debian's python3-feedparser is not on other interpreters' paths.
"""

import calendar
import datetime
import html
import json
import re
import sys
from pathlib import Path

import feedparser


def collapse(text):
    """Visible text of an HTML or plain-text value, whitespace collapsed, for cross-format checks."""
    return " ".join(html.unescape(re.sub(r"<[^>]*>", " ", text or "")).split())


def epoch(value):
    """Seconds since 1970 of a feedparser time tuple (UTC) or an RFC 3339 string."""
    if isinstance(value, str):
        return int(datetime.datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp())
    return calendar.timegm(value)


def absolute(url):
    return isinstance(url, str) and re.match(r"^https?://[^/\s]+", url) is not None


# An id must be a valid URI that the W3C Feed Validator accepts: an http(s) URL, or a tag: URI by
# RFC 4151's grammar (a URN of an unregistered namespace, or with '/', is what it rejects).
_DNSCOMP = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
_PCHAR = r"(?:[A-Za-z0-9\-._~!$&'()*+,;=:@/?]|%[0-9A-Fa-f]{2})"
TAG_URI = re.compile(rf"^tag:{_DNSCOMP}(?:\.{_DNSCOMP})*,\d{{4}}(?:-\d{{2}}(?:-\d{{2}})?)?:{_PCHAR}*(?:#{_PCHAR}*)?$")


def valid_id(value):
    return isinstance(value, str) and (TAG_URI.match(value) is not None or
                                       re.match(r"^https?://[!-~]+$", value) is not None)


class Document:
    def __init__(self, path):
        self.path = path
        self.problems = []

    def check(self, condition, message):
        if not condition:
            self.problems.append(message)
        return condition


def check_entry(doc, kind, index, entry, expected, feed_has_author):
    where = f"entry {index}"
    for field in ("title", "link", "id", "summary", "published_parsed"):
        doc.check(entry.get(field), f"{where}: no {field}")
    doc.check(absolute(entry.get("link")), f"{where}: link not absolute: {entry.get('link')!r}")
    doc.check(valid_id(entry.get("id")), f"{where}: id is neither a tag: URI (RFC 4151) nor a URL: {entry.get('id')!r}")
    if kind == "rss":
        # isPermaLink="true" (the default) promises a URL a browser can open.
        doc.check(not entry.get("guidislink") or absolute(entry.get("id")), f"{where}: a permalink guid that is not a URL")
    for link in entry.get("links", []):
        doc.check(absolute(link.get("href")), f"{where}: link href not absolute: {link.get('href')!r}")
    content = entry.get("content") or []
    doc.check(content and content[0].get("value") and content[0].get("type") == "text/html",
              f"{where}: no HTML content")
    if kind == "atom":
        doc.check(entry.get("updated_parsed"), f"{where}: no updated")
        doc.check(entry.get("authors") or feed_has_author, f"{where}: no author on the entry or the feed")
        alternates = [(l.get("type"), l.get("hreflang")) for l in entry.get("links", []) if l.get("rel") == "alternate"]
        doc.check(len(alternates) == len(set(alternates)), f"{where}: two alternate links with one type and hreflang")
        doc.check(entry.get("summary_detail", {}).get("type") == "text/plain", f"{where}: summary is not type text")
    if expected is None:
        return
    doc.check(entry.get("id") == expected["id"], f"{where}: id {entry.get('id')!r} != {expected['id']!r}")
    doc.check(entry.get("title") == expected["title"], f"{where}: title {entry.get('title')!r} != {expected['title']!r}")
    doc.check(entry.get("link") == expected["url"], f"{where}: link {entry.get('link')!r} != {expected['url']!r}")
    if entry.get("published_parsed"):
        doc.check(epoch(entry.published_parsed) == epoch(expected["date_published"]),
                  f"{where}: published {entry.get('published')!r} != {expected['date_published']!r}")
    if kind == "atom" and entry.get("updated_parsed"):
        doc.check(epoch(entry.updated_parsed) == epoch(expected["date_modified"]),
                  f"{where}: updated {entry.get('updated')!r} != {expected['date_modified']!r}")
    tags = [t.get("term") for t in entry.get("tags", [])]
    doc.check(tags == expected.get("tags", []), f"{where}: tags {tags} != {expected.get('tags', [])}")
    authors = [a.get("name") for a in entry.get("authors", []) if a.get("name")]
    expected_authors = [a["name"] for a in expected.get("authors", [])]
    doc.check(authors == expected_authors, f"{where}: authors {authors} != {expected_authors}")
    doc.check(collapse(entry.get("summary")) == collapse(expected.get("summary")),
              f"{where}: summary differs: {collapse(entry.get('summary'))[:80]!r}")
    if content:
        doc.check(collapse(content[0].get("value")) == collapse(expected["content_html"]),
                  f"{where}: content text differs from the JSON Feed's")
    related = [l.get("href") for l in entry.get("links", []) if l.get("rel") == "related"]
    if kind == "atom":
        doc.check(related == ([expected["external_url"]] if "external_url" in expected else []),
                  f"{where}: related links {related} != external_url")


def check_document(path, kind, twin):
    doc = Document(path)
    parsed = feedparser.parse(str(path))
    if not doc.check(parsed.bozo == 0, f"bozo: {parsed.get('bozo_exception')!r}"):
        return doc, parsed
    feed = parsed.feed
    for field in ("title", "link", "language"):
        doc.check(feed.get(field), f"feed: no {field}")
    doc.check(feed.get("updated_parsed") or feed.get("published_parsed"), "feed: no updated/lastBuildDate")
    doc.check(absolute(feed.get("link")), f"feed: link not absolute: {feed.get('link')!r}")
    selves = [l.get("href") for l in feed.get("links", []) if l.get("rel") == "self"]
    doc.check(len(selves) == 1 and absolute(selves[0]), f"feed: self links {selves}")
    if kind == "atom":
        doc.check(valid_id(feed.get("id")), f"feed: id is neither a tag: URI (RFC 4151) nor a URL: {feed.get('id')!r}")
    feed_has_author = bool(feed.get("authors") and feed.authors[0].get("name"))
    if twin is not None:
        doc.check(feed.get("title") == twin["title"], f"feed: title {feed.get('title')!r} != {twin['title']!r}")
        doc.check(feed.get("link") == twin.get("home_page_url"), f"feed: link {feed.get('link')!r} != home_page_url")
        doc.check(len(parsed.entries) == len(twin["items"]),
                  f"{len(parsed.entries)} entries, the JSON Feed has {len(twin['items'])}")
    items = twin["items"] if twin is not None else []
    for i, entry in enumerate(parsed.entries):
        check_entry(doc, kind, i, entry, items[i] if i < len(items) else None, feed_has_author)
    return doc, parsed


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: check_feedparser.py DIR")
    root = Path(sys.argv[1])
    failed = 0
    for stem in sorted({p.with_suffix("") for p in root.rglob("*") if p.suffix in (".rss", ".atom", ".json")}):
        json_path = stem.with_suffix(".json")
        twin = json.loads(json_path.read_text(encoding="utf-8")) if json_path.exists() else None
        results = {}
        for kind in ("rss", "atom"):
            path = stem.with_suffix("." + kind)
            if path.exists():
                results[kind] = check_document(path, kind, twin)
        # Without a JSON twin, RSS and Atom must still agree with each other.
        if twin is None and len(results) == 2:
            (rss_doc, rss), (_, atom) = results["rss"], results["atom"]
            rss_ids = [e.get("id") for e in rss.entries]
            atom_ids = [e.get("id") for e in atom.entries]
            rss_doc.check(rss_ids == atom_ids, f"entries {len(rss_ids)} differ from the Atom feed's {len(atom_ids)}")
        for doc, parsed in results.values():
            if doc.problems:
                failed += 1
                print(f"FAIL {doc.path}: " + "; ".join(doc.problems[:5]))
            else:
                print(f"ok {doc.path} ({len(parsed.entries)} entries)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
