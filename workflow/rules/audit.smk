# Audit your own model (config `audit`; README, "Audit your own model"; deepleak/audit_model.py):
# the paper's attacks on a model the user names by a Python file, a function and a state_dict.
#
#   audit_validate   cheap and first: the model builds, its weights match, the data fits it, the
#                    members and non-members are disjoint and enough; the attacker's record sets
#   audit_features   outputs, losses and per-example gradients of the chosen layers (read only)
#   audit_attacks    threshold baselines, black-box, white-box per layer and combined
#   audit_unsupervised  the unsupervised attack (Table VII's, §II-D)
#   audit_references    with audit.model.train_function: reference models trained by the user's own
#                    function on halves of a pool holding the attack-test records (IN/OUT mask),
#                    only their per-record statistics kept (deepleak/references.py)
#   audit_target_statistics  the same statistics of the audited model (read only)
#   audit_lira       LiRA online / offline, RMIA, white-box LiRA (deepleak/calibration.py)
#   audit_report     verdict, per-layer table, ROC and per-class figures, per-record risk
#
# `snakemake --cores all audit --configfile my-audit.yaml`, then `snakemake --report audit.html
# --configfile my-audit.yaml audit` for the HTML report.
AUDIT = config["audit"]
AUDIT_DIR = f"results/audit/{AUDIT['name']}"
AUDIT_LOGS = f"logs/audit/{AUDIT['name']}"


def _check_audit():
    """What the schema cannot say about the audit section (files are checked by audit_validate)."""
    if not AUDIT.get("model"):
        return
    data = AUDIT.get("data", {})
    if bool(data.get("npz")) == bool(data.get("image_folder")):
        raise ConfigError("config: audit.data needs exactly one of npz (an .npz with X and y) and "
                          "image_folder (an ImageFolder tree)")
    m = AUDIT.get("membership", {})
    ways = [w for w, given in (("members/nonmembers", m.get("members") or m.get("nonmembers")),
                               ("column", m.get("column")), ("split", m.get("split"))) if given]
    if len(ways) != 1:
        raise ConfigError(f"config: audit.membership needs exactly one of members + nonmembers "
                          f"(index files), column, or split; got {ways or 'none'}")
    if ways == ["members/nonmembers"] and not (m.get("members") and m.get("nonmembers")):
        raise ConfigError("config: audit.membership gives one of members and nonmembers; give both")
    if m.get("column") and not data.get("npz"):
        raise ConfigError("config: audit.membership.column reads an array of audit.data.npz; with "
                          "image_folder data give members and nonmembers or split")


_check_audit()


def audit_lira_skipped():
    """Why the audit runs no LiRA (the report says it), or None when it does."""
    if not AUDIT.get("model"):
        return None
    if not AUDIT["model"].get("train_function"):
        return ("audit.model.train_function is not given: LiRA needs reference models trained as "
                "the audited model was. Name your training function, train(model, X, y, "
                "seed=..., **train_kwargs), in audit.model.file to add it")
    if AUDIT["references"]["models"] == 0:
        return "audit.references.models is 0"
    return None


def _check_audit_references():
    models = AUDIT["references"]["models"]
    # The schema allows 0 (off) and even numbers; LiRA online fits a Gaussian to each record's IN
    # and to its OUT statistics, which needs two of each: 4 models at least.
    if models == 2:
        raise ConfigError("config: audit.references.models is 2; LiRA online needs at least two "
                          "IN and two OUT reference models per record: give 4 or more (even), or "
                          "0 for no LiRA")


_check_audit_references()
AUDIT_LIRA = AUDIT.get("model") and audit_lira_skipped() is None


def audit_n_layers():
    names = AUDIT["layers"].get("names")
    return len(names) if names else AUDIT["layers"]["last"]


def audit_attack_names():
    """The supervised attacks of deepleak/audit_model.py audit_attacks, known from the config."""
    k = audit_n_layers()
    return (["black_box"] + [f"outputs_{i}" for i in range(2, k + 1)]
            + [f"gradients_{i}" for i in range(1, k + 1)]
            + ["outputs_all", "gradients_all", "gradients_all_outputs_all"])


