"""Every job runs torch deterministically (scripts/_common.py setup, deepleak.training
.make_deterministic) with subnormal floats flushed to zero (training.flush_denormals), and a job
run twice gives the same model byte for byte on the CPU.

Each check runs in a fresh interpreter, as a rule script does: the settings are process-wide, and
one that leaked from another test, or into one, would prove nothing.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

JOB = """
import json, os, sys
import torch
from _common import setup


class Job:  # what setup reads of the snakemake object
    log, threads = [sys.argv[1]], 1


setup(Job())
settings = {
    "cublas_workspace": os.environ.get("CUBLAS_WORKSPACE_CONFIG"),
    "deterministic": torch.are_deterministic_algorithms_enabled(),
    "warn_only": torch.is_deterministic_algorithms_warn_only_enabled(),
    "cudnn_deterministic": torch.backends.cudnn.deterministic,
    "cudnn_benchmark": torch.backends.cudnn.benchmark,
    "cuda_initialized": torch.cuda.is_initialized(),
    # 1e-30 * 1e-10 is subnormal in float32 (below 1.2e-38): flushed to zero
    "subnormal_product": (torch.tensor(1e-30) * torch.tensor(1e-10)).item(),
}
# An op with no deterministic implementation on any device: it must warn, not stop the job.
torch.zeros(3).put_(torch.tensor([0, 0]), torch.tensor([1.0, 2.0]))
print(json.dumps(settings))
"""

# A small training as train_model.py runs it (seeded model, seeded fit): the ConvNet's conv,
# max-pool and linear layers with the crop-and-flip augmentation, then its per-example gradients
# (vmap over conv layers, factored for linear ones). Prints a digest of the weights and features.
TRAINING = """
import hashlib
import numpy as np
import torch
from _common import setup
from deepleak import features, models, training


class Job:
    log, threads = [], 1


setup(Job())
rng = np.random.default_rng(0)
X, y = rng.random((96, 1, 16, 16), dtype=np.float32), rng.integers(0, 4, 96)
cfg = {"arch": "convnet", "channels": [4, 8], "hidden": [16],
       "normalise": {"mean": [0.5], "std": [0.3]}}
net = models.build_model(cfg, [1, 16, 16], 4, seed=3)
train = dict(optimizer="sgd", lr=0.05, momentum=0.9, batch_size=16, epochs=2, augment="crop_flip")
net, _ = training.fit(net, X[:64], y[:64], X[64:], y[64:], train=train, seed=3)
digest = hashlib.sha256()
for name, tensor in net.state_dict().items():
    digest.update(name.encode() + tensor.cpu().numpy().tobytes())
feats = features.extract(net, X, y, gradient_layers=3, chunk_size=16)
for name in sorted(feats):
    digest.update(name.encode() + np.ascontiguousarray(feats[name]).tobytes())
print(len(net.state_dict()), sorted(feats)[0], digest.hexdigest())
"""


def python(code: str, *args: str, hash_seed: str = "0") -> str:
    """The last line ``code`` prints, run as a rule script is: from scripts/, with no workspace
    setting of its own, and with ``hash_seed`` (two jobs' Python hashes differ)."""
    env = {k: v for k, v in os.environ.items() if k != "CUBLAS_WORKSPACE_CONFIG"}
    env["PYTHONHASHSEED"] = hash_seed
    out = subprocess.run([sys.executable, "-c", code, *args], cwd=ROOT / "scripts", env=env,
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-3000:]
    return out.stdout.strip().splitlines()[-1]


def test_every_job_runs_deterministic_algorithms_and_logs_the_ops_without(tmp_path):
    log = tmp_path / "job.log"
    settings = json.loads(python(JOB, str(log)))
    assert settings == {"cublas_workspace": ":4096:8", "deterministic": True, "warn_only": True,
                        "cudnn_deterministic": True, "cudnn_benchmark": False,
                        # setup itself starts no CUDA: the workspace is set before cuBLAS reads it
                        "cuda_initialized": False,
                        # subnormals flushed (training.flush_denormals; x86 and Arm both can)
                        "subnormal_product": 0.0}
    assert "put_ does not have a deterministic implementation" in log.read_text()


def test_a_job_run_twice_gives_byte_identical_weights_and_features_on_the_cpu():
    # Different hash seeds: iterating a set of names must not change what is computed.
    first, second = python(TRAINING, hash_seed="1"), python(TRAINING, hash_seed="2")
    assert first == second
    n_tensors, first_feature, _ = first.split()
    assert int(n_tensors) > 0 and first_feature  # the digest covers weights and features
