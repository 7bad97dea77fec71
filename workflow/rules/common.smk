# Names of things: every config check, the lists of datasets, scenarios, attacks and runs, seeds and
# the path functions every stage shares. The other .smk files hold rules only.
#
# Planning the DAG imports no torch: the modules imported here (the dataset registry, the table layer,
# the fine-tuning and federated designs, the resource model) are torch-free, so `snakemake -n` stays
# fast.
import functools
import math
import re
import sys
import zlib
from pathlib import Path

sys.path.insert(0, str(Path(workflow.basedir) / "scripts"))
from deepleak import federated_runs as dl_runs  # noqa: E402
from deepleak import calibration as dl_calibration  # noqa: E402 - numpy only: the pool's sizes
from deepleak import finetune as dl_finetune  # noqa: E402
from deepleak import paper  # noqa: E402 - the paper's tables: rows, attacks, values
from deepleak import registry  # noqa: E402 - the data sets: names, kinds, raw files
from deepleak import resources as dl_resources  # noqa: E402 - what each job costs
from deepleak import variants  # noqa: E402 - the attack variants: features, groups


# A config value the schema cannot judge alone (it names the key and what to do).
from deepleak.config_checks import ConfigError  # noqa: E402


# --------------------------------------------------------------------------------------------------
# The scenarios' lists
# --------------------------------------------------------------------------------------------------
STANDALONE = config["standalone"]
FINETUNE = config["finetune"]
FEDERATED = config["federated"]
SHADOW_ATTACK = config["shadow_attack"]
UNSUPERVISED = config["unsupervised"]

STANDALONE_DATASETS = sorted(STANDALONE["datasets"])
FINETUNE_DATASETS = sorted(FINETUNE["datasets"])
FEDERATED_DATASETS = list(FEDERATED["datasets"])
REPLICATES = [f"r{i}" for i in range(config["replicates"])]
FIGURE_REP = REPLICATES[0]  # figures show the first replicate; tables aggregate all of them
STANDALONE_ATTACKS = paper.standalone_attacks(len(STANDALONE["knowledge_fractions"]))
FINETUNE_TASKS = list(dl_finetune.TASKS)
# The entries some scenario runs. Only these are checked and get data jobs: a profile merged over
# another (config/paper.yaml over config/config.yaml) keeps the other's entries, which need not fit
# its own (the default's purchase100_small reads a stand-in the paper profile does not generate).
USED_DATASETS = sorted({d for section in ("standalone", "finetune", "federated", "calibrated", "dp")
                        for d in config[section]["datasets"]})


def dataset_cfg(dataset):
    return config["datasets"][dataset]


# An entry reads the data its `data:` names, by default its own name (applied once, here): several
# entries may share one, as the paper's three CIFAR-100 architectures do (cifar100_alexnet, ... with
# data: cifar100).
for _name, _cfg in config["datasets"].items():
    _cfg.setdefault("data", _name)


def data_of(dataset):
    return dataset_cfg(dataset)["data"]


def data_reader(data):
    """The first entry (by name) that reads the data set ``data``, among the entries some scenario
    runs if one does (USED_DATASETS)."""
    readers = [d for d in config["datasets"] if data_of(d) == data]
    return min([d for d in readers if d in USED_DATASETS] or readers)


def data_digests(dataset):
    """The config's own digests of an entry's raw files (datasets.<d>.digests), or None: the
    published ones (deepleak/registry.py with_digests)."""
    return dataset_cfg(dataset).get("digests")


# --------------------------------------------------------------------------------------------------
# Config checks the schema cannot express: they run at parse time, before any job starts
# --------------------------------------------------------------------------------------------------
def _entries_exist(key, names):
    missing = [d for d in names if d not in config["datasets"]]
    if missing:
        raise ConfigError(f"config: {key} names {missing}, which have no entry under datasets "
                          f"({sorted(config['datasets'])}); add one or remove them from {key}")


