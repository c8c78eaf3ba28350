"""The corpus layout: regen staging directories go only while no regen holds the
lock, and the lock refuses a second holder."""

from __future__ import annotations

from pathlib import Path

import pytest

from streamaudio.shards.layout import STAGING_PREFIX, corpus_lock, remove_stale_staging
from streamaudio.stage import StageError


def test_staging_is_kept_while_locked_and_removed_after(tmp_path: Path) -> None:
    stale = tmp_path / f"{STAGING_PREFIX}424242"
    (stale / "proactive_response").mkdir(parents=True)
    (tmp_path / f"{STAGING_PREFIX}file").write_text("not a staging directory")
    with corpus_lock(tmp_path):
        assert remove_stale_staging(tmp_path) == []
        with pytest.raises(StageError, match="another regen is running"), corpus_lock(tmp_path):
            pass
    assert stale.exists()
    assert remove_stale_staging(tmp_path) == [stale] and not stale.exists()
    assert (tmp_path / f"{STAGING_PREFIX}file").exists()
    assert remove_stale_staging(tmp_path / "absent") == []
