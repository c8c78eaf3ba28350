"""Embedders: MiniLM from the installed package (offline), and the CLAP code path
on a tiny randomly initialised ClapModel saved to a local directory (no CLAP
weights are installable offline)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from tokenizers.pre_tokenizers import ByteLevel
from transformers import (
    ClapConfig,
    ClapFeatureExtractor,
    ClapModel,
    ClapProcessor,
    RobertaTokenizer,
)

from streamaudio.config import Config
from streamaudio.retrieve.audio_io import LoadedClip, load_clip
from streamaudio.retrieve.catalog import load_catalogs
from streamaudio.retrieve.embed import (
    AudioTextEmbedder,
    ClapEmbedder,
    MiniLmEmbedder,
    TextEmbedder,
    loudest_window,
    make_embedder,
)
from streamaudio.retrieve.index import ClipIndex

RATE = 16_000
CLAP_DIM = 8


def write_tiny_clap(directory: Path, seed: int = 0) -> Path:
    """A random ClapModel (a few thousand weights) with a byte-level tokenizer
    and a 1 s feature extractor, saved as a real model directory."""
    vocab = {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3}
    for symbol in sorted(ByteLevel.alphabet()):
        vocab[symbol] = len(vocab)
    merges = [("Ġ", "d"), ("o", "g")]
    for left, right in merges:
        vocab[left + right] = len(vocab)
    vocab["<mask>"] = len(vocab)
    tokenizer = RobertaTokenizer(vocab=vocab, merges=merges, model_max_length=64)
    config = ClapConfig(
        text_config={"vocab_size": len(vocab), "hidden_size": 16, "num_hidden_layers": 1,
                     "num_attention_heads": 2, "intermediate_size": 32,
                     "max_position_embeddings": 70},
        # HTSAT's last stage width = patch_embeds_hidden_size * 2 ** (len(depths) - 1)
        audio_config={"hidden_size": 16, "patch_embeds_hidden_size": 8, "depths": [1, 1],
                      "num_attention_heads": [1, 2], "window_size": 4, "spec_size": 64,
                      "num_mel_bins": 16, "patch_size": 4},
        projection_dim=CLAP_DIM,
    )  # fmt: skip
    torch.manual_seed(seed)
    extractor = ClapFeatureExtractor(
        feature_size=16, sampling_rate=48_000, hop_length=480, max_length_s=1,
        fft_window_size=1024, truncation="rand_trunc",
    )  # fmt: skip
    ClapModel(config).save_pretrained(directory)
    ClapProcessor(feature_extractor=extractor, tokenizer=tokenizer).save_pretrained(directory)
    return directory


@pytest.fixture(scope="module")
def minilm() -> MiniLmEmbedder:
    return MiniLmEmbedder()


@pytest.fixture(scope="module")
def clap(tmp_path_factory: pytest.TempPathFactory) -> ClapEmbedder:
    return ClapEmbedder(write_tiny_clap(tmp_path_factory.mktemp("clap")))


def _unit_rows(vectors: np.ndarray) -> bool:
    return bool(np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5))


def test_minilm_vectors_are_normalised_and_deterministic(minilm: MiniLmEmbedder) -> None:
    texts = ["a dog barking", "rain on a roof", "glass shattering"]
    vectors = minilm.embed_texts(texts)
    assert vectors.shape == (3, 384) and vectors.dtype == np.float32
    assert _unit_rows(vectors)
    np.testing.assert_allclose(minilm.embed_texts(texts), vectors, atol=1e-6)
    assert minilm.embed_texts([]).shape == (0, 384)
    assert isinstance(minilm, TextEmbedder) and not isinstance(minilm, AudioTextEmbedder)


def test_minilm_ranks_paraphrase_above_unrelated(minilm: MiniLmEmbedder) -> None:
    query, para, other = minilm.embed_texts(
        ["a dog barking", "two dogs bark back and forth", "a piano note rings"]
    )
    assert query @ para > query @ other + 0.2


def test_minilm_model_loads_once_per_process(minilm: MiniLmEmbedder) -> None:
    assert MiniLmEmbedder().model is minilm.model


def test_numpy_minilm_equals_sentence_transformers(minilm: MiniLmEmbedder) -> None:
    """The numpy forward pass is the model: the reference implementation (torch, through
    sentence-transformers) gives the same vectors, for short, long (truncated at 256
    tokens), accented and empty text, and a text's vector does not depend on its batch."""
    from sentence_transformers import SentenceTransformer

    texts = ["a dog barking", "Someone knocks on the wooden door three times, then waits.",
             "kettle " * 400, "Ünïcödé café, naïve", ""]
    reference = SentenceTransformer(str(minilm.model_dir), device="cpu").encode(
        texts, convert_to_numpy=True, show_progress_bar=False, normalize_embeddings=True)
    ours = minilm.embed_texts(texts)
    np.testing.assert_allclose(ours, reference, atol=2e-6)
    assert minilm.embed_texts(texts[1:2]).tobytes() == ours[1:2].tobytes()


