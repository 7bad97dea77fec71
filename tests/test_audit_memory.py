"""Audit memory stays bounded for large models: a ResNet-50-sized network (torchvision's ResNet-50,
25.6M parameters) at 32 x 32 inputs, its last four parameterised layers read through the audit's
forward hooks (deepleak/audit_model.py hooked, deepleak/features.py extract), at two record counts.

A per-record weight gradient of ResNet-50 is 25.6M numbers, 102 MB; of the four layers read here
(layer4.2.conv1, conv2, conv3 and fc) 4.5M numbers, 18 MB a record. Materialised per record, 128
more records would cost 2.3 GB more. The audit keeps linear layers as their two factors and reduces
conv gradients per output channel one chunk of records at a time, so the peak is bounded by

    model + one batch's activations (audit.batch_size) + one chunk's conv gradients
    (audit.chunk_size x the largest chosen conv layer's weights x 4 bytes) + the stored features
    (a few thousand numbers per record),

and only the last term grows with the records. The test checks that the peak grows by no more than
twice the stored features' growth plus 250 MB of allocator slack (as tests/test_paper_smoke.py does
for the stand-alone feature job)."""
import json
import os
import subprocess
import sys

import pytest
from test_workflow import ROOT

pytestmark = pytest.mark.e2e

RECORDS = (64, 192)

SCRIPT = """
import json, resource, sys
import numpy as np, torch, torchvision
from deepleak import audit_model, features
torch.set_num_threads(1)
torch.manual_seed(0)
net = torchvision.models.resnet50(weights=None, num_classes=10)
n = int(sys.argv[1])
X = np.random.default_rng(0).normal(size=(n, 3, 32, 32)).astype(np.float32)
y = np.arange(n) % 10
found = audit_model.probe(net, X, y)
layers = audit_model.choose_layers(found["order"], found["shared"], 4, None)
feats = features.extract(audit_model.hooked(net, layers), X, y, gradient_layers=4,
                         batch_size=32, chunk_size=8, max_output_features=4096)
print(json.dumps({"layers": layers,
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "features_mb": sum(v.nbytes for v in feats.values()) / 2**20}))
"""


def peak(n):
    env = {**os.environ, "PYTHONPATH": str(ROOT / "scripts"), "MALLOC_ARENA_MAX": "1",
           "OMP_NUM_THREADS": "1"}
    out = subprocess.run([sys.executable, "-c", SCRIPT, str(n)], capture_output=True, text=True,
                         env=env, cwd=ROOT)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_peak_memory_does_not_grow_with_the_records():
    small, large = (peak(n) for n in RECORDS)
    assert small["layers"] == ["layer4.2.conv1", "layer4.2.conv2", "layer4.2.conv3", "fc"]
    print(f"ResNet-50 audit features: peak {small['peak_mb']:.0f} MB at {RECORDS[0]} records "
          f"(features {small['features_mb']:.1f} MB), {large['peak_mb']:.0f} MB at {RECORDS[1]} "
          f"(features {large['features_mb']:.1f} MB)")
    growth = large["peak_mb"] - small["peak_mb"]
    assert growth <= 2 * (large["features_mb"] - small["features_mb"]) + 250, growth
    # Materialised per-record gradients of the four layers would have added 2.3 GB.
    assert growth < 0.2 * 18 * (RECORDS[1] - RECORDS[0])
