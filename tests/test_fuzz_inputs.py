"""Property-based fuzzing of every file brokerscale reads and of its CLI values.

Each input format starts from a valid document (a shipped file or an example) that hypothesis
mutates: a value replaced by anything JSON/YAML can hold (NaN, huge numbers, nested lists, text),
a key removed, a key misspelt, or the whole file replaced by random text. Whatever comes in, the
public loader (or the CLI verb) either accepts it or raises BadInput: one line that names the file
(or flag) and the field, exit code 2 — never a traceback. Misspelt keys are named with the closest
valid key, and every problem of a file is listed, not "(and 1 more)". The number of inputs tried per
format is printed at the end of the module (and written to `fuzz-counts.json` in the data dir).
"""

from __future__ import annotations

import copy
import json
import os
from collections import Counter
from collections.abc import Callable, Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from brokerscale.errors import BadInput

EXAMPLES = int(os.environ.get("BROKERSCALE_FUZZ_EXAMPLES", "200"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                       HealthCheck.data_too_large])
TRIED: Counter[str] = Counter()
REJECTED: Counter[str] = Counter()
DATA = resources.files("brokerscale") / "data"
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module", autouse=True)
def _report_counts(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    lines = [f"fuzz: {fmt}: {n} inputs tried, {REJECTED[fmt]} refused as bad input" for fmt, n in sorted(TRIED.items())]
    out = Path(os.environ["BROKERSCALE_DATA_DIR"]) / "fuzz-counts.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({f: {"tried": n, "refused": REJECTED[f]} for f, n in TRIED.items()}, indent=2))
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if reporter is not None and capture is not None:
        with capture.global_and_fixture_disabled():
            reporter.write_line("")
            for line in lines:
                reporter.write_line(line)


# ----- mutations -----------------------------------------------------------------------------------
SCALARS = (st.none() | st.booleans() | st.integers(min_value=-(10**15), max_value=10**15)
           | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=12)
           | st.sampled_from(["", "-1", "0", "5KB", "1e309", "NaN", "10s", "-3d", "∞", "1.5.2", "true", "null"]))
VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3)
                      | st.dictionaries(st.text(max_size=8), inner, max_size=3), max_leaves=6)


def _paths(doc: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(doc, dict):
        for k, v in doc.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc[:4]):
            out += _paths(v, (*prefix, i))
    return out


def _typo(key: str, pos: int) -> str:
    """Drop one character (mesages_per_second): the commonest misspelling."""
    i = pos % len(key)
    return key[:i] + key[i + 1:]


@st.composite
def mutated(draw: st.DrawFn, base: Any) -> tuple[Any, str]:
    """A copy of `base` with one to three mutations; also says which kinds were applied."""
    doc = copy.deepcopy(base)
    kinds = []
    for _ in range(draw(st.integers(1, 3))):
        paths = _paths(doc)
        path = draw(st.sampled_from(paths))
        kind = draw(st.sampled_from(["replace", "delete", "typo", "add"]))
        if not path:
            if kind == "replace":
                doc = draw(VALUES)
                kinds.append(kind)
            continue
        parent = doc
        for part in path[:-1]:
            parent = parent[part]
        last = path[-1]
        if kind == "replace":
            parent[last] = draw(VALUES)
        elif kind == "delete":
            del parent[last]
        elif kind == "typo" and isinstance(parent, dict) and isinstance(last, str) and len(last) > 3:
            parent[_typo(last, draw(st.integers(0, 50)))] = parent.pop(last)
        elif kind == "add" and isinstance(parent, dict):
            parent[draw(st.text(min_size=1, max_size=10))] = draw(VALUES)
        else:
            continue
        kinds.append(kind)
    return doc, "+".join(kinds)


def _dump(doc: Any, suffix: str) -> str:
    if suffix == ".json":
        return json.dumps(doc)
    return yaml.safe_dump(doc, allow_unicode=True)