def test_minilm_needs_no_torch() -> None:
    """A build worker that retrieves clips by text never imports torch (~4 s each)."""
    import subprocess
    import sys

    code = ("import sys; from streamaudio.retrieve.embed import MiniLmEmbedder; "
            "MiniLmEmbedder().embed_texts(['a dog barking']); "
            "assert 'torch' not in sys.modules and 'transformers' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_clap_text_and_audio_share_a_normalised_space(clap: ClapEmbedder) -> None:
    text = clap.embed_texts(["a dog barks", "rain on a roof"])
    rng = np.random.default_rng(0)
    clips = [rng.standard_normal(n).astype(np.float32) * 0.1 for n in (4_000, 16_000, 40_000)]
    audio = clap.embed_audio(clips, RATE)
    assert text.shape == (2, CLAP_DIM) and audio.shape == (3, CLAP_DIM)
    assert text.dtype == audio.dtype == np.float32
    assert _unit_rows(text) and _unit_rows(audio)
    assert clap.sample_rate == 48_000 and clap.dim == CLAP_DIM
    assert isinstance(clap, AudioTextEmbedder)
    assert clap.embed_texts([]).shape == clap.embed_audio([], RATE).shape == (0, CLAP_DIM)


def test_clap_audio_vector_does_not_depend_on_batch_or_call(clap: ClapEmbedder) -> None:
    rng = np.random.default_rng(1)
    long_clip = rng.standard_normal(3 * RATE).astype(np.float32)  # longer than 1 s: cropped
    other = rng.standard_normal(RATE // 2).astype(np.float32)
    alone = clap.embed_audio([long_clip], RATE)
    batched = clap.embed_audio([other, long_clip], RATE)
    np.testing.assert_allclose(batched[1], alone[0], atol=1e-5)
    np.testing.assert_allclose(clap.embed_audio([long_clip], RATE), alone, atol=1e-6)


def test_loudest_window_picks_the_loud_part() -> None:
    audio = np.zeros(1000, dtype=np.float32)
    audio[600:700] = 1.0
    window = loudest_window(audio, 200)
    assert window.size == 200 and window.sum() == 100
    assert loudest_window(audio[:150], 200).size == 150


def test_clap_name_follows_the_model(tmp_path: Path) -> None:
    first = ClapEmbedder(write_tiny_clap(tmp_path / "a"))
    again = ClapEmbedder(tmp_path / "a")
    assert first.name == again.name and first.name.startswith("clap-")
    with pytest.raises(FileNotFoundError):
        ClapEmbedder(tmp_path / "missing")


def test_make_embedder_needs_a_clap_directory() -> None:
    assert isinstance(make_embedder("minilm"), MiniLmEmbedder)
    with pytest.raises(ValueError, match="clap_model_dir"):
        make_embedder("clap")


def test_clap_index_holds_audio_and_answers_text(
    clap: ClapEmbedder, world: Path, world_config: Config, tmp_path: Path
) -> None:
    catalog = load_catalogs(world)
    index = ClipIndex.load_or_build(catalog, clap, tmp_path / "index", world_config)
    assert len(index) == len(catalog) and index.index.d == CLAP_DIM
    stored = index.index.reconstruct_n(0, len(index))
    assert _unit_rows(stored)
    # The stored vector is the clip's audio embedding, not its caption's.
    entry = catalog.by_id(index.clip_ids[0])
    clip = load_clip(entry, world_config)
    assert isinstance(clip, LoadedClip)
    np.testing.assert_allclose(stored[0], clap.embed_audio([clip.audio], RATE)[0], atol=1e-5)
    assert not np.allclose(stored[0], clap.embed_texts([entry.caption])[0], atol=1e-3)
    found = index.search("a dog barking", 3)
    assert [c.rank for c in found] == [1, 2, 3]
    assert all(-1.0 <= c.score <= 1.0 and c.clip_id in catalog for c in found)
    assert (tmp_path / "index").is_dir() and len(list((tmp_path / "index").iterdir())) == 2
