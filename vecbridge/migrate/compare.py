"""Record-by-record comparison of a source and a destination copy: vectors within float32 tolerance,
metadata with its types, documents; what verification reports as a :class:`Mismatch`; and the
content digest sync keeps per destination record to find what changed without holding records."""

from __future__ import annotations

import hashlib
import json
import struct
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from vecbridge.adapter import Capability
from vecbridge.store import Collection
from vecbridge.types import Metadata, Record

#: The float allowance for a destination that keeps floats inexact without a measured bound: 4,096
#: ulp, about the relative 1e-12 verification allowed every destination before bounds were declared.
UNMEASURED_FLOAT_ULPS = 4096

#: Float32 tolerance for comparing vectors read back from two backends.
VECTOR_RTOL = 1e-5
VECTOR_ATOL = 1e-6


@dataclass(frozen=True, slots=True)
class Mismatch:
    """One difference between source and destination."""

    kind: Literal["count", "missing", "extra", "duplicate", "vector", "metadata", "document", "query"]
    namespace: str
    id: str | None
    detail: str


def _type_tag(value: object) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "str"
    if isinstance(value, list):
        return "list"
    return type(value).__name__


def _ordered_bits(value: float) -> int:
    bits: int = struct.unpack("<q", struct.pack("<d", value))[0]
    return bits if bits >= 0 else -(bits & 0x7FFF_FFFF_FFFF_FFFF)


def ulp_distance(left: float, right: float) -> int:
    """Units in the last place between two finite floats (``-0.0`` and ``0.0`` are 0 apart)."""
    return abs(_ordered_bits(left) - _ordered_bits(right))


@dataclass(slots=True)
class FloatDifferences:
    """Float metadata a destination without ``Capability.EXACT_FLOATS`` returned with other bits: up to
    ``bound_ulps`` apart they are counted here, for the report, instead of being mismatches."""

    bound_ulps: int
    count: int = 0
    max_ulps: int = 0
    max_relative: float = 0.0

    def allows(self, expected: float, actual: float) -> bool:
        """Count ``actual`` as a difference within the bound; ``False`` when it is beyond it."""
        ulps = ulp_distance(expected, actual)
        if ulps > self.bound_ulps:
            return False
        self.count += 1
        self.max_ulps = max(self.max_ulps, ulps)
        if expected != 0.0:
            self.max_relative = max(self.max_relative, abs(actual - expected) / abs(expected))
        return True

    def to_dict(self) -> dict[str, int | float]:
        return {
            "count": self.count,
            "max_ulps": self.max_ulps,
            "max_relative": self.max_relative,
            "bound_ulps": self.bound_ulps,
        }

    def __str__(self) -> str:
        return (
            f"{self.count} float values differ from the source, by at most {self.max_ulps} ulp "
            f"(relative {self.max_relative:.2g}; the destination declares {self.bound_ulps} ulp)"
        )


def metadata_differences(expected: Metadata, actual: Metadata, floats: FloatDifferences | None = None) -> list[str]:
    """Key-by-key differences, types included: ``1`` (int) and ``1.0`` (float) differ, a missing key is not ``0``.
    Floats compare bit for bit; ``floats`` counts the differences a destination declares instead."""
    problems = []
    for key in sorted(set(expected) | set(actual)):
        if key not in actual:
            problems.append(f"{key}: missing (expected {expected[key]!r})")
            continue
        if key not in expected:
            problems.append(f"{key}: unexpected {actual[key]!r}")
            continue
        left, right = expected[key], actual[key]
        if _type_tag(left) != _type_tag(right):
            problems.append(f"{key}: {left!r} ({_type_tag(left)}) became {right!r} ({_type_tag(right)})")
        elif isinstance(left, float) and isinstance(right, float):
            same = struct.pack("<d", left) == struct.pack("<d", right)
            if not same and (floats is None or not floats.allows(left, right)):
                problems.append(f"{key}: {left!r} became {right!r}")
        elif isinstance(left, list) and isinstance(right, list):
            if list(left) != list(right):
                problems.append(f"{key}: {left!r} became {right!r}")
        elif left != right:
            problems.append(f"{key}: {left!r} became {right!r}")
    return problems


def expected_vector(vector: object, normalize: bool) -> np.ndarray[Any, np.dtype[np.float32]]:
    array = np.asarray(vector, dtype=np.float32)
    if normalize:
        norm = float(np.linalg.norm(array))
        if norm > 0:
            array = (array / norm).astype(np.float32)
    return array


#: bytes of :func:`content_digest`
DIGEST_SIZE = 16


def content_digest(record: Record, normalize: bool = False) -> bytes:
    """16 bytes (BLAKE2b) of a record's content: the vector rounded to float32 (unit length first when
    ``normalize``), the metadata as JSON (``1``, ``1.0`` and ``true`` differ), the document (``None`` is
    not ``""``). Equal digests mean equal content; different ones are confirmed by :func:`compare_records`,
    whose float32 tolerance a digest of exact bits cannot express."""
    digest = hashlib.blake2b(digest_size=DIGEST_SIZE)
    digest.update(expected_vector(record.vector, normalize).tobytes())
    metadata = json.dumps(record.metadata, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    digest.update(b"\x00" + metadata.encode())
    digest.update(b"\x00" if record.document is None else b"\x01" + record.document.encode())
    return digest.digest()


def compare_records(
    expected: Record, actual: Record, namespace: str, normalize: bool, floats: FloatDifferences | None = None
) -> list[Mismatch]:
    """Content comparison of one record: vector within float32 tolerance, metadata with types (floats
    bit for bit, or within ``floats``), document."""
    found: list[Mismatch] = []
    want = expected_vector(expected.vector, normalize)
    got = np.asarray(actual.vector, dtype=np.float32)
    if want.shape != got.shape:
        found.append(Mismatch("vector", namespace, expected.id, f"shape {want.shape} became {got.shape}"))
    elif not np.allclose(want, got, rtol=VECTOR_RTOL, atol=VECTOR_ATOL):
        worst = float(np.max(np.abs(want - got)))
        found.append(Mismatch("vector", namespace, expected.id, f"differs by up to {worst:.3g}"))
    problems = metadata_differences(expected.metadata, actual.metadata, floats)
    if problems:
        found.append(Mismatch("metadata", namespace, expected.id, "; ".join(problems)))
    if expected.document != actual.document:
        found.append(
            Mismatch(
                "document", namespace, expected.id, f"{_short(expected.document)} became {_short(actual.document)}"
            )
        )
    return found


def _short(text: str | None) -> str:
    if text is None:
        return "None"
    return repr(text if len(text) <= 60 else text[:57] + "...")


def float_allowance(destination: Collection) -> FloatDifferences | None:
    """How far the destination's float metadata may differ from what was written: ``None`` (bit for
    bit) with ``Capability.EXACT_FLOATS``, else its declared bound (or :data:`UNMEASURED_FLOAT_ULPS`)."""
    if Capability.EXACT_FLOATS in destination.store.capabilities:
        return None
    declared = type(destination.store.adapter).float_error_ulps
    return FloatDifferences(UNMEASURED_FLOAT_ULPS if declared is None else declared)
