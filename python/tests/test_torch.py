"""relstab.torch.measure on PyTorch LeNet and VGG11-BN (1 x 28 x 28) carrying relstab's weights equals `relstab
measure --weights` on the same probe set within 1e-4 relative (both run in float32; the draws are the same, the
nets' float rounding differs). Skipped, saying why, without torch, without FashionMNIST, and in the sanitizer
build (the interpreter and torch are not instrumented)."""
import os
import unittest

import numpy as np

import relstab
from _util import TmpCase, have_fashion, rel

try:
    import torch
    import torch.nn as nn
    import relstab.torch as rtorch
    SKIP = None
except ImportError as e:
    SKIP = "torch is not installed (%s): apt-get install python3-torch" % e
if os.environ.get("RELSTAB_PY_ASAN") and SKIP is None:
    SKIP = "the sanitizer build: torch is not run under the preloaded ASan runtime"
if SKIP is None and not have_fashion():
    SKIP = "FashionMNIST (Debian's dataset-fashion-mnist) is not installed"
if SKIP:
    print("test_torch: SKIPPED: " + SKIP)


if SKIP is None:
    class LeNet(nn.Module):
        """relstab's lenet for 1 x 28 x 28: modules named as its nodes (torch.fx names of the functional ops)."""

        def __init__(self):
            super().__init__()
            self.conv1, self.relu, self.max_pool2d = nn.Conv2d(1, 6, 5), nn.ReLU(), nn.MaxPool2d(2)
            self.conv2, self.relu_1, self.max_pool2d_1 = nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2)
            self.view = nn.Flatten()
            self.fc1, self.relu_2 = nn.Linear(16 * 4 * 4, 120), nn.ReLU()
            self.fc2, self.relu_3, self.fc3 = nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10)

        def forward(self, x):
            for m in self.children():
                x = m(x)
            return x

    class VGG11bn(nn.Module):
        """relstab's vgg11bn for one input channel: ZeroPad2d(2), then conv-BN-ReLU / max pools, AvgPool2d(1)."""

        def __init__(self):
            super().__init__()
            layers, c = [nn.ZeroPad2d(2)], 1
            for v in (64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"):
                if v == "M":
                    layers.append(nn.MaxPool2d(2, 2))
                else:
                    layers += [nn.Conv2d(c, v, 3, padding=1), nn.BatchNorm2d(v), nn.ReLU(inplace=True)]
                    c = v
            layers.append(nn.AvgPool2d(1, 1))
            self.features = nn.Sequential(*layers)
            self.view = nn.Flatten()
            self.classifier = nn.Linear(512, 10)

        def forward(self, x):
            return self.classifier(self.view(self.features(x)))


@unittest.skipIf(SKIP, SKIP)
class TestTorchMeasure(TmpCase):
    def compare(self, name, model, P, extra=(), **kw):
        torch.manual_seed(0)
        w = self.path(name + ".safetensors")
        relstab.Net(name, data="fashionmnist", init_seed=11).save(w)
        state = {k: torch.from_numpy(v) for k, v in relstab.read_safetensors(w).items()}
        model.load_state_dict(state)
        if any(isinstance(m, nn.BatchNorm2d) for m in model.modules()):
            # BN running statistics of the data, as training leaves them (the init's 0 / 1 would make eval-mode BN
            # nearly the identity; arbitrary ones shrink the signal layer by layer until the classifier's outputs
            # barely move under a diffeo: with running_var ~ U(0.5, 2) its D_num is a difference of outputs equal
            # to 1e-4 of their norm, and float32 gives it to 3e-4 only, in relstab as in torch float64)
            for m in model.modules():
                if isinstance(m, nn.BatchNorm2d):
                    m.reset_running_stats()
                    m.momentum = None  # cumulative average
            model.train()
            train = relstab.dataset("fashionmnist", "train")
            with torch.no_grad():
                for p0 in range(0, 400, 100):
                    model(torch.from_numpy(train.images(np.arange(p0, p0 + 100))))
            model.eval()
        relstab.write_safetensors(w, model.state_dict())
        cli, _ = self.cli_measure("--model", name, "--weights", w, "--data", "fashionmnist", "--P", P, "--seed", 3,
                                  *extra)
        ds = relstab.dataset("fashionmnist")
        probe = ds.probe(P, seed=3)
        rows = rtorch.measure(model, ds.images(probe), index=probe, P=P, seed=3, as_frame=False, **kw)
        self.assertEqual([r["node"] for r in rows], list(cli))
        worst = 0.0
        for r in rows:
            c = cli[r["node"]]
            self.assertEqual(r["neurons"], c["neurons"])
            for q in ("D", "G", "R"):
                e = rel(r[q], c[q])
                worst = max(worst, e)
                self.assertLess(e, 1e-4, "%s %s %s: torch %r, relstab %r" % (name, r["node"], q, r[q], c[q]))
        print("\n  %s: %d nodes, P = %d, largest relative difference of D, G, R: %.2e" % (name, len(rows), P, worst))

    def test_lenet(self):
        self.compare("lenet", LeNet(), 100)

    def test_lenet_two_draws_channel_mean(self):
        self.compare("lenet", LeNet(), 40, ("--seeds", "2", "--channel-mean", "--delta", "1.5"), seeds=2,
                     channel_mean=True, delta=1.5)

    def test_vgg11bn(self):
        self.compare("vgg11bn", VGG11bn(), 24, batch=10)

    def test_errors(self):
        m = LeNet()
        x = np.zeros((4, 1, 28, 28), np.float32)
        with self.assertRaises(KeyError) as e:
            rtorch.measure(m, x, nodes=["conv9"], P=4)
        self.assertIn("conv9", str(e.exception))
        with self.assertRaises(ValueError):
            rtorch.measure(m, x, P=5)
        with self.assertRaises(TypeError):
            rtorch.measure(m, torch.zeros(4, 1, 28, 28, dtype=torch.float64), P=4)
        shared = nn.Sequential(nn.Conv2d(1, 2, 3), nn.Flatten())
        relu = nn.ReLU()
        twice = nn.Sequential(shared, relu, nn.Linear(2 * 26 * 26, 3), relu)
        with self.assertRaises(RuntimeError) as e:
            rtorch.measure(twice, x, P=4)
        self.assertIn("ran twice", str(e.exception))


if __name__ == "__main__":
    unittest.main()