def _check_dataset_entries():
    """Every entry reads a data set of the registry, a stand-in exists where one is asked for, one
    local path per data set, and the stand-alone scenario names existing entries."""
    known = sorted(registry.DATASETS)
    for name in USED_DATASETS:
        if name not in config["datasets"]:
            continue  # the scenario's own check names it
        cfg, data = dataset_cfg(name), data_of(name)
        if data not in registry.DATASETS:
            raise ConfigError(f"config: datasets.{name}.data is {data!r} (an entry reads the data set it "
                              f"is named after unless it gives data:); the registry "
                              f"(scripts/deepleak/registry.py) knows {known}. Name the entry after one "
                              f"of them, give datasets.{name}.data, or add a registry entry")
        if cfg["source"] == "synthetic":
            with_standin = sorted(n for n, d in registry.DATASETS.items() if d.standin)
            if registry.DATASETS[data].standin is None:
                raise ConfigError(f"config: datasets.{name}.source is 'synthetic', but {data} has no "
                                  f"offline stand-in (those with one: {with_standin}); use source: real")
            reader = config["datasets"].get(data, {})
            if data != name and (reader.get("source") != "synthetic" or "standin" in cfg):
                raise ConfigError(f"config: datasets.{name}.source is 'synthetic' with data: {data}; a "
                                  f"stand-in is generated once per data set, by the entry named after "
                                  f"it: give datasets.{data} (source: synthetic, with standin:) and no "
                                  f"standin: in datasets.{name}, or name the entry {data}")
            if data == name and "standin" not in cfg:
                raise ConfigError(f"config: datasets.{name}.source is 'synthetic' but datasets.{name}"
                                  f".standin is missing; give at least standin.n_records")
    for data in sorted({data_of(d) for d in USED_DATASETS if d in config["datasets"]}):
        readers = [d for d in USED_DATASETS if d in config["datasets"] and data_of(d) == data]
        paths = sorted({dataset_cfg(d)["path"] for d in readers if dataset_cfg(d)["path"]})
        if len(paths) > 1:
            raise ConfigError(f"config: the datasets reading {data} name different paths {paths} "
                              f"(datasets.<name>.path); give one")
        if len({repr(data_digests(d)) for d in readers}) > 1:
            raise ConfigError(f"config: the datasets reading {data} give different digests "
                              f"(datasets.<name>.digests); give the same (or none) in each")
        if data_digests(data_reader(data)):
            try:
                registry.with_digests(data, data_digests(data_reader(data)))
            except ValueError as err:
                raise ConfigError(f"config: {err}") from err
    _entries_exist("standalone.datasets", STANDALONE_DATASETS)


def _check_variants():
    for key, variant in (("finetune.attack", FINETUNE["attack"]),
                         ("shadow_attack.attack", SHADOW_ATTACK["attack"]),
                         ("unsupervised.attack", UNSUPERVISED["attack"])):
        if variant not in variants.VARIANTS:
            raise ConfigError(f"config: {key} is {variant!r}; choose one of {sorted(variants.VARIANTS)}")


def _check_finetune():
    _entries_exist("finetune.datasets", FINETUNE_DATASETS)
    for d in FINETUNE_DATASETS:
        if d not in FINETUNE["sizes"]:
            raise ConfigError(f"config: finetune.sizes has no entry for {d!r}; give its target_train, "
                              f"nonmembers, attack_known and attack_test")


