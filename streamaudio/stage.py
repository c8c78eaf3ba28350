"""The stage contract: a stage returns its item, a permanent `Drop`, or a
retryable `Retry` -- never `None` standing for any of the three."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Drop:
    """Permanent: the item cannot be made from these inputs. `reason` is a short
    stable key (counted in manifests); `detail` is for humans."""

    reason: str
    detail: str = ""


@dataclass(frozen=True)
class Retry:
    """Transient: the same item may succeed with another attempt or seed."""

    reason: str
    detail: str = ""


Outcome = T | Drop | Retry


@dataclass
class DropCounter(Generic[T]):
    counts: Counter[str] = field(default_factory=Counter)

    def add(self, outcome: Drop | Retry) -> None:
        self.counts[outcome.reason] += 1

    def merge(self, other: dict[str, int]) -> None:
        self.counts.update(other)

    def as_dict(self) -> dict[str, int]:
        return dict(sorted(self.counts.items()))


class StageError(RuntimeError):
    """A failure of the pipeline itself (not of one item): bad config, missing catalog."""
