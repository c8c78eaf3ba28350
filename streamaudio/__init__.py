"""StreamAudio: streaming-native training corpora for always-on audio-language models."""

__version__ = "0.1.0"
