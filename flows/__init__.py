"""Prefect flows around the StreamAudio library: the library never imports Prefect."""
