#!/usr/bin/env python3
# The Debian package (packaging/Debian.cmake): CPack packs the already-built binary of this build dir,
# then the package's metadata, file list, conffiles and maintainer scripts are checked, lintian must
# report no error or warning, the package is extracted into a temporary root, where its binary runs
# (--version, check on the example site, serve), its units pass `systemd-analyze verify --root`, and
# every place that shows the version agrees with project(VERSION) in CMakeLists.txt.
# usage: package_test.py ALMANAC_BINARY SOURCE_DIR   (the build dir is the binary's folder)
import glob
import gzip
import http.client
import os
import re
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
import time
import unittest

ALMANAC = SOURCE_DIR = BUILD_DIR = None
DEB = ROOT = TMP = VERSION = None
UNITS = ("almanac.service", "almanac.socket")
DOC_DIR = "usr/share/doc/almanac"


def run(*args, **kwargs):
    return subprocess.run(args, capture_output=True, text=True, timeout=120, **kwargs)


def field(name):
    return run("dpkg-deb", "--field", DEB, name).stdout.strip()


def setUpModule():
    global DEB, ROOT, TMP, VERSION
    with open(os.path.join(BUILD_DIR, "CMakeCache.txt")) as f:
        if re.search(r"^ALMANAC_SANITIZE:BOOL=ON$", f.read(), re.M):
            raise unittest.SkipTest("a sanitizer build is not packaged: the plain build's run covers the package")
    with open(os.path.join(SOURCE_DIR, "CMakeLists.txt")) as f:
        VERSION = re.search(r"project\(almanac VERSION ([0-9.]+)", f.read()).group(1)
    TMP = tempfile.mkdtemp(prefix="almanac-package-")
    out = run("cpack", "--config", os.path.join(BUILD_DIR, "CPackConfig.cmake"), "-B", os.path.join(TMP, "out"))
    debs = glob.glob(os.path.join(TMP, "out", "almanac_*.deb"))
    if out.returncode != 0 or len(debs) != 1:
        raise RuntimeError(f"cpack failed ({out.returncode}):\n{out.stdout}{out.stderr}")
    DEB = debs[0]
    ROOT = os.path.join(TMP, "root")
    subprocess.run(["dpkg-deb", "-x", DEB, ROOT], check=True)


def tearDownModule():
    if TMP:
        shutil.rmtree(TMP, ignore_errors=True)


class Metadata(unittest.TestCase):
    def test_name_and_file_name(self):
        arch = run("dpkg", "--print-architecture").stdout.strip()
        self.assertEqual(field("Package"), "almanac")
        self.assertEqual(field("Architecture"), arch)
        self.assertEqual(os.path.basename(DEB), f"almanac_{VERSION}_{arch}.deb")

    def test_description_maintainer_section(self):
        self.assertRegex(field("Maintainer"), r"^[^<>]+ <[^@<>\s]+@[^@<>\s]+>$")
        self.assertEqual(field("Section"), "web")
        description = field("Description").splitlines()
        self.assertIn("iCalendar", description[0])
        self.assertGreater(len(description), 3, "an extended description")
        self.assertIn("Apache-2.0", field("Description"))

    def test_depends_covers_every_shared_library_the_binary_needs(self):
        # The oracle: the binary's DT_NEEDED entries, and the packages that own those files here.
        depends = {d.strip().split()[0] for d in field("Depends").replace("|", ",").split(",")}
        needed = re.findall(r"NEEDED\s+(\S+)", run("objdump", "-p", os.path.join(ROOT, "usr/bin/almanac")).stdout)
        self.assertIn("libstdc++.so.6", needed)
        ldd = run("ldd", os.path.join(ROOT, "usr/bin/almanac")).stdout
        for lib in needed:
            path = re.search(rf"^\s*{re.escape(lib)} => (\S+)", ldd, re.M)
            self.assertIsNotNone(path, f"{lib} not found by ldd")
            owner = run("dpkg", "-S", os.path.realpath(path.group(1)))
            if owner.returncode != 0:
                owner = run("dpkg", "-S", path.group(1))
            package = owner.stdout.split(":")[0]
            # A library package may be named in Depends by a name it Provides (libspdlog1.10-fmt9).
            provides = run("dpkg-query", "-W", "-f=${Provides}", package).stdout
            names = {package} | {p.strip().split()[0] for p in provides.split(",") if p.strip()}
            self.assertTrue(names & depends, f"{lib} ({package}) missing from Depends: {field('Depends')}")
        self.assertIn("tzdata", depends, "the zone database is read at run time")


