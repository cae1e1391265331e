"""Perturbations: relstab.diffeo / matched_noise bit-identical to `relstab measure --dump` and `relstab diffeo
--out-npy` for the same seed and image indices; temperatures against their closed forms."""
import math
import os
import unittest

import numpy as np

import relstab
from _util import TmpCase, have_fashion


@unittest.skipUnless(have_fashion(), "FashionMNIST (Debian's dataset-fashion-mnist) is not installed")
class TestPerturbations(TmpCase):
    def test_measure_dump_bit_identical(self):
        d = self.path("dump")
        # two draws (repeats 0, 1), a seed, a delta, a probe sample: every address of the draws is exercised
        self.cli("measure", "--model", "lenet", "--init", "--data", "fashionmnist", "--P", "24", "--seed", "7",
                 "--seeds", "2", "--delta", "1.7", "--nodes", "fc3", "--dump", d)
        x = np.load(os.path.join(d, "probe.npy"))
        idx = np.load(os.path.join(d, "index.npy"))
        xd, xn = np.load(os.path.join(d, "deformed.npy")), np.load(os.path.join(d, "noisy.npy"))
        ds = relstab.dataset("fashionmnist")
        np.testing.assert_array_equal(idx, ds.probe(24, seed=7))
        np.testing.assert_array_equal(x, ds.images(idx))
        for k in range(2):
            mine = relstab.diffeo(x, delta=1.7, seed=7, index=idx, repeat=k)
            self.assertTrue(np.array_equal(mine, xd[k]), "diffeo draw %d differs from measure --dump" % k)
            noisy = relstab.matched_noise(x, mine, seed=7, index=idx, repeat=k)
            self.assertTrue(np.array_equal(noisy, xn[k]), "noise draw %d differs from measure --dump" % k)
        # the draw of an image does not depend on its batch: a shuffled sub-batch gives the same images
        perm = np.array([5, 0, 17, 3])
        part = relstab.diffeo(np.ascontiguousarray(x[perm]), delta=1.7, seed=7, index=idx[perm], repeat=1)
        self.assertTrue(np.array_equal(part, xd[1][perm]))
        # another seed, another draw
        self.assertFalse(np.array_equal(relstab.diffeo(x, delta=1.7, seed=8, index=idx), xd[0]))

    def test_diffeo_cli_bit_identical(self):
        d = self.path("dd")
        for interp in ("linear", "nearest", "gaussian"):
            self.cli("diffeo", "--data", "fashionmnist", "--index", "3,17,9000", "--repeats", "2", "--seed", "4",
                     "--T", "0.004", "--cut", "5", "--interp", interp, "--out-npy", d)
            inp, idx = np.load(os.path.join(d, "inputs.npy")), np.load(os.path.join(d, "index.npy"))
            want, fields = np.load(os.path.join(d, "deformed.npy")), np.load(os.path.join(d, "fields.npy"))
            for r in range(2):
                rows = idx[:, 1] == r
                got, f = relstab.diffeo(np.ascontiguousarray(inp[rows]), T=0.004, cut=5, interp=interp, seed=4,
                                        index=idx[rows, 0], repeat=r, fields=True)
                self.assertTrue(np.array_equal(got, want[rows]), "%s repeat %d" % (interp, r))
                self.assertTrue(np.array_equal(f, fields[rows]))
            if interp == "gaussian":
                self.assertTrue(np.array_equal(relstab.smooth(inp), np.load(os.path.join(d, "smoothed.npy"))))


class TestTemperatures(unittest.TestCase):
    def test_closed_forms(self):
        for n, c, delta in ((28, 3, 1.0), (32, 5, 0.5), (64, 15, 2.5)):
            T = relstab.T_of_delta(delta, n, c)
            self.assertAlmostEqual(T / (4 * delta ** 2 / (math.pi * n * n * math.log(c))), 1, delta=1e-14)
            self.assertAlmostEqual(relstab.delta_of_T(T, n, c) / delta, 1, delta=1e-14)
            self.assertAlmostEqual(relstab.T_min(n, c) * math.pi * n * n * math.log(c), 1, delta=1e-14)
            self.assertAlmostEqual(relstab.T_max(c) * math.pi ** 3 * c * c * math.log(c) / 4, 1, delta=1e-14)
        self.assertEqual([relstab.n_modes(c) for c in (3, 5, 15)], [6, 19, 172])
        with self.assertRaises(relstab.RelstabArgError) as e:
            relstab.T_of_delta(1.0, 28, 1)
        self.assertIn("c", str(e.exception))

    def test_noise_norm_and_matched_norms(self):
        rng = np.random.default_rng(0)
        x = rng.standard_normal((6, 3, 8, 8)).astype(np.float32)
        xd = relstab.diffeo(x, delta=1.0)
        xn, eta = relstab.matched_noise(x, xd, seed=2, eta=True)
        np.testing.assert_array_equal(xn, x + eta)
        np.testing.assert_allclose(np.linalg.norm(eta.reshape(6, -1).astype(np.float64), axis=1),
                                   np.linalg.norm((xd - x).reshape(6, -1).astype(np.float64), axis=1), rtol=1e-6)
        y = relstab.noise_norm(x, 0.5, seed=2)
        np.testing.assert_allclose(np.linalg.norm((y - x).reshape(6, -1).astype(np.float64), axis=1), 0.5, rtol=1e-5)


class TestTaskDatasets(unittest.TestCase):
    def test_tasks_as_arrays(self):
        """The scale-detection tasks: images with exactly two active pixels on the background, labels in {0, 1}."""
        for spec, shape in (("twopoints:d=16,testsize=200", (1, 16, 16)), ("scale1d", (1, 1, 128))):
            ds = relstab.dataset(spec)
            self.assertEqual(ds.shape, shape)
            self.assertEqual(ds.classes, 2)
            x, y = ds.images(), ds.labels()
            self.assertEqual(x.shape, (ds.n,) + shape)
            self.assertEqual(x.dtype, np.float32)
            bg = x.reshape(ds.n, -1).min(1, keepdims=True)
            active = (x.reshape(ds.n, -1) != bg).sum(1)
            self.assertTrue(((active == 2) | (active == 1)).all())  # 1: both pixels on one place (never in twopoints)
            self.assertEqual(set(np.unique(y)), {0, 1})


if __name__ == "__main__":
    unittest.main()
