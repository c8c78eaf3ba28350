"""The procedural synth: every recipe is checked for the property that makes it
that sound (measured on the output), for determinism, and for refusing captions
it cannot make."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy import signal, stats

from streamaudio.config import Config
from streamaudio.generate.synth import (
    _RECIPE_FUNCS,
    DOORBELL_PAIRS,
    RECIPES,
    SynthGenerator,
    classify_prompt,
    requested_count,
)
from streamaudio.generate.types import GenerationError

RATE = 16_000
GEN = SynthGenerator(Config())


def make(prompt: str, seconds: float = 6.0, seed: int = 0) -> np.ndarray:
    audio = GEN.generate(prompt, seconds, seed)
    assert audio.dtype == np.float32 and audio.ndim == 1
    assert audio.size == round(seconds * RATE) and np.isfinite(audio).all()
    return audio.astype(np.float64)


def envelope(audio: np.ndarray, frame: int = 80) -> np.ndarray:
    """RMS per 5 ms frame."""
    usable = audio[: audio.size // frame * frame].reshape(-1, frame)
    return np.sqrt(np.mean(usable**2, axis=1))


def runs(audio: np.ndarray, threshold_db: float = -12.0) -> list[tuple[float, float]]:
    """(start_s, end_s) of the stretches louder than the threshold (relative to the
    peak), in 10 ms frames; dips under 60 ms (beating partials) do not split a run."""
    env = envelope(audio, 160)
    loud = np.concatenate([[False], env > env.max() * 10 ** (threshold_db / 20), [False]])
    edges = np.flatnonzero(np.diff(loud.astype(int))) * 160 / RATE
    merged: list[list[float]] = []
    for start, end in zip(edges[::2], edges[1::2], strict=True):
        if merged and start - merged[-1][1] < 0.06:
            merged[-1][1] = end
        else:
            merged.append([start, end])
    return [(start, end) for start, end in merged]


def hits(audio: np.ndarray, rise: float = 4.0) -> list[float]:
    """Onset times of impacts: a 5 ms frame `rise` times louder than the quietest of
    the previous 20 ms and within 20 dB of the peak; onsets within 60 ms are one hit."""
    env = envelope(audio) + 1e-9
    before = np.minimum.reduce([np.roll(env, k) for k in range(1, 5)])
    rising = np.flatnonzero((env > rise * before) & (env > 0.1 * env.max()))
    times: list[float] = []
    for frame in rising[rising >= 4]:
        if not times or frame * 80 / RATE - times[-1] > 0.06:
            times.append(frame * 80 / RATE)
    return times


def peak_hz(audio: np.ndarray, low: float = 20.0, high: float = 8000.0) -> float:
    spectrum = np.abs(np.fft.rfft(audio * np.hanning(audio.size)))
    freqs = np.fft.rfftfreq(audio.size, 1 / RATE)
    band = (freqs >= low) & (freqs <= high)
    return float(freqs[band][np.argmax(spectrum[band])])


def spectral_slope(audio: np.ndarray) -> float:
    """Slope of log power against log frequency over 50 Hz - 4 kHz."""
    freqs, power = signal.welch(audio, RATE, nperseg=4096)
    band = (freqs >= 50) & (freqs <= 4000)
    return float(np.polyfit(np.log10(freqs[band]), np.log10(power[band]), 1)[0])


@pytest.mark.parametrize(
    ("prompt", "recipe"),
    [
        ("A smoke alarm beeping in the hallway", "smoke_alarm"),
        ("fire alarm going off", "smoke_alarm"),
        ("an alarm sounds", "smoke_alarm"),
        ("the microwave beeps", "beeps"),
        ("a digital alarm clock", "beeps"),
        ("kitchen timer", "beeps"),
        ("a phone ringing on the desk", "phone_ring"),
        ("the doorbell rings", "doorbell"),
        ("ding-dong at the front door", "doorbell"),
        ("someone knocking on the door", "knock"),
        ("a mouse click", "click"),
        ("a clock ticking", "click"),
        ("electrical hum", "hum"),
        ("a transformer buzzing", "hum"),
        ("the fridge hums", "fridge"),
        ("a ceiling fan", "fan"),
        ("an ambulance siren passing", "siren"),
        ("radio static", "white_noise"),
        ("pink noise", "pink_noise"),
        ("brown noise", "brown_noise"),
        ("wind blowing through the trees", "wind"),
        ("steady rain on the roof", "rain"),
    ],
)
def test_captions_map_to_recipes(prompt: str, recipe: str) -> None:
    assert classify_prompt(prompt) == recipe


@pytest.mark.parametrize(
    "prompt",
    [
        "a dog barking",
        "church bells ringing",  # "ring" alone would make a telephone
        "people talking while the phone rings",  # half the caption is not a sound we make
        "a man humming a tune",
        "wind chimes on the porch",
        "fans cheering in a stadium",
        "a rainforest at dawn",
        "glass breaking",
    ],
)
def test_captions_it_cannot_make_are_refused(prompt: str) -> None:
    assert classify_prompt(prompt) is None
    with pytest.raises(GenerationError, match="synth cannot make") as info:
        GEN.generate(prompt, 2.0, 0)
    assert info.value.reason == "unsupported_prompt"


def test_every_recipe_is_listed_and_sits_at_a_realistic_level() -> None:
    assert set(_RECIPE_FUNCS) == set(RECIPES) == set(GEN.recipes())
    prompts = {"beeps": "beep", "phone_ring": "phone", "knock": "knock", "click": "click",
               "smoke_alarm": "smoke alarm", "doorbell": "doorbell", "hum": "hum",
               "fridge": "fridge", "fan": "fan", "siren": "siren", "white_noise": "hiss",
               "pink_noise": "pink noise", "brown_noise": "brown noise", "wind": "wind",
               "rain": "rain"}  # fmt: skip
    for recipe, prompt in prompts.items():
        assert classify_prompt(prompt) == recipe
        peak = float(np.max(np.abs(make(prompt, 3.0))))
        assert 0.45 <= peak <= 0.55, recipe


def test_smoke_alarm_is_a_3khz_temporal_three_pattern() -> None:
    audio = make("smoke alarm", 8.0)
    assert 3050 <= peak_hz(audio) <= 3150
    beeps = runs(audio)
    assert len(beeps) == 6  # two T3 cycles
    assert all(abs((end - start) - 0.5) < 0.03 for start, end in beeps)
    gaps = [b[0] - a[1] for a, b in itertools.pairwise(beeps)]
    assert np.allclose(gaps, [0.5, 0.5, 1.5, 0.5, 0.5], atol=0.04)


def test_microwave_beeps_the_number_asked_for_at_a_beep_pitch() -> None:
    audio = make("the microwave beeps three times", 3.0)
    assert len(runs(audio)) == 3
    assert 1800 <= peak_hz(audio) <= 2800
    assert len(runs(make("five beeps", 3.0))) == 5
    timer = runs(make("a kitchen timer going off", 3.0))
    assert len(timer) == 12  # bursts of four, once a second


def test_phone_rings_two_seconds_on_four_off() -> None:
    audio = make("telephone ringing", 14.5)
    rings = runs(audio)
    assert len(rings) == 3
    assert all(abs((end - start) - 2.0) < 0.05 for start, end in rings)
    assert np.allclose(np.diff([start for start, _ in rings]), 6.0, atol=0.03)
    spectrum = np.abs(np.fft.rfft(audio))
    freqs = np.fft.rfftfreq(audio.size, 1 / RATE)
    top_two = sorted(freqs[np.argsort(spectrum)[-2:]])
    assert np.allclose(top_two, [440.0, 480.0], atol=1.0)


def test_a_short_phone_clip_keeps_the_cadence_scaled() -> None:
    rings = runs(make("phone ringing", 3.0))
    assert len(rings) == 1 and abs((rings[0][1] - rings[0][0]) - 1.0) < 0.05


def test_doorbell_strikes_two_pitches_a_major_third_apart() -> None:
    for seed in range(3):
        audio = make("doorbell", 3.0, seed)
        strikes = hits(audio, rise=1.6)  # the dong sounds over the ringing ding
        assert len(strikes) == 2 and 0.45 < strikes[1] - strikes[0] < 0.75
        ding = audio[int((strikes[0] + 0.02) * RATE) : int((strikes[1] - 0.02) * RATE)]
        high = peak_hz(ding, 300, 1000)
        dong = audio[int((strikes[1] + 0.02) * RATE) : int((strikes[1] + 0.5) * RATE)]
        spectrum = np.abs(np.fft.rfft(dong * np.hanning(dong.size)))
        freqs = np.fft.rfftfreq(dong.size, 1 / RATE)
        band = (freqs >= 300) & (freqs <= 1000) & (np.abs(freqs - high) > 40)
        low = float(freqs[band][np.argmax(spectrum[band])])
        assert any(abs(high - h) < 5 and abs(low - lo) < 5 for h, lo in DOORBELL_PAIRS)


@pytest.mark.parametrize(("hz", "prompt"), [(50, "mains hum at 50 Hz"), (60, "60hz hum")])
def test_hum_fundamental_is_mains(hz: int, prompt: str) -> None:
    assert abs(peak_hz(make(prompt, 4.0)) - hz) < 0.5


def test_hum_without_a_frequency_is_50_or_60_and_buzz_is_brighter() -> None:
    found = {round(peak_hz(make("a humming noise", 2.0, seed))) for seed in range(6)}
    assert found <= {50, 60} and found
    hum, buzz = make("hum 50 Hz", 2.0), make("buzzing 50 Hz", 2.0)

    def bright(audio: np.ndarray) -> float:
        power = np.abs(np.fft.rfft(audio)) ** 2
        return power[np.fft.rfftfreq(audio.size, 1 / RATE) > 500].sum() / power.sum()

    assert bright(buzz) > 10 * bright(hum)


@pytest.mark.parametrize(
    ("prompt", "count"), [("three knocks on the door", 3), ("knocking twice", 2), ("4 knocks", 4)]
)
def test_knocks_come_in_the_number_asked_for(prompt: str, count: int) -> None:
    assert requested_count(prompt) == count
    assert len(hits(make(prompt, 2.0))) == count


def test_knocks_default_to_two_to_four_resonant_hits() -> None:
    counts = {len(hits(make("a knock at the door", 2.0, seed))) for seed in range(8)}
    assert counts <= {2, 3, 4} and len(counts) >= 2
    assert 80 <= peak_hz(make("knock", 2.0), 20, 4000) <= 300  # a wooden body, not a click


def test_clicks_are_short_bright_and_counted() -> None:
    audio = make("a switch clicks 3 times", 2.0)
    assert len(hits(audio)) == 3
    assert all(end - start < 0.03 for start, end in runs(audio))
    assert peak_hz(audio) > 1000


def test_siren_sweeps_and_yelp_is_faster_than_wail() -> None:
    def track(audio: np.ndarray) -> np.ndarray:
        freqs, _, power = signal.spectrogram(audio, RATE, nperseg=1024, noverlap=768)
        band = (freqs > 400) & (freqs < 2000)
        return freqs[band][np.argmax(power[band], axis=0)]

    wail, yelp = track(make("siren wail", 8.0)), track(make("siren yelp", 8.0))
    for sweep in (wail, yelp):
        assert sweep.min() < 750 and sweep.max() > 1350
    crossings = [np.count_nonzero(np.diff(np.sign(s - np.median(s)))) for s in (wail, yelp)]
    assert crossings[0] <= 8 < 30 <= crossings[1]


@pytest.mark.parametrize(
    ("prompt", "slope"), [("white noise", 0.0), ("pink noise", -1.0), ("brown noise", -2.0)]
)
def test_noise_colours_have_their_spectral_slopes(prompt: str, slope: float) -> None:
    assert abs(spectral_slope(make(prompt, 4.0)) - slope) < 0.15


def test_wind_gusts_are_low_and_uneven_and_rain_is_bright_and_impulsive() -> None:
    for seed in range(3):
        wind = make("wind", 6.0, seed)
        env = envelope(wind, 4000)
        assert env.max() / env.min() > 1.4  # gusts
        assert abs(spectral_slope(wind)) > 1.5  # dark
        rain = make("rain", 6.0, seed)
        assert stats.kurtosis(rain) > 1.5 > abs(stats.kurtosis(make("white noise", 6.0, seed)))
        assert spectral_slope(rain) > -0.8  # drops and hiss: bright


@pytest.mark.parametrize("prompt", ["smoke alarm", "knock", "rain", "siren", "doorbell"])
def test_same_inputs_same_bytes_other_seed_differs(prompt: str) -> None:
    first = GEN.generate(prompt, 2.0, 7)
    assert first.tobytes() == GEN.generate(prompt, 2.0, 7).tobytes()
    assert first.tobytes() != GEN.generate(prompt, 2.0, 8).tobytes()
    assert GEN.generate(prompt, 2.5, 7).size == 40_000


def test_bad_duration_is_a_programming_error() -> None:
    with pytest.raises(ValueError):
        GEN.generate("smoke alarm", 0.0, 0)
