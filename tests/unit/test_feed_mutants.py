"""The feed file (local/feed.py) at the edge a mutation run found (issue 18): its missing folders."""

from __future__ import annotations

from pathlib import Path

from local.feed import read_feed, write_feed


def test_writing_a_feed_creates_every_missing_folder_of_its_path(tmp_path: Path) -> None:
    path = tmp_path / "runs" / "today" / "feed.jsonl"
    assert write_feed(path, ['{"symbol":"A"}', "[]"]) == 2
    assert list(read_feed(path)) == ['{"symbol":"A"}', "[]"]
