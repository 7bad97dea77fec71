"""Every config key the code names in a string (an error message, a docstring, a rule's message)
exists in the config schema, workflow/schemas/config.schema.yaml.

Two kinds of dotted path are checked, in string literals only (``tokenize``, for .py and .smk files
alike), so that attribute accesses such as ``metrics.evaluate(...)`` are code, not text:

- a path that starts with a top-level config key (``federated.per_dataset.<d>.sizes``) must resolve
  from the schema's root;
- a path that starts with a key of a deeper level (``model.checkpoint.path``, ``train.lr``) must
  resolve below some place of the schema where that key is (``features.gradient_layers`` fails:
  neither ``datasets.<d>.features`` nor ``federated.features`` has ``gradient_layers``).

``<placeholder>``, ``{expression}`` (f-strings, Snakemake wildcards) and ``*`` segments match any
name. A path whose next segment is a file suffix (``metrics.json``) names a file; one that is not in
the schema and whose first two segments are a module of scripts/deepleak and a name that module
defines (``metrics.evaluate``, ``gradients.conv_grad_features`` in a docstring) names code.
:data:`EXCEPTIONS` lists the few other paths that are code, with the reason.
"""
from __future__ import annotations

import ast
import io
import re
import tokenize
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = yaml.safe_load((ROOT / "workflow/schemas/config.schema.yaml").read_text())
TOP = ("seed", "device", "threads", "replicates", "datasets", "standalone", "attack_model", "dp",
       "metrics", "finetune", "shadow_attack", "unsupervised", "federated", "calibrated", "audit")

SEGMENT = r"(?:[A-Za-z_]\w*|<[^<>\s]+>|\{+[^{}\s]*\}+|\*)"
PATH = rf"[A-Za-z_]\w*(?:\.{SEGMENT})+"
# A path starting with a top-level key (not the tail of a longer name, module path or file path).
TOP_PATH = re.compile(rf"(?<![\w./<{{-])(?:{'|'.join(TOP)})(?:\.{SEGMENT})+")
FILE_SUFFIXES = {"py", "json", "yaml", "yml", "npz", "npy", "pt", "csv", "md", "smk", "png", "pdf",
                 "txt", "tsv", "gz", "tgz", "rst", "html", "log"}

# Paths that name no config key on purpose, each with its reason.
EXCEPTIONS = {
    "model.named_modules": "torch's nn.Module method, in a docstring of deepleak/gradients.py",
    "kernels.T": "a tensor's transpose, in a comment string of deepleak/gradients.py",
    "name.replace": "str.replace on a baseline's name, in an f-string of deepleak/baselines.py "
                    "(audit.name made `name` a config key)",
}


def sources() -> list[Path]:
    return sorted([*ROOT.glob("scripts/**/*.py"), *ROOT.glob("workflow/rules/*.smk")])


def string_literals(path: Path):
    """(line, text) of every string literal of a .py or .smk file; an f-string comes whole."""
    fstring, start = [], 0
    for tok in tokenize.generate_tokens(io.StringIO(path.read_text()).readline):
        kind = tokenize.tok_name[tok.type]
        if kind == "STRING":
            yield tok.start[0], tok.string
        elif kind == "FSTRING_START":  # Python 3.12+ splits f-strings into tokens
            fstring, start = [tok.string], tok.start[0]
        elif kind == "FSTRING_END" and fstring:
            yield start, "".join([*fstring, tok.string])
            fstring = []
        elif fstring:
            fstring.append(tok.string)


def deref(node: dict) -> dict:
    while "$ref" in node:
        target = SCHEMA
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def resolves(segments: list[str], node: dict = SCHEMA) -> bool:
    """Whether ``segments`` lead from the schema ``node`` to a key the schema defines."""
    node = deref(node)
    if not segments:
        return True
    head, rest = segments[0], segments[1:]
    if head in node.get("properties", {}):
        return resolves(rest, node["properties"][head])
    extra = node.get("additionalProperties")
    if isinstance(extra, dict):  # any name (a placeholder matches; so does a concrete name)
        return resolves(rest, extra)
    if re.fullmatch(r"<.*>|\{.*\}|\*", head):  # a placeholder for one of the named keys
        return any(resolves(rest, child) for child in node.get("properties", {}).values())
    return False


def keys_by_name(node: dict = SCHEMA, found: dict | None = None) -> dict[str, list[dict]]:
    """Every key below the top level, by name: the schema nodes it names."""
    found = {} if found is None else found
    node = deref(node)
    for name, child in node.get("properties", {}).items():
        if node is not SCHEMA:
            found.setdefault(name, []).append(child)
        keys_by_name(child, found)
    if isinstance(node.get("additionalProperties"), dict):
        keys_by_name(node["additionalProperties"], found)
    return found


DEEPER = keys_by_name()
DEEPER_PATH = re.compile(rf"(?<![\w./<{{-])(?:{'|'.join(sorted(set(DEEPER) - set(TOP)))})"
                         rf"(?:\.{SEGMENT})+")


def module_names(module: str) -> set[str]:
    """Names defined at the top of scripts/deepleak/<module>.py (functions, classes, constants)."""
    path = ROOT / "scripts" / "deepleak" / f"{module}.py"
    if not path.exists():
        return set()
    names = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names |= {t.id for t in targets if isinstance(t, ast.Name)}
    return names


def named_paths(text: str) -> set[str]:
    return {m.group(0) for p in (TOP_PATH, DEEPER_PATH) for m in p.finditer(text)}


def exists(path: str) -> bool:
    segments = path.split(".")
    if segments[0] in TOP:
        return resolves(segments)
    return any(resolves(segments[1:], node) for node in DEEPER[segments[0]])


def is_config_key(path: str) -> bool:
    segments = path.split(".")
    if path in EXCEPTIONS or segments[1] in FILE_SUFFIXES:
        return False
    return exists(path) or segments[1] not in module_names(segments[0])


def wrong_keys() -> list[str]:
    found = []
    for path in sources():
        for line, text in string_literals(path):
            for key in sorted(named_paths(text)):
                if is_config_key(key) and not exists(key):
                    found.append(f"{path.relative_to(ROOT)}:{line}: {key}")
    return found


def test_resolver_and_patterns():
    assert resolves("federated.per_dataset.<dataset>.sizes.party_train".split("."))
    assert resolves("datasets.{name}.train.lr".split("."))
    assert resolves("finetune.sizes.*.attack_test".split("."))
    assert not resolves("federated.datasets.<dataset>.sizes".split("."))
    assert not resolves("standalone.sizes".split("."))
    assert named_paths("raise finetune.gradient_layers") == {"finetune.gradient_layers"}
    assert named_paths("gradients for more layers (features.gradient_layers in the config)") \
        == {"features.gradient_layers"}
    assert not named_paths("results/x/metrics.json, deepleak.metrics.record, my_datasets.x")
    assert not is_config_key("metrics.json")
    assert not is_config_key("metrics.evaluate")
    assert exists("model.checkpoint.path") and exists("datasets.<d>.subset.{key}")
    assert not exists("features.gradient_layers") and not exists("train.select")


def test_every_config_key_named_in_a_string_exists():
    found = wrong_keys()
    assert not found, ("strings name config keys the schema does not have:\n" + "\n".join(found))
