"""`streamaudio ablation` (`make ablation`): the paper's data ablations, reproduced in
direction. The same model is trained for the same time on training corpora of the same
seed and size that differ in one thing each (no TFJP; scenes without event selection; no
verified silence; λ of the dual loss), and every one is evaluated on the same held-out
corpus. Variants that differ only in training share their corpus."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from streamaudio.atomic import write_text_atomic
from streamaudio.taxonomy import load_taxonomy
from streamaudio.train.learn import (
    LearnSettings,
    build_split,
    curve,
    summarise,
    train_and_evaluate,
)

REPORT_FILE = "ablation-report.json"


@dataclass(frozen=True)
class Variant:
    name: str
    build_overrides: tuple[str, ...] = ()
    train_overrides: tuple[str, ...] = ()
    leave_out: tuple[str, ...] = ()
    paper: str = ""  # the paper's trigger accuracy for this row, where it reports one

    def corpus_key(self) -> str:
        """Variants that build the same training corpus share it."""
        text = json.dumps([sorted(self.build_overrides), sorted(self.leave_out)])
        return hashlib.sha256(text.encode()).hexdigest()[:10]


def always_silent_subtasks(catalog_dir: Path) -> tuple[str, ...]:
    """Subtasks whose every stream is silent (taxonomy trigger "none")."""
    taxonomy = load_taxonomy(catalog_dir)
    return tuple(sorted(name for spec in taxonomy.abilities.values()
                        for name, sub in spec.subtasks.items() if sub.trigger == "none"))


def paper_variants(catalog_dir: Path) -> list[Variant]:
    """The table of the issue: the full recipe (λ = 1), its three data ablations and λ."""
    return [
        Variant("full (λ = 1)", paper="96.77 % trigger accuracy"),
        Variant("without TFJP", ("tfjp.enabled=false",), paper="85.35 %"),
        Variant("without event selection", ("planner.mode=random",), paper="88.51 %"),
        Variant("without verified silence",
                ("silence.negative_share=0", "silence.stretch_share=0"),
                leave_out=always_silent_subtasks(catalog_dir), paper="not ablated"),
        Variant("λ = 0.1", train_overrides=("control_weight=0.1",)),
        Variant("λ = 3", train_overrides=("control_weight=3",)),
    ]


def _row(variant: Variant, trained: Any, evaluation: Any, build: dict[str, Any],
         walls: dict[str, float]) -> dict[str, Any]:
    overall = summarise(evaluation)["overall"]
    return {"variant": variant.name, "paper": variant.paper,
            "build_overrides": list(variant.build_overrides),
            "train_overrides": list(variant.train_overrides),
            "left_out": list(variant.leave_out), "steps": trained.steps,
            "hit_or_late": overall["hit_or_late"], "hit": overall["hit"],
            "false_trigger": overall["false_trigger"],
            "false_trigger_verified_silent": overall["false_trigger_verified_silent"],
            "text_token_accuracy": overall["text_token_accuracy"],
            "train_corpus": build, "curve": curve(trained), "wall_seconds": walls}


def run_ablation(settings: LearnSettings, variants: list[Variant],
                 say: Callable[[str], None] = print) -> dict[str, Any]:
    """Build the held-out corpus once and each distinct training corpus once, train and
    evaluate every variant; write and return the report."""
    settings.out.mkdir(parents=True, exist_ok=True)
    say(f"building the held-out corpus: {settings.heldout_streams} streams")
    heldout = build_split(settings, "heldout", settings.heldout_streams, settings.heldout_seed,
                          settings.heldout_corpus)
    corpora: dict[str, dict[str, Any]] = {}
    rows = []
    for variant in variants:
        key = variant.corpus_key()
        plain = not variant.build_overrides and not variant.leave_out
        path = settings.train_corpus if plain else settings.out / f"train-corpus-{key}"
        if key not in corpora:
            say(f"{variant.name}: building its training corpus -> {path}")
            corpora[key] = build_split(
                settings, "train", settings.train_streams, settings.seed, path,
                (*settings.build_overrides, *variant.build_overrides), variant.leave_out)
        say(f"{variant.name}: training for {settings.max_minutes} min, then evaluating")
        _, trained, evaluation, walls = train_and_evaluate(
            settings, (*settings.train_overrides, *variant.train_overrides), path,
            settings.heldout_corpus, settings.out / f"checkpoint-{len(rows)}")
        rows.append(_row(variant, trained, evaluation, corpora[key], walls))
        report = {"heldout_corpus": heldout, "variants": rows,
                  "settings": {"train_streams": settings.train_streams,
                               "max_minutes": settings.max_minutes, "stage": settings.stage}}
        write_text_atomic(settings.out / REPORT_FILE, json.dumps(report, indent=1),
                          fsync=False)  # after each variant: a long run keeps what it has
    return report
