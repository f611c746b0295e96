"""``python -m mvdb_local`` (``make run PORT=... DYNAMODB_PORT=...``) refuses ports it cannot use, saying why,
before it starts anything; the data directory's copy of the seed is whole or absent; an ended stream
poller is named with how it ended (the stack's stopping is tests/integration/test_local_stack_supervision.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mvdb_local.__main__ import _how_it_ended, copy_seed, main


def refusal(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    with pytest.raises(SystemExit) as exit_:
        main(list(args))
    assert exit_.value.code == 2
    return capsys.readouterr().err


@pytest.mark.parametrize("port", ["0", "65536", "99999", "-1", "http"])
@pytest.mark.parametrize("option", ["--port", "--dynamodb-port"])
def test_a_port_outside_1_to_65535_is_refused_by_name(
    option: str, port: str, capsys: pytest.CaptureFixture[str]
) -> None:
    err = refusal(capsys, option, port)

    assert f"argument {option}: " in err
    assert "1-65535" in err
    assert "Traceback" not in err


def test_the_same_port_for_the_api_and_dynamodb_local_is_refused_as_a_clash_of_the_two(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Not "already in use: is mvdb already running?": nothing runs; the two asked for one port.
    err = refusal(capsys, "--port", "8000", "--dynamodb-port", "8000")

    assert "the API and DynamoDB Local cannot share port 8000" in err
    assert "make run PORT=8000 DYNAMODB_PORT=8001" in err
    assert "already in use" not in err


def test_a_seed_copy_cut_short_leaves_no_database_for_the_next_start_to_trust(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed, data_dir = tmp_path / "seed", tmp_path / "data"
    seed.mkdir()
    (seed / "shared-local-instance.db").write_bytes(b"x" * 4096)

    def copy_half_then_ctrl_c(source: Path, destination: Path) -> None:
        Path(destination).write_bytes(Path(source).read_bytes()[:100])
        raise KeyboardInterrupt

    monkeypatch.setattr("shutil.copy2", copy_half_then_ctrl_c)
    with pytest.raises(KeyboardInterrupt):
        copy_seed(seed, data_dir)

    assert list(data_dir.iterdir()) == []


def test_a_seed_copy_holds_the_seeds_database(tmp_path: Path) -> None:
    seed, data_dir = tmp_path / "seed", tmp_path / "data"
    seed.mkdir()
    (seed / "shared-local-instance.db").write_bytes(b"database")

    copy_seed(seed, data_dir)

    assert [p.name for p in data_dir.iterdir()] == ["shared-local-instance.db"]
    assert (data_dir / "shared-local-instance.db").read_bytes() == b"database"


@pytest.mark.parametrize(
    ("returncode", "said"),
    [
        (0, "it was stopped: exit status 0"),  # asked to stop (SIGINT or SIGTERM to it alone): not a crash
        (-9, "killed by SIGKILL"),
        (1, "it failed: exit status 1; its output is above"),
    ],
)
def test_an_ended_poller_is_named_with_how_it_ended(returncode: int, said: str) -> None:
    assert _how_it_ended(returncode) == said
