"""The 7 abilities and 28 subtasks (catalogs/taxonomy.yaml), and the default
mixture: the paper's ability shares, split evenly over each ability's built
subtasks."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from streamaudio.stage import StageError

TAXONOMY_FILE = "taxonomy.yaml"


class SubtaskSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    status: Literal["built", "planned"]
    contains: str
    trigger: str
    response: str
    emotion: str
    example: str


class AbilitySpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    share: float = Field(gt=0)
    subtasks: dict[str, SubtaskSpec] = Field(min_length=1)


@dataclass(frozen=True)
class Taxonomy:
    abilities: dict[str, AbilitySpec]

    def ability_of(self, subtask: str) -> str:
        return next(a for a, spec in self.abilities.items() if subtask in spec.subtasks)

    def subtasks(self, status: str | None = None) -> list[str]:
        return [name for spec in self.abilities.values() for name, sub in spec.subtasks.items()
                if status is None or sub.status == status]

    def weights(self, buildable: set[str] | None = None) -> dict[str, float]:
        """Mixture weights of the built subtasks, summing to 1: each ability's share
        split evenly over its built subtasks (those in `buildable`, if given: e.g.
        without a Chinese voice), renormalised over abilities that have one."""
        raw: dict[str, float] = {}
        for spec in self.abilities.values():
            built = [n for n, sub in spec.subtasks.items() if sub.status == "built"
                     and (buildable is None or n in buildable)]
            raw |= {name: spec.share / len(built) for name in built}
        total = sum(raw.values())
        return {name: weight / total for name, weight in raw.items()}


def mixture_counts(total: int, weights: dict[str, float]) -> dict[str, int]:
    """Split `total` streams by weight with the largest-remainder rule: counts sum
    to `total` and each is within one of its exact share."""
    exact = {name: total * weight for name, weight in weights.items()}
    counts = {name: int(value) for name, value in exact.items()}
    by_remainder = sorted(exact, key=lambda name: (counts[name] - exact[name], name))
    for name in by_remainder[: total - sum(counts.values())]:
        counts[name] += 1
    return counts


def load_taxonomy(catalog_dir: Path) -> Taxonomy:
    path = Path(catalog_dir) / TAXONOMY_FILE
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    try:
        abilities = {name: AbilitySpec.model_validate(spec)
                     for name, spec in (raw.get("abilities") or {}).items()}
    except ValidationError as error:
        raise StageError(f"{path}: {error}") from error
    names = [n for spec in abilities.values() for n in spec.subtasks]
    if len(set(names)) != len(names):
        raise StageError(f"{path}: subtask names must be unique across abilities")
    return Taxonomy(abilities)