def _accepts_or_one_line(fmt: str, path: Path, load: Callable[[Path], Any], names: str | None = None) -> None:
    """The property: `load(path)` returns, or raises BadInput — one line naming the file."""
    TRIED[fmt] += 1
    try:
        load(path)
    except BadInput as exc:
        REJECTED[fmt] += 1
        assert exc.exit_code == 2
        assert "\n" not in exc.message and exc.message.strip() == exc.message
        assert (names or str(path)) in exc.message, exc.message
        assert "(and " not in exc.message  # every problem listed


def _doc_property(fmt: str, base: Any, suffix: str, load: Callable[[Path], Any]) -> Any:
    @FUZZ
    @given(case=mutated(base))
    def prop(tmp_path_factory: pytest.TempPathFactory, case: tuple[Any, str]) -> None:
        doc, _kinds = case
        path = tmp_path_factory.mktemp(fmt.replace(" ", "-")) / f"input{suffix}"
        path.write_text(_dump(doc, suffix))
        _accepts_or_one_line(fmt, path, load)

    return prop


def _text_property(fmt: str, suffix: str, load: Callable[[Path], Any], seed_text: str = "") -> Any:
    lines = st.lists(st.sampled_from(seed_text.splitlines() or [""]) | st.text(max_size=40), max_size=8)

    @FUZZ
    @given(text=st.text(max_size=200) | lines.map("\n".join))
    def prop(tmp_path_factory: pytest.TempPathFactory, text: str) -> None:
        path = tmp_path_factory.mktemp(fmt.replace(" ", "-") + "-text") / f"input{suffix}"
        path.write_text(text)
        _accepts_or_one_line(fmt, path, load)

    return prop


# ----- the formats ------------------------------------------------------------------------------------
def _yaml(path: Any) -> Any:
    return yaml.safe_load(Path(str(path)).read_text())


def _load_workload(p: Path) -> Any:
    """Load and size it: the sizing math must cope with whatever the validation let through."""
    from brokerscale.model.limits import load_limits
    from brokerscale.model.workload import load_workload
    from brokerscale.plan.sizing import plan_workload

    return plan_workload(load_workload(p), load_limits())


def _load_limits(p: Path) -> Any:
    from brokerscale.model.limits import load_limits

    return load_limits(str(p))


def _load_capacity(p: Path) -> Any:
    from brokerscale.observe.capacity import from_brokers, load_capacity_file

    return from_brokers(load_capacity_file(p), [1, 2, 3])


def _load_rules(p: Path) -> Any:
    from brokerscale.observe.rules import load_rules

    return load_rules(p)


def _load_topic_policy(p: Path) -> Any:
    from brokerscale.topics.policy import load_policy

    return load_policy(p)


def _load_scaling_policy(p: Path) -> Any:
    from brokerscale.scale.policy import load_policy

    return load_policy(p)


def _load_cluster(p: Path) -> Any:
    from brokerscale.balance.model import load_cluster_file

    return load_cluster_file(p)


def _load_reassignment(p: Path) -> Any:
    from brokerscale.balance.reassignment_file import read_plan

    return read_plan(p)


def _load_scale_trace(p: Path) -> Any:
    from brokerscale.scale.trace import read_trace

    return read_trace(p)


def _load_cloud_trace(p: Path) -> Any:
    from brokerscale.cloud.trace import load_trace

    return load_trace(p)


def _load_config(p: Path) -> Any:
    from brokerscale.connect import load_config_file

    return load_config_file(p)


def _load_client_properties(p: Path) -> Any:
    from brokerscale.connect import resolve

    prof = resolve("127.0.0.1:9", p)
    return prof.kafka_python(), prof.confluent()


def _load_topology(p: Path) -> Any:
    from brokerscale.dr.topology import load_topology

    return load_topology(p)


