"""Speech: offline TTS backends, a CosyVoice client, the ASR round trip."""
