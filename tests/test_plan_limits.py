"""Limits profiles: shipped files load, own files validate with one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from brokerscale.errors import BadInput
from brokerscale.model.limits import LIMITS_DIR, load_limits, shipped_profiles


def test_shipped_profiles_carry_the_documented_figures() -> None:
    assert {"design-doc", "confluent-2026"} <= set(shipped_profiles())
    seed = load_limits()
    assert seed.name == "design-doc"
    assert (seed.cku.throughput_mb_s, seed.cku.connections, seed.cku.partitions) == (50, 4000, 4500)
    assert seed.tier("basic").throughput_mb_s == 100
    assert seed.tier("standard").throughput_mb_s == 250
    cc = load_limits("confluent-2026")
    assert (cc.cku.ingress_mb_s, cc.cku.egress_mb_s, cc.cku.connections) == (60, 180, 18000)
    assert cc.tier("enterprise").partitions == 30000


def test_cku_capacity_scales_with_the_cku_count() -> None:
    cap = load_limits("confluent-2026").cku_capacity(3)
    assert (cap.ingress_mb_s, cap.egress_mb_s, cap.partitions) == (180, 540, 13500)
    assert load_limits().cku_capacity(3).requests_per_second is None


def _own(tmp_path: Path, mutate: object) -> Path:
    data = yaml.safe_load((LIMITS_DIR / "design-doc.yaml").read_text())
    assert callable(mutate)
    mutate(data)
    p = tmp_path / "mylimits.yaml"
    p.write_text(yaml.safe_dump(data))
    return p


def test_own_file_loads_by_path(tmp_path: Path) -> None:
    p = _own(tmp_path, lambda d: d["cku"].update(connections=5000))
    assert load_limits(str(p)).cku.connections == 5000


@pytest.mark.parametrize(("mutate", "expected"), [
    (lambda d: d["cku"].update(conections=1), "cku.conections: unknown field"),
    (lambda d: d["cku"].update(partitions=0), "cku.partitions: input should be greater than 0"),
    (lambda d: d["tiers"][1].update(name="premium"), "tiers[1].name:"),
    (lambda d: d["broker"].update(target_utilization=1.5), "broker.target_utilization:"),
    (lambda d: d["cku"].update(ingress_mb_s=60), "cku: give throughput_mb_s or ingress_mb_s"),
])
def test_bad_own_file_is_one_line_naming_file_field_reason(tmp_path: Path, mutate: object,
                                                           expected: str) -> None:
    p = _own(tmp_path, mutate)
    with pytest.raises(BadInput) as exc:
        load_limits(str(p))
    assert str(exc.value).startswith(f"{p}: {expected}")
    assert "\n" not in str(exc.value)


def test_unknown_name_and_broken_yaml(tmp_path: Path) -> None:
    with pytest.raises(BadInput, match="neither a shipped profile"):
        load_limits("confluent-1999")
    bad = tmp_path / "bad.yaml"
    bad.write_text("cku: [unclosed\n")
    with pytest.raises(BadInput, match="not valid YAML"):
        load_limits(str(bad))
