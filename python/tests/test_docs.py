"""docs/python.md's example runs as written: its ```python blocks are executed in order, in one namespace (needs
torch and FashionMNIST; skipped, saying why, otherwise and in the sanitizer build)."""
import io
import os
import re
import unittest
from contextlib import redirect_stdout

from _util import REPO, have_fashion

try:
    import torch  # noqa: F401
    SKIP = None
except ImportError as e:
    SKIP = "torch is not installed (%s)" % e
if SKIP is None and os.environ.get("RELSTAB_PY_ASAN"):
    SKIP = "the sanitizer build: torch is not run under the preloaded ASan runtime"
if SKIP is None and not have_fashion():
    SKIP = "FashionMNIST (Debian's dataset-fashion-mnist) is not installed"
if SKIP:
    print("test_docs: SKIPPED: " + SKIP)


@unittest.skipIf(SKIP, SKIP)
class TestDocs(unittest.TestCase):
    def test_example_runs(self):
        with open(os.path.join(REPO, "docs", "python.md")) as f:
            blocks = re.findall(r"```python\n(.*?)```", f.read(), re.S)
        self.assertGreaterEqual(len(blocks), 1)
        ns, out = {"__name__": "__docs__"}, io.StringIO()
        with redirect_stdout(out):
            for b in blocks:
                exec(compile(b, "docs/python.md", "exec"), ns)
        rows = ns["rows"]
        self.assertEqual([r["node"] for r in rows][-2:], ["flatten", "fc"])
        self.assertTrue(all(r["D"] > 0 and r["G"] > 0 and r["P"] == 200 for r in rows))
        self.assertIn("final training loss", out.getvalue())
        print("\n" + out.getvalue())


if __name__ == "__main__":
    unittest.main()