def _check_federated():
    _entries_exist("federated.datasets", FEDERATED_DATASETS)
    for d in FEDERATED_DATASETS:
        if d not in FEDERATED["per_dataset"]:
            raise ConfigError(f"config: federated.datasets names {d!r} but federated.per_dataset has no "
                              f"{d} entry (rounds, observed_epochs, train, sizes); add one")
        cfg = FEDERATED["per_dataset"][d]
        dl_runs.check_epochs(cfg["observed_epochs"], cfg["rounds"],
                             f"config: federated.per_dataset.{d}.observed_epochs")
    stray = [d for d in FEDERATED["sweep_datasets"] if d not in FEDERATED_DATASETS]
    if stray:
        raise ConfigError(f"config: federated.sweep_datasets names {stray}, which are not in "
                          f"federated.datasets ({FEDERATED_DATASETS})")
    if FEDERATED["parties"] not in FEDERATED["party_sweep"]:
        raise ConfigError(f"config: federated.party_sweep {FEDERATED['party_sweep']} must include "
                          f"federated.parties ({FEDERATED['parties']}): Table XIII's row for it is "
                          f"Table X's passive run")


_check_dataset_entries()
_check_variants()
_check_finetune()
_check_federated()
# Every scenario's sizes fit its data: drawn now by the split jobs' own functions, so that a size
# they would refuse stops the plan (deepleak/config_checks.py).
from deepleak import config_checks as dl_config_checks  # noqa: E402

dl_config_checks.check_sizes(config)


# ---- Calibrated attacks (LiRA, RMIA; deepleak/calibration.py) ------------------------------------
CALIBRATED = config["calibrated"]
CALIBRATED_DATASETS = sorted(CALIBRATED["datasets"])


def _check_calibrated():
    # An entry need not be in standalone.datasets: the stand-alone target, splits and attacks the
    # calibrated attacks stand beside are built for it on demand, without its tables and figures.
    _entries_exist("calibrated.datasets", CALIBRATED_DATASETS)
    # The reference pool (2 x target_train records holding the attack-test records) must fit the
    # records the target never saw: found here, not after the target's whole scenario has run.
    for d in CALIBRATED_DATASETS:
        sizes = dataset_cfg(d)["standalone"]["sizes"]
        n_test = sizes["attack_test_members"] + sizes["attack_test_nonmembers"]
        n_own = (dl_resources.n_records(config, d) - sizes["target_train"]
                 - sizes["target_test"])
        error = dl_calibration.pool_error(n_test, sizes["target_train"], n_own,
                                          CALIBRATED["population"])
        if error:
            raise ConfigError(f"config: datasets.{d} in calibrated.datasets: {error}")


_check_calibrated()
# ---- end of the calibrated attacks' block ---------------------------------------------------------

wildcard_constraints:
    dataset="|".join(sorted(config["datasets"])),
    rep=r"r\d+",
    model="target|shadow",
    attack="|".join(map(re.escape, STANDALONE_ATTACKS)),


# --------------------------------------------------------------------------------------------------
# Seeds, sources
# --------------------------------------------------------------------------------------------------
def artifact_seed(*parts):
    """Seed of one artifact, derived from the config seed; stable across runs and machines.
    The parts name the artifact (dataset, scenario, replicate, ...): keep them when moving a rule,
    so that no number moves."""
    return zlib.crc32("/".join(map(str, (config["seed"], *parts))).encode())


def raw_dir(dataset):
    """The folder of a dataset's raw files: data/raw/<data>/, or data/raw/<data>/synthetic/ for its
    generated stand-in (same files, same format)."""
    synthetic = dataset_cfg(dataset)["source"] == "synthetic"
    return f"data/raw/{data_of(dataset)}" + ("/synthetic" if synthetic else "")


def raw_files(dataset):
    return registry.raw_files(data_of(dataset), raw_dir(dataset))


# --------------------------------------------------------------------------------------------------
# Paths of each scenario
# --------------------------------------------------------------------------------------------------
def provenance(datasets):
    return expand("results/{dataset}/provenance.json", dataset=datasets)


def standalone_paths(pattern, datasets=None, attacks=None, reps=None):
    """Expand a stand-alone path pattern over datasets, replicates and (optionally) attacks."""
    return expand(pattern, dataset=datasets or STANDALONE_DATASETS, rep=reps or REPLICATES,
                  attack=attacks or STANDALONE_ATTACKS)