class Files(unittest.TestCase):
    def test_file_list(self):
        listing = run("dpkg-deb", "--contents", DEB).stdout
        files = {line.split()[-1].lstrip(".") for line in listing.splitlines() if not line.startswith("d")}
        docs = {f"/{DOC_DIR}/{name}" for name in (
            "README.md", "getting-started.md", "subscribing.md", "serve.md", "deploy.md", "operations.md",
            "configuration.md", "content.md", "build.md", "architecture.md", "CHANGELOG.md", "copyright",
            "changelog.gz")}
        self.assertEqual(files, {"/usr/bin/almanac", "/lib/systemd/system/almanac.service",
                                 "/lib/systemd/system/almanac.socket", "/etc/almanac/almanac.yaml",
                                 "/usr/share/man/man1/almanac.1.gz"} | docs)
        for line in listing.splitlines():
            self.assertTrue(line.split()[1] == "root/root", line)

    def test_binary_is_stripped_and_executable(self):
        path = os.path.join(ROOT, "usr/bin/almanac")
        self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o755)
        self.assertNotIn(".debug_info", run("objdump", "-h", path).stdout)

    def test_config_is_a_conffile_and_the_example(self):
        control = os.path.join(TMP, "control")
        subprocess.run(["dpkg-deb", "-e", DEB, control], check=True)
        with open(os.path.join(control, "conffiles")) as f:
            self.assertEqual(f.read().split(), ["/etc/almanac/almanac.yaml"])
        with open(os.path.join(ROOT, "etc/almanac/almanac.yaml"), "rb") as a, \
                open(os.path.join(SOURCE_DIR, "systemd/almanac.yaml"), "rb") as b:
            self.assertEqual(a.read(), b.read())

    def test_maintainer_scripts_neither_enable_nor_start(self):
        control = os.path.join(TMP, "control-scripts")
        subprocess.run(["dpkg-deb", "-e", DEB, control], check=True)
        for script in ("postinst", "prerm", "postrm"):
            path = os.path.join(control, script)
            self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o755, script)
            self.assertEqual(run("sh", "-n", path).returncode, 0, f"{script}: sh syntax")
            with open(path) as f:
                code = "\n".join(line for line in f.read().splitlines() if not line.lstrip().startswith("#"))
            self.assertNotRegex(code, r"systemctl\s+(\S+\s+)*(enable|start|restart)\b", script)
            self.assertNotRegex(code, r"deb-systemd-invoke\s+(start|restart)\b", script)
            # Only a unit the operator had enabled before a removal gets its symlinks back.
            for m in re.finditer(r"deb-systemd-helper enable", code):
                self.assertIn("was-enabled", code[:m.start()], script)
            self.assertNotRegex(code, r"/srv\b", f"{script} must leave the content alone")
        with open(os.path.join(control, "postrm")) as f:
            postrm = f.read()
        self.assertRegex(postrm, r'"\$1" = "purge"[\s\S]*rm -f /etc/almanac/almanac.yaml')
        self.assertIn("daemon-reload", postrm)

    def test_lintian_reports_no_error_or_warning(self):
        if not shutil.which("lintian"):
            self.skipTest("lintian is not installed (scripts/dev.sh test installs it)")
        out = run("lintian", DEB)
        findings = [line for line in out.stdout.splitlines() if re.match(r"^[EW]: ", line)]
        self.assertEqual(findings, [], out.stdout)


