"""Bad input never crashes the interpreter: wrong dtype, non-contiguous arrays, mismatched shapes, NaN, empty
batches, unknown names and options each raise a Python exception with a message saying what is wrong (also in the
sanitizer build, where the library runs under ASan)."""
import unittest

import numpy as np

import relstab


class TestBadInput(unittest.TestCase):
    def setUp(self):
        rng = np.random.default_rng(0)
        self.x = rng.standard_normal((4, 1, 8, 8)).astype(np.float32)

    def raises(self, exc, fragment, fn, *a, **k):
        with self.assertRaises(exc) as e:
            fn(*a, **k)
        self.assertIn(fragment, str(e.exception))

    def test_diffeo_and_noise(self):
        x = self.x
        self.raises(TypeError, "float32", relstab.diffeo, x.astype(np.float64))
        self.raises(TypeError, "numpy array", relstab.diffeo, x.tolist())
        self.raises(ValueError, "C-contiguous", relstab.diffeo, x[:, :, :, ::2])
        self.raises(ValueError, "(B, C, H, W)", relstab.diffeo, x[0])
        self.raises(ValueError, "empty", relstab.diffeo, x[:0])
        bad = x.copy()
        bad[2, 0, 3, 3] = np.nan
        self.raises(ValueError, "non-finite", relstab.diffeo, bad)
        self.raises(ValueError, "interp", relstab.diffeo, x, interp="cubic")
        self.raises(ValueError, "entries for 4 images", relstab.diffeo, x, index=[0, 1])
        self.raises(ValueError, "negative", relstab.diffeo, x, index=[0, 1, -2, 3])
        self.raises(TypeError, "integers", relstab.diffeo, x, index=[0.5, 1, 2, 3])
        self.raises(relstab.RelstabArgError, "cutoff", relstab.diffeo, x, T=0.01, cut=0)
        self.raises(relstab.RelstabArgError, "1-D", relstab.diffeo, np.zeros((2, 1, 1, 8), np.float32), T=0.01)
        self.raises(relstab.RelstabArgError, "c", relstab.diffeo, x, delta=1.0, cut=1)
        self.raises(ValueError, "different shapes", relstab.matched_noise, x, x[:3])
        self.raises(ValueError, "norm", relstab.noise_norm, x, -1.0)

    def test_sensitivity(self):
        x = self.x
        s = relstab.Sensitivity(["a", "b"])
        self.raises(TypeError, "float32 or float64", s.add, "a", x.astype(np.int32), x, x)
        self.raises(TypeError, "one dtype", s.add, "a", x, x.astype(np.float64), x)
        self.raises(ValueError, "same shape", s.add, "a", x, x[:3], x[:3])
        self.raises(ValueError, "C-contiguous", s.add, "a", x, x[:, :, ::-1], x)
        self.raises(ValueError, "empty", s.add, "a", x[:0], x[:0], x[:0])
        nan = x.copy()
        nan[1, 0, 0, 0] = np.inf
        self.raises(ValueError, "non-finite", s.add, "a", x, x, nan)
        self.raises(KeyError, "unknown node", s.add, "c", x, x, x)
        s.add("a", x, x + 1, x + 2)
        self.raises(relstab.RelstabArgError, "values per image", s.add, "a", x[:, :, :4].copy(), x[:, :, :4].copy(),
                    x[:, :, :4].copy())
        self.raises(relstab.RelstabArgError, "float64", s.add, "a", *(v.astype(np.float64) for v in (x, x, x)))
        self.raises(relstab.RelstabArgError, "no image", s.result)  # node b never got a batch
        s.add("b", x, x + 1, x + 2)
        r = s.result()
        self.assertEqual([q["P"] for q in r], [4, 4])  # the refused batches left no trace
        self.raises(ValueError, "twice", relstab.Sensitivity, ["a", "a"])
        self.raises(ValueError, "estimator", relstab.Sensitivity, ["a"], estimator="mode")
        c = relstab.Sensitivity(["a"], channel_mean=True)
        self.raises(ValueError, "channel axis", c.add, "a", x[:, 0, 0, 0].copy(), x[:, 0, 0, 0].copy(),
                    x[:, 0, 0, 0].copy())

    def test_net_and_data(self):
        self.raises(relstab.RelstabArgError, "nosuchnet", relstab.Net, "nosuchnet")
        self.raises(relstab.RelstabArgError, "chanels", relstab.Net, "lenet", chanels=1)
        self.raises(relstab.RelstabError, "nowhere", relstab.Net, "lenet", weights="/nowhere/w.safetensors")
        net = relstab.Net("lenet", channels=1, size=28)
        self.raises(ValueError, "inputs", net.forward, np.zeros((2, 3, 28, 28), np.float32))
        self.raises(KeyError, "no node", net.forward, np.zeros((2, 1, 28, 28), np.float32), nodes=["conv9"])
        self.raises(TypeError, "float32", net.forward, np.zeros((2, 1, 28, 28)))
        self.raises(relstab.RelstabError, "nosuchdata", relstab.dataset, "nosuchdata")
        self.raises(ValueError, "split", relstab.dataset, "twopoints", split="dev")
        ds = relstab.dataset("twopoints:d=16,testsize=200")
        self.raises(ValueError, "outside", ds.images, [0, ds.n])
        self.raises(relstab.RelstabArgError, "P", ds.probe, ds.n + 1)
        self.raises(relstab.RelstabArgError, "mode", net.measure, ds, P=4, estimator="mode")
        self.raises(relstab.RelstabArgError, "takes", net.measure, ds, P=4)  # 1x28x28 net, 16x16 task images
        self.raises(relstab.RelstabArgError, "theory option", relstab.theory, padding="round")


if __name__ == "__main__":
    unittest.main()
