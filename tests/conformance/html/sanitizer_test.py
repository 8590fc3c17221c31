#!/usr/bin/env python3
# The HTML sanitizer checked by a parser we did not write (html5lib, as browsers parse): `almanac
# build` of a site whose posts are known XSS vectors leaves no script, no event attribute and no
# dangerous URL in any RSS, Atom or JSON item, and every item's HTML is well-formed XML; every <img>
# of the example corpus's raw HTML reaches the feeds; the example site and its theme's shortcodes
# check without warnings, and an invalid shortcode template is an error at its config line.
# usage: sanitizer_test.py ALMANAC_BINARY SOURCE_DIR [unittest arguments]
import json
import os
import re
import subprocess
import sys
import tempfile
import unittest
import xml.etree.ElementTree as ET

import html5lib

ALMANAC = SOURCE_DIR = None

# Elements that run code, load other documents or submit data.
FORBIDDEN_ELEMENTS = {"script", "style", "iframe", "frame", "frameset", "object", "embed", "applet", "form",
                      "input", "button", "select", "textarea", "svg", "math", "base", "meta", "link", "template",
                      "noscript", "xmp", "plaintext", "video", "audio", "param", "isindex"}
URL_ATTRIBUTES = {"href", "src", "action", "formaction", "cite", "poster", "background", "data", "longdesc",
                  "xlink:href", "manifest", "codebase"}
SAFE_SCHEMES = {"http", "https", "mailto"}

VECTORS = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "<IMG SRC=\"javascript:alert('XSS');\">",
    "<IMG SRC=JaVaScRiPt:alert('XSS')>",
    "<IMG SRC=&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;&#58;&#97;&#108;&#101;&#114;&#116;&#40;&#39;&#88;&#39;&#41;>",
    "<IMG SRC=&#0000106&#0000097&#0000118&#0000097&#0000115&#0000099&#0000114&#0000105&#0000112&#0000116&#0000058&#0000097>",
    "<IMG SRC=&#x6A&#x61&#x76&#x61&#x73&#x63&#x72&#x69&#x70&#x74&#x3A&#x61&#x6C&#x65&#x72&#x74&#x28&#x31&#x29>",
    "<IMG SRC=\"jav\tascript:alert('XSS');\">",
    "<IMG SRC=\"jav&#x09;ascript:alert('XSS');\">",
    "<IMG SRC=\"jav&#x0A;ascript:alert('XSS');\">",
    "<IMG SRC=\"jav&#x0D;ascript:alert('XSS');\">",
    "<IMG SRC=\" &#14;  javascript:alert('XSS');\">",
    "<a href=\"&#1;javascript:alert(1)\">x</a>",
    "<a href=\"&#0;javascript:alert(1)\">x</a>",
    "<a href=\"javascript&colon;alert(1)\">x</a>",
    "<a href=\"  JAVASCRIPT:alert(1)\">x</a>",
    "<a href=\"vbscript:msgbox(1)\">x</a>",
    "<a href=\"data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==\">x</a>",
    "<a href=\"&#x6A;avascript:alert(1)\">x</a>",
    "<a href=\"java&Tab;script:alert(1)\">x</a>",
    "<a href=\"java&NewLine;script:alert(1)\">x</a>",
    "<svg onload=alert(1)>",
    "<svg><script>alert(1)</script></svg>",
    "<svg><a xlink:href=\"javascript:alert(1)\"><text x=\"20\" y=\"20\">x</text></a></svg>",
    "<svg><animate onbegin=alert(1) attributeName=x dur=1s>",
    "<svg></p><style><a id=\"</style><img src=1 onerror=alert(1)>\">",
    "<svg><style><img src=x onerror=alert(1)></style></svg>",
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    "<math href=\"javascript:alert(1)\">CLICK</math>",
    "<math><maction actiontype=\"statusline#http://x\" xlink:href=\"javascript:alert(1)\">x</maction></math>",
    "<noscript><p title=\"</noscript><img src=x onerror=alert(1)>\">",
    "<iframe src=\"javascript:alert(1)\"></iframe>",
    "<iframe srcdoc=\"<script>alert(1)</script>\"></iframe>",
    "<object data=\"javascript:alert(1)\"></object>",
    "<embed src=\"javascript:alert(1)\">",
    "<form action=\"javascript:alert(1)\"><input type=submit></form>",
    "<button formaction=\"javascript:alert(1)\">x</button>",
    "<isindex action=javascript:alert(1) type=image>",
    "<body onload=alert(1)>",
    "<div style=\"background:url(javascript:alert(1))\">x</div>",
    "<table background=\"javascript:alert(1)\"><tr><td>x</td></tr></table>",
    "<style>@import 'http://evil.example/x.css';</style>",
    "<link rel=stylesheet href=\"javascript:alert(1)\">",
    "<meta http-equiv=\"refresh\" content=\"0;url=javascript:alert(1)\">",
    "<base href=\"javascript:alert(1)//\">",
    "<img \"\"\"><script>alert(1)</script>\">",
    "<a href=\"http://x.example/\" title=\"a\" onmouseover=\"alert(1)\">x</a>",
    "<a href='x' onmouseover=alert(1)//>x</a>",
    "<img src=\"x\" alt='\"><script>alert(1)</script>'>",
    "<<script>alert(1)//<</script>",
    "<scr<script>ipt>alert(1)</scr</script>ipt>",
    "<!--<img src=\"--><img src=x onerror=alert(1)//\">",
    "<!-- <!-- nested --> <script>alert(1)</script> -->",
    "<![CDATA[<script>alert(1)</script>]]>",
    "<img src=x onerror=alert(1)",
    "<a href=\"javascript:alert(1)",
    "<div><p><b>unclosed <i>tags <a href=\"javascript:alert(1)\">x",
    "<details open ontoggle=alert(1)><summary>s</summary></details>",
    "<video><source onerror=alert(1)></video>",
    "<picture><source srcset=\"javascript:alert(1)\"><img src=\"x.png\"></picture>",
    "<img src=\"x.png\" srcset=\"javascript:alert(1) 1x, x.png 2x\">",
    "<template><script>alert(1)</script></template>",
    "<xmp><script>alert(1)</script></xmp>",
    "<plaintext><script>alert(1)</script>",
    "<textarea><script>alert(1)</script></textarea>",
    "<title><script>alert(1)</script></title>",
    "<select><template><style><img src=x onerror=alert(1)>",
    "<a href=\"/\\\\evil.example/x\">x</a>",
    "[md link](javascript:alert(1))",
    "[md entity](&#x6A;avascript:alert(1))",
    "![md image](javascript:alert(1))",
    "<javascript:alert(1)>",
    "[ref][r]\n\n[r]: javascript:alert(1)",
    "{{< btn link=\"javascript:alert(1)\" text=\"<script>alert(1)</script>\" >}}",
    "{{< btn link='\" onmouseover=\"alert(1)' text=\"x\" >}}",
    "{{< raw html=\"<img src=x onerror=alert(1)>\" >}}",
]

