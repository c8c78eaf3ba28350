"""The scene grammar (catalogs/scenes.yaml): settings, each with the ambience
that can sit under it, the benign sounds that happen there and the hazards
that plausibly could. The offline planner samples from it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from streamaudio.retrieve.catalog import Catalog
from streamaudio.stage import StageError

SCENES_FILE = "scenes.yaml"


class Setting(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    description: str  # "a kitchen in the morning"
    ambience: list[str] = Field(min_length=1)  # bed classes
    benign: list[str] = Field(min_length=2)
    hazards: list[str] = Field(default_factory=list)


@dataclass(frozen=True)
class SceneGrammar:
    settings: tuple[Setting, ...]

    def usable(self, catalog: Catalog) -> SceneGrammar:
        """Settings restricted to the classes that have installed clips; a
        setting left without a bed or two benign classes is dropped."""
        def present(names: list[str]) -> list[str]:
            return [name for name in names if catalog.by_class(name)]

        kept = []
        for setting in self.settings:
            trimmed = setting.model_copy(update={
                "ambience": present(setting.ambience),
                "benign": present(setting.benign),
                "hazards": present(setting.hazards),
            })
            if trimmed.ambience and len(trimmed.benign) >= 2:
                kept.append(trimmed)
        return SceneGrammar(tuple(kept))

    def by_name(self, name: str) -> Setting | None:
        return next((setting for setting in self.settings if setting.name == name), None)

    def choose(self, rng: np.random.Generator, need_hazard: bool = False) -> Setting:
        pool = [s for s in self.settings if s.hazards] if need_hazard else list(self.settings)
        if not pool:
            raise StageError("no usable setting in the scene grammar (are the packages installed?)")
        return pool[int(rng.integers(0, len(pool)))]


def load_grammar(directory: Path, classes: set[str]) -> SceneGrammar:
    """Read and validate the grammar once; every class it names must exist."""
    path = Path(directory) / SCENES_FILE
    raw = yaml.safe_load(path.read_text()) or {}
    try:
        settings = tuple(Setting.model_validate(item) for item in raw.get("settings", []))
    except ValidationError as error:
        raise StageError(f"{path}: {error}") from error
    names = [setting.name for setting in settings]
    if len(set(names)) != len(names):
        raise StageError(f"{path}: setting names must be unique")
    for setting in settings:
        unknown = {*setting.ambience, *setting.benign, *setting.hazards} - classes
        if unknown:
            raise StageError(f"{path}: setting {setting.name!r} names unknown classes "
                             f"{sorted(unknown)}")
    return SceneGrammar(settings)
