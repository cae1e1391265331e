"""The estimator: Sensitivity against the formulas in float64 (1e-12), against `relstab measure` on the same
inputs (the dumped probe, deformed and noisy images through Net.forward's taps), Net.measure against the CLI, the
model and weights round trips, and theory() against `relstab theory --csv`."""
import csv
import os
import unittest

import numpy as np

import relstab
from _util import TmpCase, have_fashion, rel


def reference(x, xd, xn, estimator="mean"):
    """The estimator by its definition, in float64: deno over all P^2 ordered pairs."""
    P = x.shape[0]
    a, ad, an = (v.reshape(P, -1).astype(np.float64) for v in (x, xd, xn))
    pair = ((a[:, None, :] - a[None, :, :]) ** 2).sum(-1)
    if estimator == "mean":
        dn, gn = ((ad - a) ** 2).sum(1), ((an - a) ** 2).sum(1)
        deno = pair.mean() + 1e-10
        return {"D_num": dn.mean(), "G_num": gn.mean(), "deno": deno, "D": dn.mean() / deno, "G": gn.mean() / deno,
                "D_se": dn.std(ddof=1) / np.sqrt(P) / deno}
    low = lambda v, axis=None: np.sort(v, axis=axis).take((v.shape[axis or 0] - 1) // 2 if axis is not None
                                                          else (v.size - 1) // 2, axis=axis or 0) if axis is not None \
        else np.sort(v.ravel())[(v.size - 1) // 2]
    deno = low(pair) + 1e-10
    dn, gn = low((ad - a) ** 2, axis=0).sum(), low((an - a) ** 2, axis=0).sum()
    return {"D_num": dn, "G_num": gn, "deno": deno, "D": dn / deno, "G": gn / deno}


class TestSensitivityFormulas(unittest.TestCase):
    def test_float64_against_definition(self):
        rng = np.random.default_rng(1)
        P, shape = 37, (4, 5, 3)
        x = rng.standard_normal((P,) + shape)
        xd = x + 0.3 * rng.standard_normal(x.shape)
        xn = x + 0.2 * rng.standard_normal(x.shape)
        for est in ("mean", "median"):
            for chmean in (False, True):
                s = relstab.Sensitivity(["a"], estimator=est, channel_mean=chmean)
                for p0 in range(0, P, 10):  # batches of 10, 10, 10, 7
                    s.add("a", x[p0:p0 + 10].copy(), xd[p0:p0 + 10].copy(), xn[p0:p0 + 10].copy())
                r = s.result()[0]
                f = (lambda v: v.mean(axis=1)) if chmean else (lambda v: v)
                ref = reference(f(x), f(xd), f(xn), est)
                self.assertEqual(r["P"], P)
                self.assertEqual(r["neurons"], 15 if chmean else 60)
                for q, v in ref.items():
                    self.assertLess(rel(r[q], v), 1e-12, "%s %s chmean %s: %r vs %r" % (q, est, chmean, r[q], v))
                self.assertLess(rel(r["R"], ref["D"] / ref["G"]), 1e-12)

    def test_channels_last_equals_channels_first(self):
        rng = np.random.default_rng(2)
        x = rng.standard_normal((9, 3, 4, 4)).astype(np.float32)
        xd, xn = x + 0.1, x * 1.1
        a = relstab.Sensitivity(["n"], channel_mean=True)
        b = relstab.Sensitivity(["n"], channel_mean=True, channels_last=True)
        a.add("n", x, xd, xn)
        t = lambda v: np.ascontiguousarray(v.transpose(0, 2, 3, 1))
        b.add("n", t(x), t(xd), t(xn))
        ra, rb = a.result()[0], b.result()[0]
        for q in ("D", "G", "R", "deno"):  # the same means, summed over the values in another order
            self.assertLess(rel(ra[q], rb[q]), 1e-12)


@unittest.skipUnless(os.path.isdir("/usr/share/datasets/fashion-mnist"), "FashionMNIST is not installed")
class TestAgainstCli(TmpCase):
    def weights(self, model, seed):
        w = self.path("%s.safetensors" % model)
        relstab.Net(model, data="fashionmnist", init_seed=seed).save(w)
        return w

    def test_taps_and_sensitivity_equal_measure(self):
        w = self.weights("lenet", 3)
        net = relstab.Net("lenet", weights=w, data="fashionmnist")
        for extra, est, chmean in (([], "mean", False), (["--channel-mean"], "mean", True),
                                   (["--estimator", "median"], "median", False)):
            d = self.path("dump" + est + str(chmean))
            cli, _ = self.cli_measure("--model", "lenet", "--weights", w, "--data", "fashionmnist", "--P", "150",
                                      "--seed", "2", "--dump", d, *extra)
            x, xd, xn = (np.load(os.path.join(d, f + ".npy")) for f in ("probe", "deformed", "noisy"))
            nodes = net.nodes[1:]
            s = relstab.Sensitivity(nodes, estimator=est, channel_mean=chmean, channels_last=True)
            for p0 in range(0, 150, 100):  # the CLI's batches of 100
                outs = [net.forward(np.ascontiguousarray(v[p0:p0 + 100]), nodes="all", layout="nhwc")
                        for v in (x, xd, xn)]
                for n in nodes:
                    s.add(n, outs[0][n], outs[1][n], outs[2][n])
            for r in s.result():
                c = cli[r["node"]]
                self.assertEqual(r["neurons"], c["neurons"])
                for q in ("D", "G", "R", "D_num", "G_num", "deno") + (("D_se", "R_se") if est == "mean" else ()):
                    self.assertLess(rel(r[q], c[q]), 1e-12, "%s %s %s: %r vs %r" % (est, r["node"], q, r[q], c[q]))
                self.assertEqual(r["flag"], c["flag"])

    def test_net_measure_equals_cli(self):
        w = self.weights("vgg11bn", 5)
        cli, settings = self.cli_measure("--model", "vgg11bn", "--weights", w, "--data", "fashionmnist", "--P", "12",
                                         "--seeds", "2", "--delta", "0.8", "--nodes", "features.1,features.9,classifier")
        net = relstab.Net("vgg11bn", weights=w, data="fashionmnist")
        rows = net.measure("fashionmnist", P=12, seeds=2, delta=0.8, nodes=["features.1", "features.9", "classifier"])
        self.assertEqual([r["node"] for r in rows], ["features.1", "features.9", "classifier"])
        for r in rows:
            for q in ("D", "G", "R", "D_se", "G_se", "R_se", "deno"):
                # the same computation; the JSON's doubles are printed with 15 digits when they (nearly) round-trip
                self.assertLess(rel(r[q], cli[r["node"]][q]), 1e-14, "%s %s" % (r["node"], q))
            self.assertEqual(r["flag"], cli[r["node"]]["flag"])
        self.assertLess(rel(net.last_measure["T"], settings["T"]), 1e-14)
        # --aliased: features.2 (BN; features.0 is the 1-channel ZeroPad2d) followed by the in-place ReLU
        # features.3 reports the ReLU's output, as the CLI does
        cli, _ = self.cli_measure("--model", "vgg11bn", "--weights", w, "--data", "fashionmnist", "--P", "12",
                                  "--aliased", "--nodes", "features.2,features.3")
        rows = net.measure("fashionmnist", P=12, aliased=True, nodes="features.2,features.3")
        self.assertEqual(rows[0]["D"], rows[1]["D"])
        self.assertNotEqual(rows[0]["D"], net.measure("fashionmnist", P=12, nodes="features.2")[0]["D"])
        for r in rows:
            self.assertLess(rel(r["D"], cli[r["node"]]["D"]), 1e-14)

    def test_weights_round_trip(self):
        w = self.weights("lenet", 9)
        t = relstab.read_safetensors(w)
        self.assertEqual(t["conv1.weight"].shape, (6, 1, 5, 5))
        t["fc3.bias"] = t["fc3.bias"] + 1.0
        w2 = self.path("moved.safetensors")
        relstab.write_safetensors(w2, t)
        a, b = relstab.Net("lenet", weights=w, data="fashionmnist"), relstab.Net("lenet", weights=w2, data="fashionmnist")
        x = relstab.dataset("fashionmnist").images([0, 1])
        np.testing.assert_allclose(b.forward(x)["fc3"] - a.forward(x)["fc3"], 1.0, rtol=1e-6)
        del t["fc3.bias"]
        relstab.write_safetensors(w2, t)
        with self.assertRaises(relstab.RelstabError) as e:
            relstab.Net("lenet", weights=w2, data="fashionmnist")
        self.assertIn("fc3.bias", str(e.exception))


class TestTheory(TmpCase):
    def test_theory_equals_cli(self):
        out = self.path("t.csv")
        self.cli("theory", "--dim", "1", "--stride", "2", "--filter", "2", "--depth", "6", "--seed", "3", "--csv", out)
        with open(out) as f:
            cli = [r for r in csv.DictReader(f)]
        rows = relstab.theory(dim=1, stride=2, filter=2, depth=6, seed=3)
        self.assertEqual(len(rows), 6)
        for r, c in zip(rows, cli):
            self.assertEqual(r["k"], int(c["k"]))
            for q in ("D", "G", "R"):
                self.assertEqual(r[q], float(c[q]), q)  # the CSV has 17 significant digits


if __name__ == "__main__":
    unittest.main()