def _load_topics_plan(p: Path) -> Any:
    from brokerscale.topics.plan_file import read_topics_plan

    return read_topics_plan(p)


CAPACITY = {"broker": {"throughput_mb_s": 200, "disk": "100GB", "connections": 1000, "partition_replicas": 100},
            "brokers": {2: {"disk": "50GB"}}}
CLUSTER = {"brokers": [{"id": 1, "rack": "a"}, {"id": 2, "rack": "b"}, {"id": 3, "rack": "c"}],
           "partitions": [{"topic": "adt", "partition": p, "replicas": [1 + p % 3, 1 + (p + 1) % 3],
                           "size_bytes": 1000 * (p + 1)} for p in range(4)]}
REASSIGNMENT = {"version": 1, "partitions": [{"topic": "adt", "partition": 0, "replicas": [1, 2]},
                                             {"topic": "adt", "partition": 1, "replicas": [2, 3]}]}
CONFIG = {"clusters": {"prod": {"bootstrap": "broker1:9093", "command_config": "/etc/brokerscale/prod.properties",
                                "properties": {"client.id": "brokerscale"}}}}
PROPERTIES = ("security.protocol=SASL_SSL\nsasl.mechanism=SCRAM-SHA-512\n"
              'sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="u" '
              'password="p";\nssl.truststore.type=PEM\nssl.truststore.location=/tmp/ca.pem\n'
              "ssl.endpoint.identification.algorithm=\n")

DOC_FORMATS: dict[str, tuple[Any, str, Callable[[Path], Any]]] = {
    "workload": (_yaml(ROOT / "examples" / "small-clinic.yaml"), ".yaml", _load_workload),
    "limits": (_yaml(DATA / "limits" / "design-doc.yaml"), ".yaml", _load_limits),
    "capacity": (CAPACITY, ".yaml", _load_capacity),
    "rules": (_yaml(DATA / "rules" / "default.yaml"), ".yaml", _load_rules),
    "topic policy": (_yaml(DATA / "topic-policy.yaml"), ".yaml", _load_topic_policy),
    "scaling policy": (_yaml(DATA / "policies" / "default.yaml"), ".yaml", _load_scaling_policy),
    "cloud trace": (_yaml(DATA / "traces" / "cloud-morning-peak.yaml"), ".yaml", _load_cloud_trace),
    "cluster JSON": (CLUSTER, ".json", _load_cluster),
    "reassignment JSON": (REASSIGNMENT, ".json", _load_reassignment),
    "brokerscale.yaml": (CONFIG, ".yaml", _load_config),
    "DR topology": (_yaml(ROOT / "examples" / "dr-topology.yaml"), ".yaml", _load_topology),
}


