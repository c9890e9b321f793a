from __future__ import annotations

import json
import random

import hl7
import pytest
from fhir.resources.encounter import Encounter
from fhir.resources.observation import Observation
from hl7apy.consts import VALIDATION_LEVEL
from hl7apy.parser import parse_message

from brokerscale.load.messages import KINDS, build_message, make_patient


def _patient(i: int = 42) -> tuple[random.Random, object]:
    rng = random.Random(i)
    return rng, make_patient(i, rng)


@pytest.mark.parametrize("size", [300, 1200, 5000, 20_000])
@pytest.mark.parametrize("kind", ["hl7-adt", "hl7-oru"])
def test_hl7_messages_parse_and_carry_the_patient(kind: str, size: int) -> None:
    rng, patient = _patient()
    raw = build_message(kind, patient, 17, rng, size)
    msg = hl7.parse(raw.decode("ascii"))
    assert str(msg.segment("MSH")[9][0][0]) == ("ADT" if kind == "hl7-adt" else "ORU")
    assert str(msg.segment("MSH")[12]) == "2.5.1"
    assert str(msg.segment("PID")[3][0][0]) == patient.mrn  # type: ignore[attr-defined]
    assert patient.mrn.startswith("SYN")  # type: ignore[attr-defined]
    if kind == "hl7-oru":
        assert len(msg.segments("OBX")) == 3
    else:
        assert str(msg.segment("EVN")[1]) == "A01"
        assert msg[1][0][0] == "EVN"  # EVN directly follows MSH


@pytest.mark.parametrize("size", [300, 5000])
@pytest.mark.parametrize(("kind", "structure"), [("hl7-adt", "ADT_A01"), ("hl7-oru", "ORU_R01")])
def test_hl7_messages_pass_strict_hl7apy_validation(kind: str, structure: str, size: int) -> None:
    """Required segments present and every field of the right HL7 2.5.1 datatype."""
    rng, patient = _patient()
    raw = build_message(kind, patient, 17, rng, size).decode("ascii")
    msg = parse_message(raw, validation_level=VALIDATION_LEVEL.STRICT, find_groups=True)
    assert msg.name == structure
    assert msg.validate()


@pytest.mark.parametrize("size", [300, 1200, 5000, 20_000])
@pytest.mark.parametrize("kind", ["fhir-observation", "fhir-encounter"])
def test_fhir_resources_validate_and_reference_the_patient(kind: str, size: int) -> None:
    rng, patient = _patient()
    doc = json.loads(build_message(kind, patient, 17, rng, size))
    model = Observation if kind == "fhir-observation" else Encounter
    resource = model.model_validate(doc)
    assert resource.subject.reference == f"Patient/{patient.mrn}"  # type: ignore[attr-defined]


@pytest.mark.parametrize("kind", KINDS)
def test_messages_hit_the_requested_size_exactly(kind: str) -> None:
    rng, patient = _patient()
    for size in [700, 777, 1000, 1013, 4999, 5000, 5001, 12_345, 100_000]:
        assert len(build_message(kind, patient, 1, rng, size)) == size, (kind, size)


@pytest.mark.parametrize("kind", KINDS)
def test_too_small_a_size_keeps_the_message_whole(kind: str) -> None:
    rng, patient = _patient()
    raw = build_message(kind, patient, 1, rng, 10)
    assert len(raw) > 10
    if kind.startswith("hl7"):
        assert hl7.parse(raw.decode()).segment("PID")
    else:
        json.loads(raw)


def test_same_seed_same_message_and_unknown_kind_rejected() -> None:
    a = build_message("hl7-oru", make_patient(1, random.Random(5)), 3, random.Random(9), 2000)
    b = build_message("hl7-oru", make_patient(1, random.Random(5)), 3, random.Random(9), 2000)
    c = build_message("hl7-oru", make_patient(1, random.Random(5)), 3, random.Random(10), 2000)
    assert a == b and a != c
    with pytest.raises(ValueError, match="unknown message kind"):
        build_message("csv", make_patient(1, random.Random(5)), 3, random.Random(9), 2000)