def finetune_paths(pattern, **extra):
    return expand(pattern, dataset=FINETUNE_DATASETS, rep=REPLICATES, **extra)


def federated_cfg(dataset):
    return FEDERATED["per_dataset"][dataset]


def federated_party_sweep(dataset):
    """Table XIII's party counts (deepleak/federated_runs.py party_sweep)."""
    return dl_runs.party_sweep(FEDERATED, dataset)


def federated_runs(dataset):
    return list(dl_runs.runs(FEDERATED["parties"], federated_party_sweep(dataset)))


FEDERATED_RUN_NAMES = sorted({run for d in FEDERATED_DATASETS for run in federated_runs(d)})


def table12_epoch_sets(dataset):
    """Table XII's epoch sets (deepleak/federated_runs.py table12_epoch_sets)."""
    return dl_runs.table12_epoch_sets(FEDERATED, dataset)


def federated_paths(pattern, datasets=None, runs=None):
    """Expand a federated path over datasets, replicates and each dataset's runs."""
    return [pattern.format(dataset=d, rep=r, run=run) for d in (datasets or FEDERATED_DATASETS)
            for r in REPLICATES for run in (runs or federated_runs(d)) if run in federated_runs(d)]


# --------------------------------------------------------------------------------------------------
# Threads and resources, from the resource model (deepleak/resources.py)
# --------------------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=None)
def _job_estimate(rule, wildcards):
    return dl_resources.estimate(config, rule, dict(wildcards))


def job_estimate(rule, wildcards):
    """The resource model's estimate of one job (time, memory, GPU), computed once per job."""
    return _job_estimate(rule, tuple(sorted(dict(wildcards).items())))


def job_mem_mb(rule, wildcards, attempt):
    """A job's memory request, capped at node_mem_mb; a job that needs more than a node has stops
    the plan."""
    est = job_estimate(rule, wildcards)
    if est.mem_mb > config["node_mem_mb"]:
        raise ConfigError(f"config: the {rule} job {dict(wildcards)} needs about "
                          f"{est.mem_mb:,.0f} MB, more than node_mem_mb ({config['node_mem_mb']:,} "
                          f"MB): raise node_mem_mb if your nodes have more, or shrink the job "
                          f"(its dataset's sizes, model, features.batch_size)")
    return est.request_mem_mb(attempt, cap=config["node_mem_mb"])


def job_resources(rule):
    """`resources:` of a rule's jobs: mem_mb and runtime (minutes) with the model's margins, times
    the attempt (a retry asks for more), and gpu=1 for the jobs that run torch on a GPU (device
    cuda, or auto for the image models: `--resources gpu=N` caps how many run at once; a SLURM job
    gets --gpus=1)."""
    return {
        "mem_mb": lambda wildcards, attempt: job_mem_mb(rule, wildcards, attempt),
        "runtime": lambda wildcards, threads, attempt: job_estimate(rule, wildcards).runtime_min(
            threads, attempt),
        "gpu": lambda wildcards: job_estimate(rule, wildcards).gpu,
    }


def job_threads(rule):
    """`threads:` of jobs that train small models in small batches (attack models, the federated
    parties): one, unless the model says one thread would take long (deepleak/resources.py
    threads_for), then the config's threads."""
    return lambda wildcards: dl_resources.threads_for(job_estimate(rule, wildcards),
                                                      config["threads"])


# `priority:` of the rules on the DAG's longest chains. Of the jobs ready to run, Snakemake starts
# those of highest priority first (the others fill the cores around them). The longest chains run
# through the stand-alone scenario: data, then the target and shadow models (and the fine-tuned
# model and the reference models that hang on them), their features, then the attack models
# that take longest. Without priorities, a whole `make` on 2 cores started Texas100's target
# training 985 s into a 1,288 s run, and its attack models then ran alone while the other core
# stood idle (259 core-seconds idle in all); with them, 30 core-seconds idle in a 1,057 s run
# (`make benchmarks`, results/occupancy.json). Order only: every job's result is the same.
PRIORITY = {"data": 40, "train": 30, "features": 20, "attack": 10}

