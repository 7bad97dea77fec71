"""The paper's tables, each declared once: its title, its rows, the attack (or federated run)
behind each row, and the values the paper printed, by name. Imports neither torch nor Snakemake:
the rule files read it at parse time (which attacks each table needs) and the table scripts render
from it (deepleak/tables.py). Search this file for "Table VIII" to find its declaration.

Paper values are keyed by the paper's model, ``"<data>/<arch>"`` for CIFAR-100 (the paper trains
three architectures on it) and ``"<data>"`` for the fully connected datasets, then by the row's
name (for the stand-alone tables: its attack). Tables III-VI, XII and XIII report CIFAR100-AlexNet
alone; every dataset is shown beside those numbers, for the ordering of the rows.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

from deepleak.variants import attack_groups, knowledge_attack

ALEXNET = "cifar100/alexnet"
# How a table names the one paper model it compares every dataset with (Paper % column, reasons).
MODEL_NAMES = {ALEXNET: "CIFAR100-AlexNet"}


@dataclass(frozen=True)
class Row:
    name: str  # keys the paper's values; for the stand-alone tables the attack
    label: str  # may hold {placeholders} that the table fills at run time (Table VI)
    attack: str  # the metrics record behind the row: an attack, a task (IX), "<run>:<observer>" (X)
    test: str = "test"  # the test set it is scored on (Table X's active rows: "targets")
    # The paper's setting of this row where it differs from its table's (Table VI: the attacker's
    # known records), keyed as SETTINGS; the run's value for it comes from the row's own attack.
    setting: dict = field(default_factory=dict)


def _rows(*pairs: tuple[str, str]) -> tuple[Row, ...]:
    """Rows whose name is their attack: (label, attack) pairs."""
    return tuple(Row(attack, label, attack) for label, attack in pairs)


@dataclass(frozen=True)
class Table:
    key: str  # results/tables/<key>.{csv,md}
    title: str
    rows: tuple[Row, ...]
    paper: dict[str, dict] = field(default_factory=dict)  # paper model -> name -> value (%)
    reference: str | None = None  # the one paper model every dataset is compared with, if any
    notes: tuple[str, ...] = ()  # may hold {ci} (deepleak.tables.ci_note) and {gamma}
    scenario: str = "standalone"  # the key of SETTINGS its values were measured at

    @property
    def paper_label(self) -> str:
        return ("Paper %" if self.reference is None
                else f"Paper % ({MODEL_NAMES[self.reference]})")

    def values(self, data: str, arch: str) -> dict | None:
        """The paper's values for a dataset entry that reads ``data`` with architecture ``arch``
        (``cifar100`` + ``alexnet``, or ``purchase100``), or the reference model's; None if the
        paper has none."""
        if self.reference is not None:
            return self.paper[self.reference]
        return self.paper.get(f"{data}/{arch}") or self.paper.get(data)

    def row(self, name: str) -> Row:
        return next(r for r in self.rows if r.name == name)

    def not_comparable(self, run: Run, row: Row, row_setting: dict | None = None) -> str | None:
        """Why the paper's value of ``row`` says nothing about ``run`` (None: it is comparable, or
        the paper has no value for it). Comparable means the paper's experiment: the real records,
        the paper's own model (not another one shown for its ordering) and every size SETTINGS
        states; ``row_setting``: the run's values of the row's own setting (Row.setting)."""
        values = self.values(run.data, run.arch)
        if not values or values.get(row.name) is None:
            return None
        if not run.real:
            return ("stand-in data" if run.source == "stand-in"
                    else f"not the published data ({run.source})")
        own = f"{run.data}/{run.arch}"
        if self.reference is not None and own != self.reference:
            return f"the paper's value is {MODEL_NAMES[self.reference]}'s"
        if own not in self.paper and run.arch != "fc":  # the paper's only other models are FC
            return f"a {run.arch} model (the paper's is fully connected)"
        stated = SETTINGS[self.scenario].get(run.data)
        if stated is None:
            return f"the paper does not state its {self.scenario} sizes for {run.data} in full"
        return setting_difference({**stated, **row.setting},
                                  {**run.setting, **(row_setting or {})})

    @property
    def attacks(self) -> list[str]:
        """The attacks the table needs, each once, in row order."""
        return list(dict.fromkeys(r.attack for r in self.rows))


@dataclass(frozen=True)
class Run:
    """One dataset entry of a profile, as a table compares it with the paper."""
    data: str  # the data set its records are (cifar100 for the entry cifar100_alexnet)
    arch: str  # its model's architecture (config model.arch)
    real: bool  # the published records, not a generated stand-in or an unpublished copy
    setting: dict  # what it ran of SETTINGS' keys (run_setting)
    source: str = "stand-in"  # what the records are where not real (deepleak.tables.source_label)


# --------------------------------------------------------------------------------------------------
# Which runs the paper's values are comparable with
# --------------------------------------------------------------------------------------------------
# A difference to the paper's value tests the replication only where the run is the paper's
# experiment; elsewhere (a stand-in, fewer records, another model) the tables print the paper's
# value for reference, give no difference, and say why (Table.not_comparable). SETTINGS holds what
# the paper states, by scenario and data set, keyed as the config (run_setting reads a profile);
# config/paper.yaml runs exactly these. A size the paper does not state is not compared (the
# shadow model's; Table IX's attacker sizes).
_TABLE2 = {  # Table II
    "cifar100": dict(target_train=50000, target_test=10000, attack_train_members=25000,
                     attack_train_nonmembers=5000, attack_test_members=5000,
                     attack_test_nonmembers=5000),
    # Table II's Texas100 sizes cannot all hold (70,000 test records of the 67,330 there are;
    # 5,000 known + 10,000 test members of 10,000): the feasible choice of config/paper.yaml,
    # which keeps the training set and the known records as printed.
    "texas100": dict(target_train=10000, target_test=20000, attack_train_members=5000,
                     attack_train_nonmembers=10000, attack_test_members=5000,
                     attack_test_nonmembers=5000),
    "purchase100": dict(target_train=20000, target_test=50000, attack_train_members=10000,
                        attack_train_nonmembers=10000, attack_test_members=10000,
                        attack_test_nonmembers=10000),
}
# Table X: 4 parties, 100 rounds observed at epochs 40-100, non-overlapping parties (§III-D);
# §II-C: 100 + 100 target records for the active attacks.
_TABLE10_RUN = dict(parties=4, rounds=100, observed_epochs=[40, 60, 80, 90, 100],
                    overlapping=False, target_members=100, target_nonmembers=100)
SETTINGS = {
    "standalone": _TABLE2,
    # Table IX: D is 60 % of Table II's training set, D̄ Table II's target test set.
    "finetune": {data: dict(target_train=s["target_train"], nonmembers=s["target_test"],
                            d_fraction=0.6) for data, s in _TABLE2.items()},
    # Table XI. Its Texas100 test set (70,000) exceeds the records: config/paper.yaml's 10,000.
    # CIFAR100 is left out: Table XI's 30,000 per party are the overlapping local-attacker run's,
    # and the paper states no other; declaring it would also need Tables XII / XIII's per-row
    # epochs and party counts as Row.setting.
    "federated": {
        "purchase100": dict(party_train=10000, test=50000, attack_train_members=5000,
                            attack_train_nonmembers=5000, attack_test_members=5000,
                            attack_test_nonmembers=5000, **_TABLE10_RUN),
        "texas100": dict(party_train=8000, test=10000, attack_train_members=4000,
                         attack_train_nonmembers=4000, attack_test_members=4000,
                         attack_test_nonmembers=4000, **_TABLE10_RUN),
    },
}
# How a difference is worded: "3,000 training records (the paper: 20,000)".
SETTING_WORDS = {
    "target_train": "{} training records", "target_test": "{} target test records",
    "attack_train_members": "{} known members", "attack_train_nonmembers": "{} known non-members",
    "attack_test_members": "{} attack-test members",
    "attack_test_nonmembers": "{} attack-test non-members",
    "nonmembers": "{} non-members (D̄)", "d_fraction": "D = {} of the training set",
    "party_train": "{} training records per party", "test": "{} test records",
    "target_members": "{} target members", "target_nonmembers": "{} target non-members",
    "parties": "{} parties", "rounds": "{} rounds", "observed_epochs": "observed rounds {}",
    "overlapping": "overlapping parties: {}",
}


def _word(value) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, (list, tuple)):
        return ", ".join(map(_word, value))
    return f"{value:g}" if isinstance(value, float) else str(value)


def setting_difference(stated: dict, ran: dict) -> str | None:
    """The first of the paper's ``stated`` settings that the run did not use, in words, and how
    many others differ; None where all match."""
    differ = [k for k in stated if ran.get(k) != stated[k]]
    if not differ:
        return None
    first = differ[0]
    text = (f"{SETTING_WORDS[first].format(_word(ran.get(first)))} "
            f"(the paper: {_word(stated[first])})")
    others = len(differ) - 1
    return text + ("" if not others else ", and 1 other setting differs" if others == 1
                   else f", and {others} other settings differ")


def run_setting(config: dict, scenario: str, dataset: str) -> dict:
    """What a profile (a validated config) runs of SETTINGS' keys, for one dataset entry of a
    scenario: the rules pass it to the table scripts."""
    if scenario == "standalone":
        return dict(config["datasets"][dataset]["standalone"]["sizes"])
    if scenario == "finetune":
        return {**config["finetune"]["sizes"][dataset],
                "d_fraction": config["finetune"]["d_fraction"]}
    from deepleak import federated_runs  # imports this module: not at the top

    fed, own = config["federated"], config["federated"]["per_dataset"][dataset]
    return {**own["sizes"], "parties": fed["parties"], "rounds": own["rounds"],
            "observed_epochs": list(own["observed_epochs"]),
            "overlapping": federated_runs.overlapping(fed, dataset)}


# --------------------------------------------------------------------------------------------------
# The stand-alone scenario: Tables III-VIII
# --------------------------------------------------------------------------------------------------
STANDALONE_NOTES = (
    "Accuracy on a balanced attack test set at the paper's 0.5 threshold; the attack model's "
    "epoch is chosen on a validation split by balanced accuracy (the paper chose on the test "
    "set).",
    "{ci}",
    "Threshold baselines are calibrated on the shadow model (correctness needs no threshold).",
    "'stand-in' marks a generated offline substitute for the real dataset (see the report).",
)

TABLE3 = Table(
    "table3", "Table III: attack accuracy using the outputs of individual activation layers",
    _rows(("Last layer (prediction vector)", "black_box"), ("Second to last", "outputs_2"),
          ("Third to last", "outputs_3"), ("Last three layers, combined", "outputs_123")),
    {ALEXNET: {"black_box": 74.6, "outputs_2": 74.1, "outputs_3": 72.9, "outputs_123": 74.6}},
    reference=ALEXNET, notes=STANDALONE_NOTES)

TABLE4 = Table(
    "table4", "Table IV: attack accuracy using the gradients of individual layers",
    _rows(("Last layer parameters", "gradients_1"),
          ("Second to last layer parameters", "gradients_2"),
          ("Third to last layer parameters", "gradients_3"),
          ("Fourth to last layer parameters", "gradients_4"),
          ("Parameters of last four layers, combined", "gradients_1234")),
    {ALEXNET: {"gradients_1": 75.1, "gradients_2": 74.6, "gradients_3": 73.5, "gradients_4": 72.6,
               "gradients_1234": 75.15}},
    reference=ALEXNET, notes=STANDALONE_NOTES)

TABLE5 = Table(
    "table5", "Table V: attack accuracy for combinations of gradients and outputs",
    _rows(("Gradients: last layer; outputs: none", "gradients_1"),
          ("Gradients: last layer; outputs: last layer", "gradients_1_outputs_1"),
          ("Gradients: last layer; outputs: all layers", "gradients_1_outputs_all"),
          ("Gradients: all layers; outputs: all layers", "gradients_all_outputs_all")),
    {ALEXNET: {"gradients_1": 75.10, "gradients_1_outputs_1": 75.11,
               "gradients_1_outputs_all": 75.12, "gradients_all_outputs_all": 75.18}},
    reference=ALEXNET, notes=STANDALONE_NOTES)

# Table VI: the size of the attacker's training data (CIFAR100-AlexNet, 50,000 target members),
# swept at the same fractions of a profile's attacker knowledge (config
# ``standalone.knowledge_fractions``: 10k/25k = 0.4 ...; each fraction shrinks the attack-training
# and the validation records alike, deepleak/splits.py known_subsets). The paper's known members /
# non-members per row:
TABLE6_KNOWN = {knowledge_attack(0): (10000, 2000), knowledge_attack(1): (15000, 2000),
                knowledge_attack(2): (15000, 5000), knowledge_attack(3): (25000, 5000)}
_KNOWN_LABEL = "{members:,} known members, {nonmembers:,} known non-members"
TABLE6 = Table(
    "table6", "Table VI: attack accuracy for different sizes of the attacker's training data",
    tuple(Row(a, _KNOWN_LABEL + f" (paper: {m:,} / {n:,})", a,
              setting=dict(attack_train_members=m, attack_train_nonmembers=n))
          for a, (m, n) in TABLE6_KNOWN.items()),
    {ALEXNET: dict(zip(TABLE6_KNOWN, (73.2, 73.7, 74.8, 75.1), strict=True))},
    reference=ALEXNET,
    notes=(*STANDALONE_NOTES, "Known members / non-members: every record the attack model was "
           "trained and validated on (the validation split shrinks with the rest)."))

# Table VIII: the main stand-alone result, black-box vs white-box outputs vs white-box gradients,
# with the paper's target models' train and test accuracy.
TABLE8 = Table(
    "table8", "Table VIII: attack accuracy of the stand-alone setting, black-box vs white-box",
    _rows(("Black-box", "black_box"), ("White-box (outputs)", "white_box_outputs"),
          ("White-box (gradients)", "gradients_1")),
    {
        "cifar100/alexnet": dict(arch="AlexNet", train_acc=99, test_acc=44, black_box=74.2,
                                 white_box_outputs=74.6, gradients_1=75.1),
        "cifar100/resnet": dict(arch="ResNet", train_acc=89, test_acc=73, black_box=62.2,
                                white_box_outputs=62.2, gradients_1=64.3),
        "cifar100/densenet": dict(arch="DenseNet", train_acc=100, test_acc=82, black_box=67.7,
                                  white_box_outputs=67.7, gradients_1=74.3),
        "texas100": dict(arch="Fully connected", train_acc=81.6, test_acc=52, black_box=63.0,
                         white_box_outputs=63.3, gradients_1=68.3),
        "purchase100": dict(arch="Fully connected", train_acc=100, test_acc=80, black_box=67.6,
                            white_box_outputs=67.6, gradients_1=73.4),
    },
    notes=STANDALONE_NOTES)

# The white-box attack of Table VIII, which Table VII and Figures 2 and 6 use.
WHITE_BOX = "gradients_1"

# Table VII: the unsupervised attack vs the shadow-model attack (white-box, §II-D), with Table
# VIII's white-box (gradients) attack, the one both are compared with in the paper's text, for
# reference.
_TABLE7 = {"cifar100/alexnet": (75.0, 70.5), "cifar100/densenet": (71.2, 64.2),
           "cifar100/resnet": (63.1, 60.9), "texas100": (66.3, 65.3), "purchase100": (71.0, 68.2)}
TABLE7 = Table(
    "table7", "Table VII: unsupervised attack vs shadow-model attack (white-box)",
    (*_rows(("Unsupervised", "unsupervised"), ("Shadow models", "shadow_model")),
     Row(WHITE_BOX, f"Reference: supervised, known members (Table VIII "
                    f"{TABLE8.row(WHITE_BOX).label})", WHITE_BOX)),
    {model: {**{k: TABLE8.paper[model][k] for k in ("arch", "train_acc", "test_acc", WHITE_BOX)},
             "unsupervised": u, "shadow_model": s} for model, (u, s) in _TABLE7.items()},
    notes=(
        "Unsupervised: the attack network as an encoder-decoder trained on the attacker's records "
        "without their membership; the test records' codes are split in two by spectral clustering "
        "and the cluster with the smaller mean last-layer gradient norm is called members. "
        "Accuracy is that clustering's; AUC and TPRs rank the records by their code, signed "
        "towards the member cluster.",
        "Shadow models: the same white-box attack model trained on one shadow model's members and "
        "non-members (disjoint from the target's data; image datasets with shadow_overlap: "
        "overlapping it, as the paper's CIFAR-100 shadow, but never the attack test set), applied "
        "to the target's attack test set.",
        "Accuracy on the balanced attack test set of the stand-alone scenario (Table VIII's). {ci}",
        "Threshold baselines are calibrated on the shadow model, the knowledge of the shadow-model "
        "attack (correctness needs no threshold).",
        STANDALONE_NOTES[-1],
    ))

STANDALONE_TABLES = {t.key: t for t in (TABLE3, TABLE4, TABLE5, TABLE6, TABLE8)}


def standalone_table(key: str, n_knowledge: int) -> Table:
    """A stand-alone table as a profile runs it: Table VI has one row per knowledge fraction (the
    paper's first rows, then rows with no paper value)."""
    table = STANDALONE_TABLES[key]
    if key != "table6":
        return table
    extra = (Row(a, _KNOWN_LABEL, a) for a in map(knowledge_attack, range(n_knowledge))
             if a not in TABLE6_KNOWN)
    return replace(table, rows=(*table.rows, *extra)[:n_knowledge])


def standalone_attacks(n_knowledge: int) -> list[str]:
    """Every attack the stand-alone Tables III-VI and VIII need, each listed once."""
    keys = ["table8", "table3", "table4", "table5", "table6"]
    return list(dict.fromkeys(a for k in keys for a in standalone_table(k, n_knowledge).attacks))


def check_rules(needed: list[str], produced: list[str]) -> None:
    """Raise, naming them, if some attacks a table needs are made by no rule (at parse time)."""
    missing = [a for a in needed if a not in set(produced)]
    if missing:
        raise ValueError(f"the tables need the attacks {missing}, which no rule makes: declare "
                         f"each in deepleak/variants.py VARIANTS (with its group) or remove its "
                         f"table row (deepleak/paper.py)")


def check_standalone_rules(n_knowledge: int, single_attacks: list[str],
                           per_attack: bool = False) -> dict[str, list[str]]:
    """The stand-alone attack groups (one rule each; ``per_attack``: one per attack), checked
    against every attack the tables need: Tables III-VI and VIII, and Table VII (whose other
    attacks, ``single_attacks``, have a rule each)."""
    groups = attack_groups(n_knowledge, per_attack)
    check_rules(standalone_attacks(n_knowledge) + TABLE7.attacks,
                [a for attacks in groups.values() for a in attacks] + list(single_attacks))
    return groups


# --------------------------------------------------------------------------------------------------
# Fine-tuning (§II-B): Table IX
# --------------------------------------------------------------------------------------------------
# D = 60 % of the Table II training set, D_Δ = 40 %, D̄ the non-members; the attacker holds the
# model before and after fine-tuning. One row per membership task (deepleak/finetune.py TASKS), and
# the fine-tuned model's train and test accuracy.
TABLE9 = Table(
    "table9", "Table IX: attack accuracy on fine-tuned models (both snapshots observed)",
    _rows(("D vs D_Δ", "d_vs_d_delta"), ("D vs D̄ (non-members)", "d_vs_nonmembers"),
          ("D_Δ vs D̄ (non-members)", "d_delta_vs_nonmembers")),
    {
        "cifar100/alexnet": dict(arch="AlexNet", train_acc=100.0, test_acc=39.8, d_vs_d_delta=62.1,
                                 d_vs_nonmembers=75.4, d_delta_vs_nonmembers=71.3),
        "cifar100/densenet": dict(arch="DenseNet", train_acc=100.0, test_acc=64.3,
                                  d_vs_d_delta=63.3, d_vs_nonmembers=74.6,
                                  d_delta_vs_nonmembers=71.5),
        "texas100": dict(arch="Fully connected", train_acc=95.2, test_acc=48.6, d_vs_d_delta=58.4,
                         d_vs_nonmembers=68.4, d_delta_vs_nonmembers=67.2),
        "purchase100": dict(arch="Fully connected", train_acc=100.0, test_acc=77.5,
                            d_vs_d_delta=64.4, d_vs_nonmembers=73.8, d_delta_vs_nonmembers=71.2),
    },
    notes=(
        "A model trained on D (60 % of the target training set) is fine-tuned on D_Δ (the other "
        "40 %); the attacker holds both snapshots, and one attack model reads the features of both "
        "(T = 2, Fig. 1 caption, §II-B). In each task the first set is called positive (member "
        "of it).",
        STANDALONE_NOTES[0] + " {ci}",
        "Baselines: the loss threshold on one snapshot alone, calibrated on the attacker's known "
        "records of the task (all five baselines per snapshot are in each task's metrics.json).",
        STANDALONE_NOTES[-1],
    ),
    scenario="finetune")
# The threshold baseline shown per task (Sablayrolles et al. 2019: the reference).
TABLE9_BASELINE = "loss"

# --------------------------------------------------------------------------------------------------
# Federated learning (§II-B, §II-C): Tables X, XII and XIII. The runs and observers are defined in
# deepleak/federated.py; a row's attack is "<run>:<observer>" and the epochs are a profile's.
# --------------------------------------------------------------------------------------------------
FEDERATED_NOTES = (
    "Accuracy on a balanced attack test set at the paper's 0.5 threshold; the attack model (one "
    "per attacked party, T observed rounds through shared components concatenated before the "
    "encoder, as in the authors' code) is selected on a validation split by balanced accuracy "
    "(the paper selected on the test set).",
    "Central attacker: one attack per party on its uploads; its test sets are pooled, so the "
    "accuracy is the average over parties. Local attacker: the last party, on the global models, "
    "against the union of the other parties' data.",
    "{ci}",
    "The global model's test accuracy is that of the final round's FedAvg model of the same run "
    "(isolating runs: the model the other parties share).",
    STANDALONE_NOTES[-1],
)

# Table X: 4 participants. The passive rows are scored on the attack test set, the active ones on
# their 100 + 100 target records (§II-C); the last two rows, with no paper value, are the passive
# attacks on those target records (same 200 records, no attack on the training: the fair reference
# for the active rows).
TABLE10 = Table(
    "table10", "Table X: membership inference in federated learning, central (global) and local "
               "attackers, passive and active",
    (Row("central_passive", "Global (central) attacker: passive", "passive:central"),
     Row("central_ascent", "Global attacker, active: gradient ascent", "central_ascent:central",
         "targets"),
     Row("isolating", "Global attacker, active: isolating", "isolating:central", "targets"),
     Row("isolating_ascent", "Global attacker, active: isolating + gradient ascent",
         "isolating_ascent:central", "targets"),
     Row("local_passive", "Local attacker: passive", "passive:local"),
     Row("local_ascent", "Local attacker, active: gradient ascent", "local_ascent:local",
         "targets"),
     Row("central_passive_on_targets",
         "Global attacker: passive, on the active attacks' target records", "passive:central",
         "targets"),
     Row("local_passive_on_targets", "Local attacker: passive, on the active attacks' target "
                                     "records", "passive:local", "targets")),
    {model: dict(zip(("central_passive", "central_ascent", "isolating", "isolating_ascent",
                      "local_passive", "local_ascent"), values, strict=True))
     for model, values in {
        "cifar100/alexnet": (85.1, 88.2, 89.0, 92.1, 73.1, 76.3),
        "cifar100/densenet": (79.2, 82.1, 84.3, 87.3, 72.2, 76.7),
        "texas100": (66.4, 69.5, 69.3, 71.7, 62.4, 66.4),
        "purchase100": (72.4, 75.4, 75.3, 82.5, 65.8, 69.8),
    }.items()},
    notes=(*FEDERATED_NOTES,
           "Active attacks are scored on their target records (100 members, 100 non-members; "
           "§II-C; bootstrap CIs are wide, about +/-7 pp); gradient-ascent rate gamma = "
           "{gamma}.",
           "Paper values: Purchase100 / Texas100 FC models, 4 parties, epochs 40-100 of 100."),
    scenario="federated")
# Table X's observed epochs: [40, 60, 80, 90, 100] of 100 rounds (Purchase100, Texas100) and
# [100, 150, 200, 250, 300] of 300 (CIFAR100); config/paper.yaml has them.

# Table XII: the passive central attacker vs the observed epochs (CIFAR100-AlexNet, 300 rounds).
# DeepLeak scales the first three epoch sets to a profile's rounds; the fourth is Table X's observed
# epochs, as in the paper (85.1 % in both tables). A row's name is its paper epochs.
TABLE12_PAPER_ROUNDS = 300
TABLE12_EPOCHS = ([5, 10, 15, 20, 25], [10, 20, 30, 40, 50], [50, 100, 150, 200, 250],
                  [100, 150, 200, 250, 300])
TABLE12 = Table(
    "table12", "Table XII: the passive central attacker as the observed epochs change",
    tuple(Row("-".join(map(str, e)), "Rounds {epochs} of {rounds} (paper: epochs "
              + ", ".join(map(str, e)) + f" of {TABLE12_PAPER_ROUNDS})", "passive:central")
          for e in TABLE12_EPOCHS),
    {ALEXNET: {"5-10-15-20-25": 57.4, "10-20-30-40-50": 76.5, "50-100-150-200-250": 79.5,
               "100-150-200-250-300": 85.1}},
    reference=ALEXNET, notes=FEDERATED_NOTES, scenario="federated")

# Table XIII: the passive local attacker vs the number of participants (CIFAR100-AlexNet), by run
# (deepleak/federated.py: the run with federated.parties parties is Table X's passive run). The
# 4-party value does not match Table X's local passive AlexNet (73.1 %); the paper does not say why.
TABLE13 = Table(
    "table13", "Table XIII: the passive local attacker as the number of parties changes",
    tuple(Row(f"parties{n}", f"{n} parties", f"parties{n}:local") for n in (2, 3, 4, 5)),
    {ALEXNET: {"parties2": 89.0, "parties3": 78.1, "parties4": 76.7, "parties5": 67.2}},
    reference=ALEXNET, notes=FEDERATED_NOTES, scenario="federated")

FEDERATED_TABLES = {t.key: t for t in (TABLE10, TABLE12, TABLE13)}


def table13_rows(parties: int, party_sweep: list[int]) -> list[Row]:
    """Table XIII's rows as a profile runs them: one per party count of ``federated.party_sweep``
    (the run with ``federated.parties`` parties is Table X's passive run)."""
    run = lambda n: "passive" if n == parties else f"parties{n}"  # noqa: E731
    return [Row(f"parties{n}", f"{n} parties", f"{run(n)}:local") for n in sorted(party_sweep)]


# --------------------------------------------------------------------------------------------------
# The paper's qualitative claims: the claims table (deepleak/claims.py, scripts/make_claims.py)
# --------------------------------------------------------------------------------------------------
# A claim compares rows of one table above, on every dataset a profile runs that table on:
# "a > b" (a leaks more: a higher attack accuracy) or "a ~ b" (the difference within +/- 2 pp). A
# row is named as in its table's declaration; LOSS_BASELINE is the loss-threshold baseline printed
# under the stand-alone tables. A chain compares each row of the table, as a profile runs it (Table
# VI's knowledge fractions, Table XII's epoch sets, Table XIII's party counts), with the next one.
CLAIM_MARGIN_PP = 2.0  # "~" holds when the CI of the difference lies within +/- 2 pp (AUC: 0.02)
LOSS_BASELINE = "baseline_loss"
RELATIONS = (">", "~")
CHAINS = ("increasing", "decreasing")  # each row leaks more / less than the one before it


@dataclass(frozen=True)
class Claim:
    key: str
    statement: str  # the claim in the paper's words
    table: str  # the key of the Table whose rows it compares
    pairs: tuple[tuple[str, str, str], ...] = ()  # (row, ">" or "~", row)
    chain: str | None = None  # one of CHAINS: a claim about the table's rows in order

    def __post_init__(self):
        if bool(self.pairs) == (self.chain is not None):
            raise ValueError(f"claim {self.key}: give pairs or a chain, not both")
        if self.chain is not None and self.chain not in CHAINS:
            raise ValueError(f"claim {self.key}: chain is one of {CHAINS}")
        if any(rel not in RELATIONS for _, rel, _ in self.pairs):
            raise ValueError(f"claim {self.key}: a pair's relation is one of {RELATIONS}")


CLAIMS = (
    Claim("white_box_beats_black_box",
          "White-box (gradients) > black-box: the gradients leak more than the outputs (Table "
          "VIII)", "table8", pairs=((WHITE_BOX, ">", "black_box"),)),
    Claim("white_box_beats_loss_threshold",
          "White-box (gradients) > the loss threshold, a calibrated black-box attack that the "
          "paper does not run (Sablayrolles et al. 2019 argue the loss is all an attacker needs)",
          "table8", pairs=((WHITE_BOX, ">", LOSS_BASELINE),)),
    Claim("last_layer_gradient_leaks_most",
          "The gradients of the last layer leak the most membership information (Table IV)",
          "table4", pairs=tuple(("gradients_1", ">", f"gradients_{k}") for k in (2, 3, 4))),
    Claim("more_known_records_help",
          "The attack is more accurate when the attacker knows more members and non-members "
          "(Table VI)", "table6", chain="increasing"),
    Claim("unsupervised_close_to_shadow",
          "The unsupervised attack is close to the shadow-model attack (Table VII)", "table7",
          pairs=(("unsupervised", "~", "shadow_model"),)),
    Claim("finetuning_ordering",
          "Fine-tuning: D vs D̄ > D_Δ vs D̄ > D vs D_Δ: members of either training set are told "
          "from non-members better than the two training sets from each other (Table IX)",
          "table9", pairs=(("d_vs_nonmembers", ">", "d_delta_vs_nonmembers"),
                           ("d_delta_vs_nonmembers", ">", "d_vs_d_delta"))),
    Claim("global_beats_local",
          "The global (central) attacker leaks more than the local attacker, passive and active "
          "(Table X)", "table10", pairs=(("central_passive", ">", "local_passive"),
                                         ("central_ascent", ">", "local_ascent"))),
    Claim("active_ordering",
          "Isolating + gradient ascent > isolating ~ gradient ascent > passive: the active global "
          "attacks leak more than the passive one on the same target members and non-members "
          "(Table X)", "table10",
          pairs=(("isolating_ascent", ">", "isolating"),
                 ("isolating_ascent", ">", "central_ascent"),
                 ("isolating", "~", "central_ascent"),
                 ("isolating", ">", "central_passive_on_targets"),
                 ("central_ascent", ">", "central_passive_on_targets"))),
    Claim("later_epochs_leak_more",
          "Later epochs leak more: the passive global attacker is more accurate when it observes "
          "later training epochs (Table XII)", "table12", chain="increasing"),
    Claim("more_parties_less_local_leakage",
          "The more parties, the less membership information the passive local attacker infers "
          "(Table XIII)", "table13", chain="decreasing"),
)


# --------------------------------------------------------------------------------------------------
# Beyond the paper: calibrated attacks (LiRA, RMIA and white-box LiRA; deepleak/calibration.py)
# --------------------------------------------------------------------------------------------------
CALIBRATED_NOTES = (
    "Not in the paper. Calibrated attacks compare the target's statistic of each attack-test "
    "record with the same statistic of reference models trained with (IN) and without (OUT) it: "
    "LiRA (Carlini et al. 2022), RMIA (Zarifzadeh et al. 2024) and LiRA on the paper's white-box "
    "signals (the loss, per-layer gradient norms and their vector). {references}",
    "Same attack-test records as the paper's attacks (Table VIII's black-box and white-box "
    "(gradients) rows, here for comparison) and the loss threshold. What matters is the TPR at "
    "low FPR (Carlini et al. 2022); accuracy is at a fixed threshold: log-likelihood ratio 0 "
    "(LiRA online), z-score 0 (offline), a record dominating half of the population (RMIA), "
    "0.5 (the paper's attacks).",
    "{ci}",
    STANDALONE_NOTES[-1],
)


def calibrated_table(attacks: list[str], descriptions: dict[str, str]) -> Table:
    """The calibrated attacks' table (``table_calibrated``): one row per calibrated attack (its
    name and description as deepleak/calibration.py gives them: the white-box rows depend on the
    model's layers), then Table VIII's black-box and white-box (gradients) attacks; the loss
    threshold follows as every stand-alone table's baseline."""
    rows = tuple(Row(a, descriptions[a], a) for a in attacks)
    rows += (Row("black_box", f"Paper: {TABLE8.row('black_box').label} (Table VIII)", "black_box"),
             Row(WHITE_BOX, f"Paper: {TABLE8.row(WHITE_BOX).label} (Table VIII)", WHITE_BOX))
    return Table("table_calibrated", "Calibrated attacks (LiRA, RMIA) on the paper's black-box "
                 "and white-box signals, beside the paper's attacks", rows,
                 notes=CALIBRATED_NOTES)


# A claim at stake beyond the paper: its white-box question asked again of calibrated attacks, on
# the same records, with the same reference models (judged in the claims table like the paper's).
CALIBRATED_CLAIMS = (
    Claim("white_box_lira_beats_lira",
          "Beyond the paper: white-box LiRA (the logit-scaled confidence with every layer's "
          "gradient norm) > black-box LiRA, both calibrated on the same reference models "
          "(table_calibrated; its TPRs at 1 % and 0.1 % FPR are under that table)",
          "table_calibrated", pairs=(("wb_lira_vector", ">", "lira_online"),)),
)
CLAIMS = CLAIMS + CALIBRATED_CLAIMS
