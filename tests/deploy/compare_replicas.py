#!/usr/bin/env python3
# Do two replicas serving copies of the same site agree? For each path, in identity, gzip and br:
# the same status, ETag, Content-Encoding and bytes. Last-Modified is each replica's own (when it first
# served those bytes), so it is only required to be there. Compression runs just after a snapshot goes
# live, so it first waits (bounded) until both send gzip and br.
# usage: compare_replicas.py URL1 URL2 PATH...   — prints "ok NAME" / "FAIL NAME: why" lines.
import hashlib
import http.client
import sys
import time
import urllib.parse

urls, paths = sys.argv[1:3], sys.argv[3:]
conns = {}


def get(base, path, encoding):
    if base not in conns:
        u = urllib.parse.urlsplit(base)
        conns[base] = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
    conns[base].request("GET", path, headers={"Accept-Encoding": encoding})
    r = conns[base].getresponse()
    body = r.read()
    return (r.status, r.getheader("ETag"), r.getheader("Last-Modified") is not None, r.getheader("Content-Encoding"),
            len(body), hashlib.sha256(body).hexdigest()[:16])


deadline = time.monotonic() + 20
ready = False
while not ready and time.monotonic() < deadline:
    ready = all(get(base, paths[0], enc)[3] == enc for base in urls for enc in ("gzip", "br"))
    if not ready:
        time.sleep(0.1)
print(("ok   " if ready else "FAIL ") + "both replicas compress" + ("" if ready else ": no gzip/br after 20 s"))

same, differ = 0, []
for path in paths:
    for enc in ("identity", "gzip", "br"):
        a, b = (get(base, path, enc) for base in urls)
        if a == b and a[0] == 200 and a[1]:
            same += 1
        else:
            differ.append(f"{path} ({enc}): {a} | {b}")
if differ:
    print("FAIL replicas differ:\n  " + "\n  ".join(differ))
else:
    print(f"ok   both replicas: identical ETag and bytes ({same} documents × encodings)")
sys.exit(1 if differ or not ready else 0)
