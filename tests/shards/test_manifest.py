from __future__ import annotations

import json

import pytest
import yaml

from streamaudio.shards.manifest import build_manifest, write_dataset_card, write_manifest


def test_manifest_counts_two_subtasks(corpus) -> None:
    root, _ = corpus
    manifest = build_manifest(root, "cafe0123cafe0123", "0.1.0")
    totals = manifest["totals"]
    # doorbell: 2.0 + 1.0 + 3.0 s; kettle: 2.4 + 1.2 s
    assert (totals["streams"], totals["shards"]) == (5, 3)
    assert totals["hours"] == round(9.6 / 3600, 6)
    door, kettle = manifest["subtasks"]["doorbell"], manifest["subtasks"]["kettle"]
    assert door["ability"] == "alerting" and door["streams"] == 3 and door["shards"] == 2
    assert door["seconds"] == 6.0 and door["mean_stream_seconds"] == 2.0
    # chunks: 5 + 3 + 8 = 16, one response each
    assert (door["response_chunks"], door["silent_chunks"]) == (3, 13)
    assert door["response_share"] == round(3 / 16, 6)
    assert kettle["seconds"] == 3.6 and kettle["response_chunks"] == 2
    assert door["drops"] == {"no_clip": 2, "wer": 3} and kettle["drops"] == {"no_clip": 1, "wer": 1}
    assert manifest["drops"] == {"no_clip": 3, "wer": 4}
    assert set(manifest["abilities"]) == {"alerting", "monitoring"}
    assert manifest["abilities"]["monitoring"]["streams"] == 2
    assert manifest["licenses"]["MIT"] == 5
    assert manifest["shard_config_hashes"] == ["cafe0123cafe0123"]
    assert manifest["invalid_shards"] == []


def test_manifest_file_is_deterministic(corpus) -> None:
    root, _ = corpus
    path = write_manifest(root, build_manifest(root, "h", "0.1.0"))
    first = path.read_bytes()
    write_manifest(root, build_manifest(root, "h", "0.1.0"))
    assert path.read_bytes() == first and json.loads(first)["totals"]["streams"] == 5
    assert [p.name for p in root.iterdir() if p.name.startswith(".")] == []


def _front_matter(text: str) -> dict:
    assert text.startswith("---\n")
    return yaml.safe_load(text.split("---\n")[1])


def test_dataset_card_front_matter(corpus) -> None:
    root, _ = corpus
    card = write_dataset_card(root, build_manifest(root, "h", "0.1.0")).read_text()
    meta = _front_matter(card)
    configs = {c["config_name"]: c for c in meta["configs"]}
    assert set(configs) == {"all", "doorbell", "kettle"} and configs["all"]["default"] is True
    assert configs["kettle"]["data_files"] == [
        {"split": "train", "path": "monitoring/kettle/shard-*.parquet"}
    ]
    assert meta["license"] == "other"
    assert "CC-BY-SA-3.0" in card and "torchcodec" in card and "| alerting | doorbell | 3 |" in card


def test_load_dataset_by_subtask_offline(corpus, hf_offline) -> None:
    from datasets import Audio, load_dataset

    root, _ = corpus
    write_dataset_card(root, build_manifest(root, "h", "0.1.0"))
    write_manifest(root, build_manifest(root, "h", "0.1.0"))
    kettle = load_dataset(str(root), name="kettle", split="train", cache_dir=str(hf_offline))
    assert sorted(kettle["stream_id"]) == ["kettle-0-0", "kettle-0-1"]
    assert isinstance(kettle.features["audio"], Audio)
    everything = load_dataset(str(root), split="train", cache_dir=str(hf_offline))
    assert len(everything) == 5


def test_duplicate_subtask_across_abilities_is_an_error(corpus, stream_factory) -> None:
    from streamaudio.shards.writer import shard_path, write_shard_with_rows

    root, _ = corpus
    stream = stream_factory("x", "monitoring", "doorbell")
    path = shard_path(root, "monitoring", "doorbell", 0)
    write_shard_with_rows([(stream, 1)], path, "monitoring", "doorbell", {}, 64)
    with pytest.raises(ValueError, match="appears under"):
        build_manifest(root, "h", "0.1.0")


def test_grounding_summary_rates() -> None:
    from collections import Counter

    from streamaudio.shards.manifest import grounding_summary

    summary = grounding_summary(Counter({"sound_events": 10, "retrieved": 7, "generated:synth": 2,
                                         "verify_failed:cleanliness": 3,
                                         "verify_failed:identity": 1}))
    assert summary["retrieval_hit_rate"] == 0.7
    assert summary["fallback_rate"] == {"synth": 0.2}
    assert summary["verification_failures"] == {"cleanliness": 3, "identity": 1}
    assert grounding_summary(Counter())["retrieval_hit_rate"] == 0.0
