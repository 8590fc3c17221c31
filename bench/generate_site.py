#!/usr/bin/env python3
"""Writes a synthetic almanac site for the benchmarks: N events (about 10% recurring, spread over
several zones, ~1 KB bodies) and N/10 newsletters (~8 KB), plus an almanac.yaml serving them.

usage: generate_site.py N OUT_DIR [--seed S]
Deterministic for a given N and seed, so runs compare like with like."""
import argparse
import os
import random

ZONES = ["Europe/Berlin", "America/New_York", "America/Los_Angeles", "Asia/Tokyo", "Australia/Sydney",
         "Europe/London", "America/Sao_Paulo", "Asia/Kolkata", "Africa/Nairobi", "UTC"]
WORDS = ("open source program office community governance release security policy maintainers meetup "
         "workshop panel keynote survey report contributors license compliance inner source strategy "
         "metrics funding sustainability education onboarding mentoring").split()
RRULES = ["FREQ=WEEKLY;BYDAY=TU", "FREQ=MONTHLY;BYDAY=2TH", "FREQ=WEEKLY;INTERVAL=2;BYDAY=WE;COUNT=40",
          "FREQ=MONTHLY;BYMONTHDAY=15;UNTIL=20281231T000000Z", "FREQ=YEARLY;BYMONTH=6;BYMONTHDAY=1"]


def sentence(rng, n):
    words = [rng.choice(WORDS) for _ in range(n)]
    return " ".join(words).capitalize() + "."


def paragraph(rng, size):
    out = []
    total = 0
    while total < size:
        s = sentence(rng, rng.randint(8, 16))
        out.append(s)
        total += len(s) + 1
    return " ".join(out)


def write_event(rng, path, i):
    zone = rng.choice(ZONES)
    year = rng.choice([2024, 2025, 2026, 2027])
    month, day = rng.randint(1, 12), rng.randint(1, 28)
    hour = rng.randint(7, 19)
    lines = ["---", f"title: \"{sentence(rng, 4)[:-1]} #{i}\"",
             f"start: {year:04d}-{month:02d}-{day:02d}T{hour:02d}:{rng.choice(['00', '30'])}",
             f"duration: PT{rng.choice([1, 2, 3])}H", f"timezone: {zone}",
             f"location: \"{rng.choice(WORDS).capitalize()} Hall, {zone.split('/')[-1].replace('_', ' ')}\"",
             f"kind: {rng.choice(['meetup', 'conference', 'workshop', 'call'])}",
             f"tags: [{rng.choice(WORDS)}, {rng.choice(WORDS)}]"]
    if i % 10 == 0:
        lines.append(f"rrule: \"{rng.choice(RRULES)}\"")
    lines.append("---")
    body = "\n\n".join(paragraph(rng, 320) for _ in range(3))
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n\n" + body + "\n")


def write_newsletter(rng, path, i):
    year = 2015 + i // 365 % 12
    body = [f"# Newsletter {i}", ""]
    for section in range(8):
        body.append(f"## {sentence(rng, 3)[:-1]}")
        body.append("")
        body.append(paragraph(rng, 900))
        body.append("")
        body.append(f"- [{rng.choice(WORDS)}](https://example.org/{i}/{section}) {sentence(rng, 6)}")
        body.append("")
    with open(path, "w", encoding="utf-8") as f:
        f.write(f"---\ntitle: \"Newsletter {i}\"\ndate: {year:04d}-{i % 12 + 1:02d}-{i % 28 + 1:02d}\n"
                f"tags: [newsletter]\n---\n\n" + "\n".join(body))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("n", type=int)
    parser.add_argument("out")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    events = os.path.join(args.out, "content", "events")
    news = os.path.join(args.out, "content", "newsletter")
    for d in (events, news):
        os.makedirs(d, exist_ok=True)
    for i in range(args.n):
        # 1,000 files per folder, as a large site would be organised.
        sub = os.path.join(events, f"{i // 1000:03d}")
        os.makedirs(sub, exist_ok=True)
        write_event(rng, os.path.join(sub, f"event-{i:06d}.md"), i)
    for i in range(max(1, args.n // 10)):
        write_newsletter(rng, os.path.join(news, f"newsletter-{i:05d}.md"), i)
    with open(os.path.join(args.out, "almanac.yaml"), "w", encoding="utf-8") as f:
        f.write("""site:
  title: "Synthetic site"
  base_url: "https://bench.example.org/"
  timezone: "Europe/Berlin"
content:
  dir: content
  sections:
    events: { type: event, permalink: "/events/:slug/" }
    newsletter: { type: post, permalink: "/newsletter/:slug/" }
feeds:
  - name: events
    title: "Events"
    sections: [events]
    formats: [ics, rss, atom, json]
  - name: newsletter
    title: "Newsletter"
    sections: [newsletter]
    formats: [rss, atom, json]
    limit: 50
timezones:
  prerender: [UTC, America/New_York]
""")


if __name__ == "__main__":
    main()
