"""Models built from values this program computed itself, without pydantic's validation.

A lag snapshot of the scaling guide's 20,000 partitions builds 20,000 `PartitionState`s and 20,000
`PartitionLag`s from offsets it has just read and judged; validating each (2.5-5 us) was a seventh of the
snapshot. These values are already of the fields' types, so `trusted` builds the instance as pydantic's
own `model_construct` does (every field set, no validation), but in one step (`model_construct` walks
the model's fields per call and costs as much as validating). Input from a user or a file still goes
through the model's constructor.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from pydantic import BaseModel

M = TypeVar("M", bound=BaseModel)


def trusted_builder(cls: type[M]) -> Callable[..., M]:
    """A constructor of `cls` that takes every field by keyword and validates nothing.

    Missing or unknown fields raise TypeError (a model that gained a field must be built with it), so a
    trusted instance always dumps exactly as a validated one with the same values."""
    names = tuple(cls.model_fields)
    wanted = frozenset(names)
    new = object.__new__
    setattr_ = object.__setattr__

    def build(**values: Any) -> M:
        if tuple(values) != names:  # callers pass the fields in order (the common case: nothing to copy)
            if len(values) != len(names) or values.keys() != wanted:
                raise TypeError(f"{cls.__name__}: trusted construction needs exactly the fields "
                                f"{sorted(wanted)}, got {sorted(values)}")
            values = {n: values[n] for n in names}  # pydantic dumps fields in the order of __dict__
        obj = new(cls)
        setattr_(obj, "__dict__", values)
        setattr_(obj, "__pydantic_fields_set__", set(names))
        setattr_(obj, "__pydantic_extra__", None)
        setattr_(obj, "__pydantic_private__", None)
        return obj

    return build