def _bytes(path) -> int:
    """Size on disk of a file or of every file under a folder (0 if absent: audit_validate says)."""
    p = Path(path)
    if p.is_dir():
        return sum(f.stat().st_size for f in p.rglob("*") if f.is_file())
    return p.stat().st_size if p.is_file() else 0


@functools.cache
def audit_mem_estimate_mb() -> float:
    """The audit jobs' memory estimate, from the user's files' sizes: measured once per plan (an
    image folder is walked once, not once per job)."""
    return dl_resources.audit_mem_mb(
        _bytes(AUDIT["model"]["state_dict"]),
        _bytes(AUDIT["data"].get("npz") or AUDIT["data"].get("image_folder")))


def audit_resources(gpu: bool):
    """`resources:` of an audit job: audit.resources, or a memory estimate from the sizes of the
    user's state_dict and data (deepleak/resources.py audit_mem_mb), times the attempt and at most
    node_mem_mb; gpu=1 for the jobs that run the model on a GPU (device not cpu)."""

    def mem_mb(wildcards, attempt):
        mb = AUDIT["resources"]["mem_mb"] or audit_mem_estimate_mb()
        return min(int(math.ceil(mb * attempt / 100) * 100), config["node_mem_mb"])

    return {"mem_mb": mem_mb,
            "runtime": lambda wildcards, attempt: AUDIT["resources"]["runtime"] * attempt,
            # `--resources gpu=N` caps the GPU jobs; device auto uses a GPU when one is visible.
            "gpu": int(gpu and config["device"] != "cpu")}


def audit_user_inputs(wildcards=None):
    """Every file of the user's the audit reads: Snakemake then says plainly which is missing."""
    if not AUDIT.get("model"):
        raise ConfigError("config: the audit target needs an audit section naming your model, data "
                          "and members (README, 'Audit your own model'); run it as `snakemake "
                          "--cores all audit --configfile my-audit.yaml`")
    m, data = AUDIT["membership"], AUDIT["data"]
    paths = [AUDIT["model"]["file"], AUDIT["model"]["state_dict"],
             data.get("npz") or data.get("image_folder")]
    for key in ("members", "nonmembers"):
        if m.get(key):
            paths.append(m[key] if isinstance(m[key], str) else m[key]["path"])
    if m.get("attacker_sets"):
        paths.append(m["attacker_sets"])
    return sorted(set(paths))


rule audit:
    input:
        audit_user_inputs,
        f"{AUDIT_DIR}/summary.html",


rule audit_validate:
    input:
        audit_user_inputs,
    output:
        splits=f"{AUDIT_DIR}/splits.npz",
        checked=f"{AUDIT_DIR}/checked.json",
    log:
        f"{AUDIT_LOGS}/validate.log",
    benchmark:
        f"{AUDIT_LOGS}/validate.tsv"
    threads: 1
    resources:
        **audit_resources(gpu=False),
    params:
        audit=AUDIT,
        attack_batch_size=config["attack_model"]["batch_size"],
        seed=artifact_seed("audit", AUDIT["name"], "splits"),
    script:
        "../../scripts/audit_validate.py"


rule audit_features:
    input:
        audit_user_inputs,
        splits=f"{AUDIT_DIR}/splits.npz",
        checked=f"{AUDIT_DIR}/checked.json",
    output:
        features=f"{AUDIT_DIR}/features.npz",
        read_only=f"{AUDIT_DIR}/read_only.json",
    log:
        f"{AUDIT_LOGS}/features.log",
    benchmark:
        f"{AUDIT_LOGS}/features.tsv"
    threads: config["threads"]
    resources:
        **audit_resources(gpu=True),
    params:
        audit=AUDIT,
        device=config["device"],
    script:
        "../../scripts/audit_features.py"


