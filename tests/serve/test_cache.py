"""The page cache of ``journal serve`` keeps an answer only for the head it was made at."""

from __future__ import annotations

from journal.cli.web.cache import PageCache


def test_an_answer_is_kept_for_its_head_only() -> None:
    """A kept answer is returned at its own head and never once the head moved."""
    cache = PageCache()
    cache.put("/api/page/runs?", 10, b"at ten")
    assert cache.get("/api/page/runs?", 10) == b"at ten"
    assert cache.get("/api/page/runs?", 11) is None
    assert cache.get("/api/page/runs?status=ended", 10) is None


def test_an_old_answer_expires() -> None:
    """With no time to live, an answer is never served again (a status moves with the clock)."""
    cache = PageCache(ttl=-1.0)
    cache.put("k", 1, b"x")
    assert cache.get("k", 1) is None