CONFIG = """\
site:
  title: "XSS"
  base_url: "https://xss.example/"
  timezone: UTC
content:
  dir: content
  sections:
    blog: {{ type: post }}
  unsafe_html: {unsafe}
  shortcodes:
    btn: '<a href="{{{{ .Get "link" }}}}">{{{{ .Get "text" }}}}</a>'
    raw: '{{{{ .Get "html" | safeHTML }}}}'
feeds:
  - name: blog
    title: "Blog"
    sections: [blog]
    formats: [rss, atom, json]
"""


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def run(*args, **kwargs):
    return subprocess.run([ALMANAC, *args], capture_output=True, text=True, timeout=120, **kwargs)


def scheme_of(url):
    # As a browser's URL parser reads it: C0 controls and spaces trimmed, tabs and newlines removed.
    url = url.strip("".join(chr(c) for c in range(0x21)))
    url = re.sub(r"[\t\n\r]", "", url)
    m = re.match(r"^([A-Za-z][A-Za-z0-9+.-]*):", url)
    return m.group(1).lower() if m else ""


def problems(html):
    """What a browser would find dangerous in `html`, as html5lib parses it."""
    found = []
    fragment = html5lib.parseFragment(html, treebuilder="etree", namespaceHTMLElements=False)
    for el in fragment.iter():
        if not isinstance(el.tag, str):
            continue  # comments
        name = el.tag.split("}")[-1].lower()
        if name in FORBIDDEN_ELEMENTS or el.tag.startswith("{"):
            found.append("element <%s>" % name)
        for attr, value in el.attrib.items():
            attr = attr.split("}")[-1].lower() if attr.startswith("{") else attr.lower()
            if attr.startswith("on") or attr in ("style", "srcdoc"):
                found.append("attribute %s=%r on <%s>" % (attr, value, name))
            if attr in URL_ATTRIBUTES and scheme_of(value) not in SAFE_SCHEMES:
                found.append("URL %s=%r on <%s>" % (attr, value, name))
            if attr in ("srcset", "imagesrcset"):
                for candidate in value.split(","):
                    url = candidate.strip().split(" ")[0]
                    if url and scheme_of(url) not in SAFE_SCHEMES:
                        found.append("srcset URL %r on <%s>" % (url, name))
    return found


