"""Dependabot proposes updates for every ecosystem the project pins, weekly and grouped."""

from __future__ import annotations

from typing import Any


def test_every_pinned_ecosystem_is_updated_weekly_in_one_grouped_pull_request(dependabot: dict[str, Any]) -> None:
    updates = {update["package-ecosystem"]: update for update in dependabot["updates"]}
    assert set(updates) == {"pip", "npm", "github-actions"}
    for ecosystem, update in updates.items():
        assert update["schedule"]["interval"] == "weekly", ecosystem
        assert [group["patterns"] for group in update["groups"].values()] == [["*"]], ecosystem


def test_python_updates_cover_the_lock_files(dependabot: dict[str, Any]) -> None:
    pip = next(update for update in dependabot["updates"] if update["package-ecosystem"] == "pip")
    assert "/requirements" in pip["directories"]


def test_new_releases_wait_a_week_before_they_are_proposed(dependabot: dict[str, Any]) -> None:
    for update in dependabot["updates"]:
        assert update["cooldown"]["default-days"] >= 7, update["package-ecosystem"]
