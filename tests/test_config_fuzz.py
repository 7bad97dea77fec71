"""Bad configs, fuzzed: hypothesis mutates the test profile (config/config.yaml with
config/test.yaml merged over it, as Snakemake merges them) and every mutant must be refused at
parse time by the torch-free validation the Snakefile runs before any job (the schema, then
deepleak/config_checks.py), with a message naming the key. Mutations: a value of a type the schema
does not allow, a number outside its range, a choice outside its enum, an unknown key, a missing
required key, and sizes that do not fit the data (more records than the dataset has, more attack
records than their pool).

Bounded: a fixed number of examples per family, derandomized (the same examples on every run, so
CI cannot flake), no deadline per example (a parse reads the schema file, as Snakemake does: about
0.1 s); the module takes about 10 s."""
from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml
from deepleak import config_checks
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from snakemake.exceptions import WorkflowError
from snakemake.utils import update_config, validate

ROOT = Path(__file__).resolve().parents[1]
SCHEMA_PATH = str(ROOT / "workflow/schemas/config.schema.yaml")
SCHEMA = yaml.safe_load(Path(SCHEMA_PATH).read_text())
FUZZ = settings(max_examples=15, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


def _profile() -> dict:
    config: dict = {}
    for name in ("config.yaml", "test.yaml"):
        update_config(config, yaml.safe_load((ROOT / "config" / name).read_text()))
    return config


BASE = _profile()


def parse(config: dict) -> None:
    """What the Snakefile and workflow/rules/common.smk run before any job: the schema (which fills
    in the defaults), then the checks of the whole config."""
    validate(config, SCHEMA_PATH)
    config_checks.check_sizes(config)


def refusal(config: dict) -> str:
    with pytest.raises((WorkflowError, config_checks.ConfigError)) as err:
        parse(config)
    return str(err.value)


# --------------------------------------------------------------------------------------------------
# the schema of a key
# --------------------------------------------------------------------------------------------------
def _deref(node):
    while isinstance(node, dict) and "$ref" in node:
        node = SCHEMA["$defs"][node["$ref"].rsplit("/", 1)[1]]
    return node


def subschema(path):
    node = _deref(SCHEMA)
    for key in path:
        if isinstance(key, int):
            node = node.get("items") if isinstance(node, dict) else None
        elif key in node.get("properties", {}):
            node = node["properties"][key]
        elif isinstance(node.get("additionalProperties"), dict):
            node = node["additionalProperties"]
        else:
            return None
        node = _deref(node)
        if node is None:
            return None
    return node


def leaves(node, path=()):
    """(path, value) of every scalar in the config."""
    if isinstance(node, dict):
        for k, v in node.items():
            yield from leaves(v, (*path, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from leaves(v, (*path, i))
    else:
        yield path, node


def mappings(node, path=()):
    if isinstance(node, dict):
        yield path, node
        for k, v in node.items():
            yield from mappings(v, (*path, k))


def key_name(path) -> str:
    return next(str(k) for k in reversed(path) if isinstance(k, str))


def at(config, path):
    for key in path:
        config = config[key]
    return config


def with_value(path, value):
    config = copy.deepcopy(BASE)
    at(config, path[:-1])[path[-1]] = value
    return config


JSON_TYPES = {"string": (str,), "integer": (int,), "number": (int, float), "boolean": (bool,),
              "null": (type(None),), "array": (list,), "object": (dict,)}
CANDIDATES = ["oops", 2.5, -3, True, None, [1, 2], {"x": 1}]


def allowed(value, types) -> bool:
    types = [types] if isinstance(types, str) else types
    if isinstance(value, bool):
        return "boolean" in types
    return any(isinstance(value, JSON_TYPES[t]) for t in types)


TYPED = [(p, s["type"]) for p, _ in leaves(BASE) if (s := subschema(p)) and "type" in s]
RANGED = [(p, s) for p, _ in leaves(BASE) if (s := subschema(p)) and set(s) & {
    "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"}]
ENUMS = [p for p, _ in leaves(BASE) if (s := subschema(p)) and "enum" in s]
CLOSED = [p for p, _ in mappings(BASE) if (s := subschema(p)) is not None
          and s.get("additionalProperties") is False]
REQUIRED = [(*p, k) for p, node in mappings(BASE) if (s := subschema(p)) is not None
            for k in s.get("required", []) if k in node
            and "default" not in _deref(s.get("properties", {}).get(k, {}))]


def test_the_unmutated_profile_parses_and_the_families_are_not_empty():
    parse(copy.deepcopy(BASE))  # a mutant fails because of its mutation
    assert len(TYPED) > 100 and len(RANGED) > 50 and ENUMS and len(CLOSED) > 20
    assert len(REQUIRED) > 50


@FUZZ
@given(st.sampled_from(TYPED), st.sampled_from(CANDIDATES))
def test_a_value_of_the_wrong_type_is_refused_naming_the_key(leaf, value):
    path, types = leaf
    if allowed(value, types) or (isinstance(value, int) and not isinstance(value, bool)
                                 and "number" in types):
        return
    said = refusal(with_value(path, value))
    assert key_name(path) in said, (path, value, said[:500])


@FUZZ
@given(st.sampled_from(RANGED), st.sampled_from(["below", "above"]), st.integers(0, 1000))
def test_a_number_out_of_range_is_refused_naming_the_key(leaf, side, beyond):
    path, s = leaf
    integer = s.get("type") == "integer"
    step = 1 if integer else 0.5
    if side == "below":
        if "minimum" in s:
            value = s["minimum"] - step - (beyond if integer else beyond / 7)
        elif "exclusiveMinimum" in s:
            value = s["exclusiveMinimum"] - (beyond if integer else beyond / 7)
        else:
            return
    else:
        if "maximum" in s:
            value = s["maximum"] + step + (beyond if integer else beyond / 7)
        elif "exclusiveMaximum" in s:
            value = s["exclusiveMaximum"] + (beyond if integer else beyond / 7)
        else:
            return
    said = refusal(with_value(path, value))
    assert key_name(path) in said, (path, value, said[:500])


@FUZZ
@given(st.sampled_from(ENUMS), st.text("abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=12))
def test_a_choice_outside_the_enum_is_refused_naming_it(path, value):
    if value in subschema(path)["enum"]:
        return
    said = refusal(with_value(path, value))
    assert value in said, (path, value, said[:500])


@FUZZ
@given(st.sampled_from(CLOSED), st.text("abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=10))
def test_an_unknown_key_is_refused_naming_it(path, name):
    config = copy.deepcopy(BASE)
    node = at(config, path)
    key = f"zz_{name}"  # never a real key
    node[key] = 1
    said = refusal(config)
    assert key in said, (path, key, said[:500])


@FUZZ
@given(st.sampled_from(REQUIRED))
def test_a_missing_required_key_is_refused_naming_it(path):
    config = copy.deepcopy(BASE)
    del at(config, path[:-1])[path[-1]]
    said = refusal(config)
    assert path[-1] in said, (path, said[:500])


STANDALONE_SIZES = ["target_train", "target_test", "shadow_train", "shadow_test"]
ATTACK_SIZES = {"attack_train_members": "target_train", "attack_test_members": "target_train",
                "attack_train_nonmembers": "target_test",
                "attack_test_nonmembers": "target_test"}


@FUZZ
@given(st.sampled_from(sorted(BASE["standalone"]["datasets"])),
       st.sampled_from(STANDALONE_SIZES + sorted(ATTACK_SIZES)), st.integers(1, 10**6))
def test_standalone_sizes_that_do_not_fit_are_refused_at_parse_time(dataset, size, extra):
    """More records than the dataset has, or more attack records than their pool: today's split
    job would stop on it; the plan must, naming the key."""
    config = copy.deepcopy(BASE)
    sizes = config["datasets"][dataset]["standalone"]["sizes"]
    if size in ATTACK_SIZES:
        sizes[size] = sizes[ATTACK_SIZES[size]] + extra  # exceeds its pool on its own
    else:
        sizes[size] = 10**7 + extra  # more than any dataset of the profile has
    said = refusal(config)
    assert f"datasets.{dataset}.standalone.sizes" in said and size in said, said[:500]


@FUZZ
@given(st.sampled_from(["finetune", "federated"]), st.integers(1, 10**6))
def test_finetune_and_federated_sizes_that_do_not_fit_are_refused(scenario, extra):
    config = copy.deepcopy(BASE)
    if scenario == "finetune":
        dataset = config["finetune"]["datasets"][0]
        config["finetune"]["sizes"][dataset]["target_train"] = 10**7 + extra
        key = f"finetune.sizes.{dataset}"
    else:
        dataset = config["federated"]["datasets"][0]
        config["federated"]["per_dataset"][dataset]["sizes"]["party_train"] = 10**7 + extra
        key = f"federated.per_dataset.{dataset}.sizes"
    said = refusal(config)
    assert key in said, said[:500]