rule audit_attacks:
    input:
        features=f"{AUDIT_DIR}/features.npz",
        splits=f"{AUDIT_DIR}/splits.npz",
    output:
        scores=f"{AUDIT_DIR}/attacks/scores.npz",
        metrics=f"{AUDIT_DIR}/attacks/metrics.json",
    log:
        f"{AUDIT_LOGS}/attacks.log",
    benchmark:
        f"{AUDIT_LOGS}/attacks.tsv"
    # Small attack models train fastest on one thread (as the stand-alone attack jobs).
    threads: 1
    resources:
        **audit_resources(gpu=False),
    params:
        hp=config["attack_model"],
        metrics_cfg=config["metrics"],
        seeds={a: artifact_seed("audit", AUDIT["name"], "attack", a) for a in audit_attack_names()},
        baseline_seed=artifact_seed("audit", AUDIT["name"], "baselines"),
    script:
        "../../scripts/audit_attacks.py"


rule audit_unsupervised:
    input:
        features=f"{AUDIT_DIR}/features.npz",
        splits=f"{AUDIT_DIR}/splits.npz",
    output:
        scores=f"{AUDIT_DIR}/attacks/unsupervised/scores.npz",
        metrics=f"{AUDIT_DIR}/attacks/unsupervised/metrics.json",
    log:
        f"{AUDIT_LOGS}/unsupervised.log",
    benchmark:
        f"{AUDIT_LOGS}/unsupervised.tsv"
    threads: 1
    resources:
        **audit_resources(gpu=False),
    params:
        variant=UNSUPERVISED["attack"],
        hp=config["attack_model"],
        unsup={k: v for k, v in UNSUPERVISED.items() if k != "attack"},
        metrics_cfg=config["metrics"],
        seed=artifact_seed("audit", AUDIT["name"], "attack", "unsupervised"),
    script:
        "../../scripts/run_unsupervised_attack.py"


# ---- LiRA with reference models (audit.references; README, "Audit your own model") --------------
# Only where the user gives a training function: the reference models are trained by it, with the
# same signature as the worked examples' weights (audit_model.train_model), and summarised by the
# per-record statistics of the stand-alone calibrated attacks; the scoring is theirs, the rule script
# scripts/run_calibrated_attacks.py itself.
rule audit_references:
    input:
        audit_user_inputs,
        splits=f"{AUDIT_DIR}/splits.npz",
        checked=f"{AUDIT_DIR}/checked.json",
    output:
        mask=f"{AUDIT_DIR}/references/mask.npz",
        statistics=f"{AUDIT_DIR}/references/references.npz",
        summary=f"{AUDIT_DIR}/references/references.json",
    log:
        f"{AUDIT_LOGS}/references.log",
    benchmark:
        f"{AUDIT_LOGS}/references.tsv"
    threads: config["threads"]
    resources:
        **audit_resources(gpu=True),
    params:
        audit=AUDIT,
        device=config["device"],
        seed=artifact_seed("audit", AUDIT["name"], "references"),
        seeds=[artifact_seed("audit", AUDIT["name"], "reference", k)
               for k in range(AUDIT["references"]["models"])],
    script:
        "../../scripts/audit_references.py"


rule audit_target_statistics:
    input:
        audit_user_inputs,
        checked=f"{AUDIT_DIR}/checked.json",
        mask=f"{AUDIT_DIR}/references/mask.npz",
    output:
        statistics=f"{AUDIT_DIR}/references/target.npz",
    log:
        f"{AUDIT_LOGS}/target_statistics.log",
    benchmark:
        f"{AUDIT_LOGS}/target_statistics.tsv"
    threads: config["threads"]
    resources:
        **audit_resources(gpu=True),
    params:
        audit=AUDIT,
        device=config["device"],
    script:
        "../../scripts/audit_target_statistics.py"


