"""Lambda SnapStart runtime hooks (python3.13 supports SnapStart on published versions).

Before the snapshot, do the work that every container would otherwise repeat on its first
requests (building the request models' validators), so restored environments start warm.
After a restore, re-seed what must differ per environment: ``random`` (Powertools' debug-log
sampling draws from it). Nothing else here holds per-environment state: write ids come from
``uuid4`` (the OS's randomness, read at call time) and no DynamoDB connection is opened before
the snapshot, so none is shared or stale after it.

``snapshot_restore_py`` ships with the Lambda runtime; elsewhere (tests, local) nothing is registered.
"""

from __future__ import annotations

import random
from typing import Any

__all__ = ["register_hooks", "warm_up"]


def warm_up() -> None:
    """Build the validators that ``defer_build`` postpones to first use."""
    from mvdb.domain.models import MovieCreate, MovieInfo, MoviePatch, MovieReplace

    sample: dict[str, Any] = {"year": 2013, "title": "Rush", "info": {"rating": 8.3, "genres": ["Drama"]}}
    MovieCreate.model_validate(sample)
    MovieReplace.model_validate({"info": sample["info"]})
    MovieInfo.model_validate(sample["info"])
    MoviePatch.model_validate({"info": {"rating": None}})


def reseed() -> None:
    random.seed()


def register_hooks() -> bool:
    """Register the hooks with the runtime; False where there is no SnapStart runtime."""
    try:
        from snapshot_restore_py import register_after_restore, register_before_snapshot
    except ImportError:
        return False
    register_before_snapshot(warm_up)
    register_after_restore(reseed)
    return True