def well_formed(html):
    try:
        ET.fromstring("<div>" + html + "</div>")
        return None
    except ET.ParseError as e:
        return str(e)


def feed_items(out_dir, feed):
    """(format, item id, html) of every item of the feed's RSS (content:encoded), Atom and JSON documents."""
    items = []
    for item in json.loads(read(os.path.join(out_dir, feed + ".json")))["items"]:
        items.append(("json", item["id"], item.get("content_html", "")))
    atom = ET.parse(os.path.join(out_dir, feed + ".atom")).getroot()
    ns = {"a": "http://www.w3.org/2005/Atom"}
    for entry in atom.findall("a:entry", ns):
        content = entry.find("a:content", ns)
        items.append(("atom", entry.findtext("a:id", namespaces=ns), content.text or "" if content is not None else ""))
    rss = ET.parse(os.path.join(out_dir, feed + ".rss")).getroot()
    for item in rss.iter("item"):
        items.append(("rss", item.findtext("guid"), item.findtext("{http://purl.org/rss/1.0/modules/content/}encoded") or ""))
    return items


class XssVectors(unittest.TestCase):
    def build(self, unsafe):
        site = tempfile.mkdtemp(prefix="almanac-xss-")
        os.makedirs(os.path.join(site, "content", "blog"))
        with open(os.path.join(site, "almanac.yaml"), "w") as f:
            f.write(CONFIG.format(unsafe="true" if unsafe else "false"))
        for i, vector in enumerate(VECTORS):
            with open(os.path.join(site, "content", "blog", "v%03d.md" % i), "w") as f:
                f.write("---\ntitle: vector %d\ndate: 2024-01-01\n---\n\nbefore\n\n%s\n\nafter\n" % (i, vector))
        out = os.path.join(site, "out")
        r = run("build", "--config", os.path.join(site, "almanac.yaml"), "--out", out,
                env={**os.environ, "SOURCE_DATE_EPOCH": "1700000000"})
        self.assertEqual(r.returncode, 0, r.stderr)
        return out

    def test_no_script_event_or_dangerous_url_survives(self):
        out = self.build(unsafe=False)
        items = feed_items(out, "blog")
        self.assertEqual(len(items), 3 * len(VECTORS))
        failures = []
        for fmt, guid, html in items:
            index = int(re.search(r"v(\d{3})", guid).group(1))
            for p in problems(html):
                failures.append("%s %r: %s\n    output: %s" % (fmt, VECTORS[index], p, html))
            if (error := well_formed(html)) is not None:
                failures.append("%s %r: not well-formed XML (%s)\n    output: %s" % (fmt, VECTORS[index], error, html))
            if "before" not in html:
                failures.append("%s %r: the text before the vector was lost" % (fmt, VECTORS[index]))
        self.assertEqual(failures, [], "\n".join(failures))

    def test_checker_sees_what_unsafe_html_lets_through(self):
        # With content.unsafe_html the site trusts its authors: the same checker must find the
        # vectors, or it would pass anything.
        out = self.build(unsafe=True)
        flagged = {guid for fmt, guid, html in feed_items(out, "blog") if fmt == "json" and problems(html)}
        self.assertGreater(len(flagged), len(VECTORS) // 2)


class ExampleCorpus(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        examples = os.path.join(SOURCE_DIR, "examples")
        cls.site = tempfile.mkdtemp(prefix="almanac-corpus-")
        # The example config without feed limits, so that every newsletter and post is in a feed.
        config = read(os.path.join(examples, "almanac.yaml"))
        config = re.sub(r"\n    limit: \d+", "", config)
        config = config.replace("dir: content", "dir: " + os.path.join(examples, "content"))
        with open(os.path.join(cls.site, "almanac.yaml"), "w", encoding="utf-8") as f:
            f.write(config)
        cls.out = os.path.join(cls.site, "out")
        r = run("build", "--config", os.path.join(cls.site, "almanac.yaml"), "--out", cls.out,
                env={**os.environ, "SOURCE_DATE_EPOCH": "1700000000"})
        assert r.returncode == 0, r.stderr
        cls.items = feed_items(cls.out, "newsletter") + feed_items(cls.out, "blog")

    def test_every_raw_html_image_reaches_the_feeds(self):
        content = os.path.join(SOURCE_DIR, "examples", "content")
        sources = [os.path.join(content, "newsletter", n) for n in os.listdir(os.path.join(content, "newsletter"))
                   if re.fullmatch(r"\d{4}-\d{2}-\d{2}\.md", n)]
        sources += [os.path.join(content, "blog", n) for n in os.listdir(os.path.join(content, "blog"))]
        raw_html_files = [p for p in sources if re.search(r"<[a-zA-Z]+[ >/]", read(p))]
        self.assertGreaterEqual(len(raw_html_files), 14)
        published = {}
        for fmt, guid, html in self.items:
            for el in html5lib.parseFragment(html, treebuilder="etree", namespaceHTMLElements=False).iter("img"):
                published.setdefault(el.get("src"), set()).add(fmt)
        images = 0
        for path in raw_html_files:
            text = read(path)
            for el in html5lib.parseFragment(text, treebuilder="etree", namespaceHTMLElements=False).iter("img"):
                images += 1
                self.assertEqual(published.get(el.get("src")), {"rss", "atom", "json"},
                                 "%s: <img src=%s> is not in every feed format" % (path, el.get("src")))
        self.assertGreaterEqual(images, 20)

    def test_the_meetup_table_and_theme_shortcodes_reach_the_feeds(self):
        html = "\n".join(h for fmt, guid, h in self.items if fmt == "json")
        self.assertRegex(html, r'<td align="left">\s*<img src="https://github.com/user-attachments/assets/2fdaccb7')
        self.assertIn('<a href="https://kccncchn2025.sched.com/event/227Dp">OSPO BoF China RSVP</a>', html)
        self.assertIn('<img src="https://todogroup.org/img/blog/mindmap-chinese.png" alt="Screenshot of the Chinese Mind map" />',
                      html)
        self.assertIn('<a href="https://www.linuxfoundation.org/research/business-value-of-ospo">Download report</a>', html)
        self.assertIn('<a href="https://docs.google.com/presentation/d/1ogAylXRRnq-uHbYeyYc0SDSrDlalyuXTYURiy69wi5k/embed',
                      html)

    def test_corpus_html_is_safe_and_well_formed(self):
        failures = []
        for fmt, guid, html in self.items:
            failures += ["%s %s: %s" % (fmt, guid, p) for p in problems(html)]
            if (error := well_formed(html)) is not None:
                failures.append("%s %s: not well-formed XML (%s)" % (fmt, guid, error))
        self.assertEqual(failures, [], "\n".join(failures[:20]))


class Check(unittest.TestCase):
    def test_example_site_checks_without_warnings(self):
        r = run("check", "--config", os.path.join(SOURCE_DIR, "examples", "almanac.yaml"))
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("0 error(s), 0 warning(s)", r.stderr)

    def test_invalid_template_is_an_error_at_its_config_line(self):
        site = tempfile.mkdtemp(prefix="almanac-template-")
        os.makedirs(os.path.join(site, "content", "blog"))
        with open(os.path.join(site, "almanac.yaml"), "w") as f:
            f.write("site:\n  title: T\ncontent:\n  shortcodes:\n    ok: '{{ .Get 0 }}'\n"
                    "    card: |\n      <div>\n      {{ with .Get \"x\" }}\n")
        r = run("check", "--config", os.path.join(site, "almanac.yaml"))
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertRegex(r.stdout + r.stderr, r"almanac\.yaml:6:\d+: error: content\.shortcodes\.card: invalid template: "
                                              r"line 2, column 1: '\{\{ with \}\}' without its '\{\{ end \}\}'")


if __name__ == "__main__":
    ALMANAC, SOURCE_DIR = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    unittest.main(argv=[sys.argv[0]] + sys.argv[3:], verbosity=2)