class Extracted(unittest.TestCase):
    def almanac(self, *args, **kwargs):
        return run(os.path.join(ROOT, "usr/bin/almanac"), *args, **kwargs)

    def test_version(self):
        out = self.almanac("--version")
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertEqual(out.stdout, f"almanac {VERSION}\n")

    def test_check_on_the_example_site(self):
        out = self.almanac("check", "--config", "almanac.yaml", cwd=os.path.join(SOURCE_DIR, "examples"))
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        self.assertIn("0 error(s)", out.stderr)

    def test_man_page_is_this_version(self):
        with gzip.open(os.path.join(ROOT, "usr/share/man/man1/almanac.1.gz"), "rt") as f:
            header = next(line for line in f if line.startswith(".TH "))
        self.assertRegex(header, rf'^\.TH ALMANAC 1 \S+ "almanac {re.escape(VERSION)}" ')
        if shutil.which("man"):
            text = run("man", "-l", os.path.join(ROOT, "usr/share/man/man1/almanac.1.gz"),
                       env=dict(os.environ, MANWIDTH="80", MAN_KEEP_FORMATTING="0")).stdout
            self.assertIn(f"almanac {VERSION}", text)

    def test_package_version_and_changelogs(self):
        self.assertEqual(field("Version"), VERSION)
        with gzip.open(os.path.join(ROOT, DOC_DIR, "changelog.gz"), "rt") as f:
            self.assertTrue(f.readline().startswith(f"almanac ({VERSION}) "))
        with open(os.path.join(SOURCE_DIR, "CHANGELOG.md")) as f:
            self.assertRegex(f.read(), rf"(?m)^## \[{re.escape(VERSION)}\] - \d{{4}}-\d{{2}}-\d{{2}}$",
                             "CHANGELOG.md has a section for the version in CMakeLists.txt")

    def test_server_header_and_metrics_are_this_version(self):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        server = subprocess.Popen([os.path.join(ROOT, "usr/bin/almanac"), "serve", "--config", "almanac.yaml",
                                   "--listen", f"127.0.0.1:{port}"], cwd=os.path.join(SOURCE_DIR, "examples"),
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                    conn.request("GET", "/healthz")
                    response = conn.getresponse()
                    response.read()
                    conn.close()
                    break
                except OSError:
                    conn.close()
                    self.assertIsNone(server.poll(), "the server exited")
                    self.assertLess(time.monotonic(), deadline, "the server did not answer within 60 s")
                    time.sleep(0.1)
            self.assertEqual(response.status, 200)
            self.assertEqual(response.getheader("Server"), f"almanac/{VERSION}")
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/metrics")
            metrics = conn.getresponse().read().decode()
            conn.close()
            self.assertIn(f'almanac_build_info{{version="{VERSION}"}} 1\n', metrics)
        finally:
            server.terminate()
            server.wait(timeout=30)

    def test_units_verify(self):
        service = os.path.join(ROOT, "lib/systemd/system/almanac.service")
        with open(service) as f:
            text = f.read()
        # The paths in the units are the package's own.
        self.assertIn("ExecStart=/usr/bin/almanac serve --config /etc/almanac/almanac.yaml\n", text)
        self.assertIn(f"Documentation=file:///{DOC_DIR}/deploy.md\n", text)
        self.assertTrue(os.path.isfile(os.path.join(ROOT, DOC_DIR, "deploy.md")))
        # verify --root resolves ExecStart= and the default dependencies inside the root: give it the
        # host's targets and the /bin/kill of ExecReload=, beside the extracted package.
        targets = os.path.join(ROOT, "usr/lib/systemd/system")
        os.makedirs(targets, exist_ok=True)
        for target in glob.glob("/usr/lib/systemd/system/*.target"):
            shutil.copy(target, targets)
        os.makedirs(os.path.join(ROOT, "bin"), exist_ok=True)
        shutil.copy("/bin/kill", os.path.join(ROOT, "bin/kill"))
        out = run("systemd-analyze", "verify", f"--root={ROOT}", *UNITS)
        self.assertEqual((out.returncode, out.stdout + out.stderr), (0, ""))


if __name__ == "__main__":
    ALMANAC, SOURCE_DIR = (os.path.realpath(a) for a in sys.argv[1:3])
    BUILD_DIR = os.path.dirname(ALMANAC)
    unittest.main(argv=[sys.argv[0]] + sys.argv[3:], verbosity=2)