rule audit_lira:
    input:
        mask=f"{AUDIT_DIR}/references/mask.npz",
        target=f"{AUDIT_DIR}/references/target.npz",
        references=f"{AUDIT_DIR}/references/references.npz",
        summary=f"{AUDIT_DIR}/references/references.json",
    output:
        scores=f"{AUDIT_DIR}/attacks/lira/scores.npz",
        metrics=f"{AUDIT_DIR}/attacks/lira/metrics.json",
    log:
        f"{AUDIT_LOGS}/lira.log",
    benchmark:
        f"{AUDIT_LOGS}/lira.tsv"
    threads: 1
    resources:
        **audit_resources(gpu=False),
    params:
        global_variance=CALIBRATED["global_variance"],
        a=CALIBRATED["rmia"]["a"],
        gamma=CALIBRATED["rmia"]["gamma"],
        metrics_cfg=config["metrics"],
        seed=artifact_seed("audit", AUDIT["name"], "lira"),
        scenario="audit",
    script:
        "../../scripts/run_calibrated_attacks.py"


def audit_lira_inputs(wildcards):
    """The LiRA results the report shows, where the audit runs LiRA."""
    if not AUDIT_LIRA:
        return {}
    return {"lira_scores": f"{AUDIT_DIR}/attacks/lira/scores.npz",
            "lira_metrics": f"{AUDIT_DIR}/attacks/lira/metrics.json",
            "lira_summary": f"{AUDIT_DIR}/references/references.json"}


rule audit_report:
    input:
        unpack(audit_lira_inputs),
        features=f"{AUDIT_DIR}/features.npz",
        checked=f"{AUDIT_DIR}/checked.json",
        read_only=f"{AUDIT_DIR}/read_only.json",
        scores=f"{AUDIT_DIR}/attacks/scores.npz",
        metrics=f"{AUDIT_DIR}/attacks/metrics.json",
        unsup_scores=f"{AUDIT_DIR}/attacks/unsupervised/scores.npz",
        unsup_metrics=f"{AUDIT_DIR}/attacks/unsupervised/metrics.json",
    output:
        summary_html=report(f"{AUDIT_DIR}/summary.html", caption="../report/audit_summary.rst",
                            category="Audit", labels={"item": "verdict and per-layer table"}),
        summary_md=f"{AUDIT_DIR}/summary.md",
        layers=report(f"{AUDIT_DIR}/layers.csv", caption="../report/audit_layers.rst",
                      category="Audit", labels={"item": "per-layer leakage (CSV)"}),
        records=report(f"{AUDIT_DIR}/records.csv", caption="../report/audit_records.rst",
                       category="Audit", labels={"item": "per-record risk (CSV)"}),
        roc=report(f"{AUDIT_DIR}/roc.png", caption="../report/audit_roc.rst", category="Audit",
                   labels={"item": "ROC curves"}),
        per_class=report(f"{AUDIT_DIR}/per_class.png", caption="../report/audit_per_class.rst",
                         category="Audit", labels={"item": "per-class leakage"}),
        verdict=f"{AUDIT_DIR}/verdict.json",
    log:
        f"{AUDIT_LOGS}/report.log",
    threads: 1
    resources:
        **audit_resources(gpu=False),
    params:
        name=AUDIT["name"],
        fpr=AUDIT["fpr"],
        min_per_class=AUDIT["per_class_min_records"],
        confidence=config["metrics"]["confidence"],
        lira_skipped=audit_lira_skipped(),
        train_function=AUDIT["model"].get("train_function") if AUDIT.get("model") else None,
    script:
        "../../scripts/audit_report.py"


# The worked examples' weights (config/audit_*.yaml): a user brings their own; the examples train
# theirs with the model file's own training function (audit.model.train_function), so that they
# run from nothing, offline.
rule audit_example_weights:
    input:
        model_file=AUDIT["model"]["file"] if AUDIT.get("model") else [],
        data=AUDIT["data"].get("npz") or [],
    output:
        state_dict="results/audit_examples/{example}/model.pt",
    log:
        "logs/audit_examples/{example}/train.log",
    benchmark:
        "logs/audit_examples/{example}/train.tsv"
    threads: config["threads"]
    resources:
        **audit_resources(gpu=True),
    params:
        audit=AUDIT,
        seed=lambda wc: artifact_seed("audit_example", wc.example, "weights"),
    script:
        "../../scripts/train_audit_example.py"
