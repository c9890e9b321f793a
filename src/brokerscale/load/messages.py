"""Synthetic clinical messages: HL7 v2 ADT^A01 / ORU^R01 and FHIR R5 Observation / Encounter.

Everything is generated from a seeded RNG and is obviously synthetic (MRNs start with `SYN`, names
come from a short made-up list, facility `SYNTHETIC`), so no record can be mistaken for, or leak,
real patient data. Messages are padded with clinical-looking free text (HL7 NTE segments, FHIR
narrative) to hit an exact byte size, so a size distribution can be reproduced without breaking
the message structure.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

KINDS = ("hl7-adt", "hl7-oru", "fhir-observation", "fhir-encounter")

_GIVEN = ["ALEX", "SAM", "RIVER", "JORDAN", "CASEY", "TAYLOR", "MORGAN", "QUINN", "AVERY", "ROWAN"]
_FAMILY = ["SYNTHA", "TESTER", "FICTUS", "EXEMPLAR", "MOCKWELL", "SAMPLESON", "PLACEBO", "DUMMITT"]
_WORDS = [
    "patient", "resting", "comfortably", "vitals", "stable", "afebrile", "ambulating",
    "tolerating", "diet", "pain", "controlled", "plan", "continue", "monitoring", "reassess",
    "morning", "labs", "pending", "follow", "up", "discharge", "education", "given", "no", "acute",
    "distress", "alert", "oriented", "lungs", "clear", "heart", "regular", "abdomen", "soft",
    "nontender",
]
_VITALS = [  # LOINC code, display, unit, low, high
    ("8867-4", "Heart rate", "/min", 50, 120),
    ("8310-5", "Body temperature", "Cel", 36.0, 39.0),
    ("8480-6", "Systolic blood pressure", "mm[Hg]", 90, 160),
    ("9279-1", "Respiratory rate", "/min", 10, 28),
    ("59408-5", "Oxygen saturation", "%", 88, 100),
    ("2339-0", "Glucose", "mg/dL", 60, 220),
]
_BASE_TIME = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Patient:
    mrn: str
    family: str
    given: str
    birth_date: str  # YYYYMMDD
    sex: str


def make_patient(index: int, rng: random.Random) -> Patient:
    born = _BASE_TIME - timedelta(days=rng.randint(365, 95 * 365))
    return Patient(mrn=f"SYN{index:08d}", family=rng.choice(_FAMILY), given=rng.choice(_GIVEN),
                   birth_date=born.strftime("%Y%m%d"), sex=rng.choice("MF"))


def _filler(rng: random.Random, n: int) -> str:
    words: list[str] = []
    length = 0
    while length <= n:
        w = rng.choice(_WORDS)
        words.append(w)
        length += len(w) + 1
    return " ".join(words)[:n]


def _hl7_time(rng: random.Random) -> str:
    return (_BASE_TIME + timedelta(seconds=rng.randint(0, 365 * 86400))).strftime("%Y%m%d%H%M%S")


def _msh(kind: str, control_id: str, when: str) -> str:
    trigger = "ADT^A01^ADT_A01" if kind == "hl7-adt" else "ORU^R01^ORU_R01"
    return f"MSH|^~\\&|SYNLOAD|SYNTHETIC|EHR|SYNTHETIC|{when}||{trigger}|{control_id}|P|2.5.1"


def _pid(p: Patient) -> str:
    return f"PID|1||{p.mrn}^^^SYNTHETIC^MR||{p.family}^{p.given}||{p.birth_date}|{p.sex}"


def _hl7(kind: str, p: Patient, seq: int, rng: random.Random, size: int) -> bytes:
    when = _hl7_time(rng)
    segs = [_msh(kind, f"SYN{seq:010d}", when), _pid(p)]
    if kind == "hl7-adt":
        segs.append(f"EVN|A01|{when}")
        segs.insert(1, segs.pop())  # EVN follows MSH
        segs.append(f"PV1|1|I|SYN-WARD^{rng.randint(100, 999)}^1^SYNTHETIC||||"
                    f"SYN{rng.randint(1000, 9999)}^DOCTOR^SYNTHETIC|||MED||||||||SYNV{seq:010d}|||||||||||||||||||||"
                    f"||||||||{when}")
    else:
        segs.append(f"OBR|1|SYNORD{seq:08d}||85353-1^Vital signs panel^LN|||{when}")
        for i, (code, display, unit, low, high) in enumerate(rng.sample(_VITALS, 3), start=1):
            value = round(rng.uniform(low, high), 1)
            segs.append(f"OBX|{i}|NM|{code}^{display}^LN||{value}|{unit}|||||F|||{when}")
    return _pad_hl7(segs, rng, size)


def _pad_hl7(segs: list[str], rng: random.Random, size: int) -> bytes:
    """Append NTE (notes) segments until the message is exactly `size` bytes (if it can be)."""
    text = "\r".join(segs)
    n = 1
    while True:
        room = size - len(text) - len(f"\rNTE|{n}||")
        if room <= 0:
            break
        chunk = min(room, 200)
        if 0 < room - chunk < 12:  # don't leave a gap too small for one more NTE header
            chunk = room - 12
        text += f"\rNTE|{n}||" + _filler(rng, chunk)
        n += 1
    return text.encode("ascii")


def _fhir_base(kind: str, p: Patient, seq: int, rng: random.Random) -> dict[str, object]:
    when = (_BASE_TIME + timedelta(seconds=rng.randint(0, 365 * 86400))).strftime("%Y-%m-%dT%H:%M:%SZ")
    subject = {"reference": f"Patient/{p.mrn}", "display": f"{p.given} {p.family} (synthetic)"}
    if kind == "fhir-observation":
        code, display, unit, low, high = rng.choice(_VITALS)
        return {
            "resourceType": "Observation", "id": f"syn-obs-{seq}", "status": "final",
            "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category",
                                      "code": "vital-signs"}]}],
            "code": {"coding": [{"system": "http://loinc.org", "code": code, "display": display}]},
            "subject": subject, "effectiveDateTime": when,
            "valueQuantity": {"value": round(rng.uniform(low, high), 1), "unit": unit,
                              "system": "http://unitsofmeasure.org", "code": unit},
        }
    return {
        "resourceType": "Encounter", "id": f"syn-enc-{seq}", "status": "in-progress",
        "class": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "IMP",
                               "display": "inpatient encounter"}]}],
        "subject": subject,
        "actualPeriod": {"start": when},
        "identifier": [{"system": "urn:synthetic:visit", "value": f"SYNV{seq:010d}"}],
    }


def _fhir(kind: str, p: Patient, seq: int, rng: random.Random, size: int) -> bytes:
    """A compact JSON resource padded via its XHTML narrative to exactly `size` bytes (if it can be)."""
    res = _fhir_base(kind, p, seq, rng)
    head = '<div xmlns="http://www.w3.org/1999/xhtml">'
    res["text"] = {"status": "generated", "div": head + "</div>"}
    bare = len(json.dumps(res, separators=(",", ":")).encode())
    room = max(0, size - bare)
    res["text"] = {"status": "generated", "div": head + _filler(rng, room) + "</div>"}
    return json.dumps(res, separators=(",", ":")).encode()


def build_message(kind: str, patient: Patient, seq: int, rng: random.Random, size: int) -> bytes:
    """One message of `kind` for `patient`, `size` bytes long unless its bare structure is bigger."""
    if kind.startswith("hl7-"):
        return _hl7(kind, patient, seq, rng, size)
    if kind.startswith("fhir-"):
        return _fhir(kind, patient, seq, rng, size)
    raise ValueError(f"unknown message kind {kind!r}")