@pytest.mark.parametrize("fmt", sorted(DOC_FORMATS))
def test_mutated_documents_load_or_fail_in_one_line(fmt: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    base, suffix, load = DOC_FORMATS[fmt]
    load(_write(tmp_path_factory, base, suffix))  # the base document itself is valid
    _doc_property(fmt, base, suffix, load)(tmp_path_factory)


def _write(factory: pytest.TempPathFactory, doc: Any, suffix: str) -> Path:
    path = factory.mktemp("base") / f"base{suffix}"
    path.write_text(_dump(doc, suffix))
    return path


TRACE_CSV = "\n".join((DATA / "traces" / "clinic-week.csv").read_text().splitlines()[:30]) + "\n"
TEXT_FORMATS: dict[str, tuple[str, Callable[[Path], Any], str]] = {
    "workload": (".yaml", _load_workload, (ROOT / "examples" / "small-clinic.yaml").read_text()),
    "rules": (".yaml", _load_rules, (DATA / "rules" / "default.yaml").read_text()),
    "topic policy": (".yaml", _load_topic_policy, (DATA / "topic-policy.yaml").read_text()),
    "scaling policy": (".yaml", _load_scaling_policy, (DATA / "policies" / "default.yaml").read_text()),
    "trace CSV": (".csv", _load_scale_trace, TRACE_CSV),
    "cluster JSON": (".json", _load_cluster, json.dumps(CLUSTER, indent=1)),
    "reassignment JSON": (".json", _load_reassignment, json.dumps(REASSIGNMENT, indent=1)),
    "topics plan JSON": (".json", _load_topics_plan, "{}"),
    "client properties": (".properties", _load_client_properties, PROPERTIES),
    "brokerscale.yaml": (".yaml", _load_config, yaml.safe_dump(CONFIG)),
    "DR topology": (".yaml", _load_topology, (ROOT / "examples" / "dr-topology.yaml").read_text()),
}


@pytest.mark.parametrize("fmt", sorted(TEXT_FORMATS))
def test_random_text_files_load_or_fail_in_one_line(fmt: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    suffix, load, seed = TEXT_FORMATS[fmt]
    _text_property(f"{fmt} (text)", suffix, load, seed)(tmp_path_factory)


# ----- CLI values ------------------------------------------------------------------------------------
VALUE_TEXT = st.text(max_size=16) | st.from_regex(r"-?[0-9]{0,12}(\.[0-9]{0,4})?(e[0-9]{1,3})?\s?"
                                                    r"(B|KB|MB|GB|KiB|MiB|kb|Mb|s|ms|m|h|d|w|/s|MB/s)?",
                                                    fullmatch=True)


def _value_property(name: str, parse: Callable[[str], Any], flag: str) -> Any:
    @FUZZ
    @given(text=VALUE_TEXT)
    def prop(text: str) -> None:
        TRIED[name] += 1
        try:
            value = parse(text)
        except BadInput as exc:
            REJECTED[name] += 1
            assert "\n" not in exc.message and flag in exc.message, exc.message
            return
        if isinstance(value, float):
            assert value == value and value not in (float("inf"), float("-inf"))  # finite when accepted
        if isinstance(value, (int, float)):
            assert value >= 0

    return prop


def _ids(text: str) -> Any:
    from brokerscale.balance.cli import parse_ids

    return parse_ids(text)


def _value_parsers() -> dict[str, tuple[Callable[[str], Any], str]]:
    from brokerscale.load.rates import parse_rate
    from brokerscale.units import parse_byte_rate, parse_duration, parse_size

    return {
        "size (--size)": (lambda t: parse_size(t, what="--size"), "--size"),
        "duration (--duration)": (lambda t: parse_duration(t, what="--duration"), "--duration"),
        "byte rate (--throttle)": (lambda t: parse_byte_rate(t, what="--throttle"), "--throttle"),
        "rate (--rate)": (lambda t: parse_rate(t, 5000, what="--rate"), "--rate"),
        "broker ids (--brokers)": (_ids, "--brokers"),
    }


@pytest.mark.parametrize("name", ["size (--size)", "duration (--duration)", "byte rate (--throttle)",
                                  "rate (--rate)", "broker ids (--brokers)"])
def test_cli_values_parse_or_fail_in_one_line_naming_the_flag(name: str) -> None:
    parse, flag = _value_parsers()[name]
    _value_property(name, parse, flag)()


@FUZZ
@given(value=VALUE_TEXT, flag=st.sampled_from(["--brokers", "--replica-threshold", "--capacity-limit",
                                              "--rate-window", "--mode", "--format"]))
def test_rebalance_propose_flags_through_the_cli_never_trace_back(cli: Any, tmp_path_factory: pytest.TempPathFactory,
                                                                   value: str, flag: str) -> None:
    """Through the real entry point, offline (--cluster-file): one fuzzed flag value. Exit 0 or 2, and
    a refusal is exactly one `error:` line naming the flag."""
    TRIED["rebalance propose flags (CLI)"] += 1
    path = tmp_path_factory.getbasetemp() / "fuzz-cluster.json"
    if not path.exists():
        path.write_text(json.dumps(CLUSTER))
    code, out, err = cli("rebalance", "propose", "--cluster-file", path, flag, value, "--format", "json")
    assert "Traceback" not in err + out
    assert code in (0, 2), (code, err)
    if code == 2:
        REJECTED["rebalance propose flags (CLI)"] += 1
        lines = [ln for ln in err.splitlines() if ln.strip()]
        assert len(lines) == 1 and lines[0].startswith("error:"), err


@FUZZ
@given(case=mutated(_yaml(ROOT / "examples" / "small-clinic.yaml")))
def test_plan_through_the_cli_never_traces_back(cli: Any, tmp_path_factory: pytest.TempPathFactory,
                                                case: tuple[Any, str]) -> None:
    TRIED["plan (CLI)"] += 1
    path = tmp_path_factory.mktemp("plan") / "workload.yaml"
    path.write_text(yaml.safe_dump(case[0], allow_unicode=True))
    code, out, err = cli("plan", path, "--format", "json")
    assert "Traceback" not in err + out
    assert code in (0, 2), (code, err)
    if code == 2:
        REJECTED["plan (CLI)"] += 1
        lines = [ln for ln in err.splitlines() if ln.strip()]
        assert len(lines) == 1 and lines[0].startswith("error:") and str(path) in lines[0], err


# ----- misspelt keys: named, with the closest valid key ----------------------------------------------
MISSPELT = [
    ("workload", ".yaml", _load_workload, lambda d: d["topics"][0], "messages_per_second"),
    ("rules", ".yaml", _load_rules, None, None),
    ("topic policy", ".yaml", _load_topic_policy, lambda d: next(iter(d["classes"].values())), "retention_min_days"),
    ("scaling policy", ".yaml", _load_scaling_policy, lambda d: d, None),
    ("capacity", ".yaml", _load_capacity, lambda d: d["broker"], "throughput_mb_s"),
    ("cluster JSON", ".json", _load_cluster, lambda d: d["partitions"][0], "size_bytes"),
    ("brokerscale.yaml", ".yaml", _load_config, lambda d: d["clusters"]["prod"], "command_config"),
    ("DR topology", ".yaml", _load_topology, lambda d: d["flows"]["primary-dr"], "replication_factor"),
]


@pytest.mark.parametrize("fmt", [m[0] for m in MISSPELT if m[3] is not None])
def test_a_misspelt_key_is_named_with_the_closest_valid_key(fmt: str, tmp_path: Path) -> None:
    _, suffix, load, where, key = next(m for m in MISSPELT if m[0] == fmt)
    base = copy.deepcopy(DOC_FORMATS[fmt][0])
    holder = where(base)
    if key is None:
        key = next(k for k in holder if isinstance(k, str) and len(k) > 6)
    wrong = _typo(key, 2)
    holder[wrong] = holder.pop(key)
    path = tmp_path / f"misspelt{suffix}"
    path.write_text(_dump(base, suffix))
    with pytest.raises(BadInput) as info:
        load(path)
    assert str(path) in info.value.message and wrong in info.value.message
    assert f"did you mean {key!r}" in info.value.message, info.value.message


def test_every_problem_of_a_file_is_listed(tmp_path: Path) -> None:
    from brokerscale.model.workload import load_workload

    doc = _yaml(ROOT / "examples" / "small-clinic.yaml")
    topic = doc["topics"][0]
    topic["mesages_per_second"] = topic.pop("messages_per_second")
    doc["topics"][-1]["retention_days"] = -5
    path = tmp_path / "two-problems.yaml"
    path.write_text(yaml.safe_dump(doc))
    with pytest.raises(BadInput) as info:
        load_workload(path)
    message = info.value.message
    assert "mesages_per_second: unknown field (did you mean 'messages_per_second'?)" in message
    assert "retention_days" in message and "(and " not in message and message.count(";") >= 1