# --------------------------------------------------------------------------------------------------
# DP-SGD (beyond the paper; deepleak/dp.py, deepleak/audit.py): the privacy levels, checks, paths
# --------------------------------------------------------------------------------------------------
from deepleak import audit as dl_audit  # noqa: E402 - torch-free: the levels' names, the audit

DP = config["dp"]
DP_DATASETS = sorted(DP["datasets"])
# eps<e> per epsilon, then clip_only: the DP-SGD targets; the non-private row is the stand-alone
# target itself.
DP_LEVELS = dl_audit.levels(DP["epsilons"], DP["clip_only"])
# The attacks every DP target gets from rule dp_attacks: the stand-alone variants of dp.attacks and
# the threshold baselines ("baselines": one scores file, one row per baseline in the table).
DP_ATTACK_JOBS = [*DP["attacks"], "baselines"]


def _check_dp():
    # A DP target trains on the stand-alone target's members, and its non-private row is that
    # target, built on demand as for the calibrated attacks.
    _entries_exist("dp.datasets", DP_DATASETS)
    unknown = [a for a in DP["attacks"] if a not in variants.VARIANTS]
    if unknown:
        raise ConfigError(f"config: dp.attacks names {unknown}; choose stand-alone variants of "
                          f"{sorted(variants.VARIANTS)}")
    if len(set(DP_LEVELS)) != len(DP_LEVELS):
        raise ConfigError(f"config: dp.epsilons {DP['epsilons']} repeat a value")
    # DP-SGD (deepleak/dp.py) steps at one learning rate on the raw records: a recipe's milestones
    # or augmentation would be dropped without a word, so such a dataset stops here.
    for d in DP_DATASETS:
        train = dataset_cfg(d)["train"]
        unused = [k for k in ("lr_milestones", "augment")
                  if train.get(k) not in (None, [], "none")]
        if unused:
            raise ConfigError(f"config: dp.datasets names {d!r}, whose datasets.{d}.train sets "
                              f"{unused}, which the DP-SGD training does not apply; remove "
                              f"{d!r} from dp.datasets or those keys from its recipe")

    # LiRA on the DP targets: attacks run_attacks knows, and a reference pool that fits, as the
    # calibrated stage's check (its pool: the DP references draw from the same one).
    # (deepleak/calibration.py's names; the per-layer ones depend on the model's layers.)
    known = tuple(dl_calibration.attack_names([]))
    unknown = [a for a in DP["calibrated_attacks"]
               if a not in known and not a.startswith("wb_lira_grad_norm_")]
    if unknown:
        raise ConfigError(f"config: dp.calibrated_attacks names {unknown}; choose among {known} "
                          f"and wb_lira_grad_norm_<layer>")
    if DP["calibrated_attacks"]:
        for d in DP_DATASETS:
            sizes = dataset_cfg(d)["standalone"]["sizes"]
            n_own = (dl_resources.n_records(config, d) - sizes["target_train"]
                     - sizes["target_test"])
            error = dl_calibration.pool_error(
                sizes["attack_test_members"] + sizes["attack_test_nonmembers"],
                sizes["target_train"], n_own, CALIBRATED["population"])
            if error:
                raise ConfigError(f"config: datasets.{d} in dp.datasets (dp.calibrated_attacks): "
                                  f"{error}")


_check_dp()


def dp_train(dataset):
    """The DP targets' recipe: the dataset's own train section with dp.train's keys over it."""
    return {**dataset_cfg(dataset)["train"], **DP["train"]}


def dp_attack_outputs(pattern):
    """dp_attacks' outputs: ``pattern`` formatted per attack job (``{job}``), other wildcards kept."""
    return [pattern.replace("{job}", job) for job in DP_ATTACK_JOBS]
