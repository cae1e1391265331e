"""Helpers of the Python tests: the relstab binary (RELSTAB_BIN, set by ctest; else the build tree's), a fresh
temporary directory per test, running the CLI and reading its JSON results."""
import json
import os
import shutil
import subprocess
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
BIN = os.environ.get("RELSTAB_BIN") or os.path.join(REPO, "build", "relstab")
FASHION = "/usr/share/datasets/fashion-mnist"


def have_fashion():
    return os.path.isdir(FASHION)


class TmpCase(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="relstab-py-")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def path(self, name):
        return os.path.join(self.tmp, name)

    def cli(self, *args):
        if not os.path.exists(BIN):
            self.fail("the relstab binary %s does not exist (set RELSTAB_BIN)" % BIN)
        r = subprocess.run([BIN] + [str(a) for a in args], capture_output=True, text=True)
        if r.returncode != 0:
            self.fail("relstab %s failed (%d): %s" % (" ".join(map(str, args)), r.returncode, r.stderr.strip()))
        return r.stdout

    def cli_measure(self, *args):
        """relstab measure ... --json; returns {node: row} and the settings."""
        out = self.path("m%d.json" % len(os.listdir(self.tmp)))
        self.cli("measure", *args, "--json", out, "--quiet")
        with open(out) as f:
            j = json.load(f)
        return {r["node"]: r for r in j["nodes"]}, j["settings"]


def rel(a, b):
    return abs(a - b) / max(abs(b), 1e-300)
