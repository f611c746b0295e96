"""The local user pool keeps its secrets and key across restarts, in files only their owner can read."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import jwt
import pytest

from mvdb_local.cognito import CLIENTS_FILE, MACHINE_CLIENT_ID, SIGNING_KEY_FILE, USER_POOL_ID, LocalCognito
from mvdb_local.private_files import UnsafeFileError, read_private_file, write_private_file

ISSUER = f"http://127.0.0.1:8000/{USER_POOL_ID}"
API_URL = "http://127.0.0.1:8000"


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(scope="module")
def saved_state(tmp_path_factory: pytest.TempPathFactory) -> Path:
    state = tmp_path_factory.mktemp("state")
    LocalCognito.from_state(state, ISSUER).save(state, api_url=API_URL, token_url=f"{API_URL}/oauth2/token")
    return state


def _copy(state: Path, tmp_path: Path) -> Path:
    for name in (CLIENTS_FILE, SIGNING_KEY_FILE):
        write_private_file(tmp_path / name, (state / name).read_bytes())
    return tmp_path


# -- stable until rotated ---------------------------------------------------------------------------


def test_a_restart_keeps_the_client_secrets_and_the_signing_key(saved_state: Path) -> None:
    first = LocalCognito.from_state(saved_state, ISSUER)
    again = LocalCognito.from_state(saved_state, ISSUER)

    assert [c.client_secret for c in again.clients] == [c.client_secret for c in first.clients]
    assert again.jwks() == first.jwks()


def test_a_token_issued_before_a_restart_verifies_against_the_key_set_after_it(saved_state: Path) -> None:
    token = LocalCognito.from_state(saved_state, ISSUER).issue_token(MACHINE_CLIENT_ID)
    key_set = jwt.PyJWKSet.from_dict(LocalCognito.from_state(saved_state, ISSUER).jwks())

    key = key_set[jwt.get_unverified_header(token)["kid"]]
    assert jwt.decode(token, key.key, algorithms=["RS256"], issuer=ISSUER)["client_id"] == MACHINE_CLIENT_ID


def test_rotating_gives_new_secrets_and_a_new_key(saved_state: Path, tmp_path: Path) -> None:
    state = _copy(saved_state, tmp_path)
    before = LocalCognito.from_state(state, ISSUER)

    rotated = LocalCognito.from_state(state, ISSUER, rotate=True)

    assert not {c.client_secret for c in rotated.clients} & {c.client_secret for c in before.clients}
    assert rotated.jwks()["keys"][0]["kid"] != before.jwks()["keys"][0]["kid"]


def test_a_missing_state_directory_gives_new_secrets(tmp_path: Path) -> None:
    cognito = LocalCognito.from_state(tmp_path / "absent", ISSUER)
    assert all(len(client.client_secret) >= 32 for client in cognito.clients)


def test_the_key_set_holds_the_public_rs256_key_only(saved_state: Path) -> None:
    (key,) = LocalCognito.from_state(saved_state, ISSUER).jwks()["keys"]

    assert (key["kty"], key["alg"], key["use"]) == ("RSA", "RS256", "sig")
    assert not {"d", "p", "q", "dp", "dq", "qi"} & key.keys()  # no private member


def test_the_clients_file_names_the_urls_and_the_secrets(saved_state: Path) -> None:
    document = json.loads((saved_state / CLIENTS_FILE).read_text())

    assert document["token_url"] == f"{API_URL}/oauth2/token"
    assert document["jwks_url"] == f"{ISSUER}/.well-known/jwks.json"
    assert {c["client_id"] for c in document["clients"]} == {
        "mvdb-local-machine",
        "mvdb-local-readonly",
        "mvdb-local-auditor",
    }


# -- files only their owner reads -------------------------------------------------------------------


def test_state_files_are_readable_by_their_owner_only(saved_state: Path) -> None:
    assert _mode(saved_state / CLIENTS_FILE) == 0o600
    assert _mode(saved_state / SIGNING_KEY_FILE) == 0o600


def test_writing_narrows_an_existing_file_readable_by_others(tmp_path: Path) -> None:
    path = tmp_path / CLIENTS_FILE
    path.write_text("{}")
    path.chmod(0o644)

    write_private_file(path, b'{"clients": []}')

    assert _mode(path) == 0o600
    assert path.read_bytes() == b'{"clients": []}'


def test_reading_narrows_an_existing_file_readable_by_others(tmp_path: Path) -> None:
    path = tmp_path / CLIENTS_FILE
    path.write_text("{}")
    path.chmod(0o644)

    assert read_private_file(path) == b"{}"
    assert _mode(path) == 0o600


def test_writing_replaces_a_symlink_and_never_writes_through_it(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere.txt"
    target.write_text("not ours to change")
    link = tmp_path / CLIENTS_FILE
    link.symlink_to(target)

    write_private_file(link, b"secret")

    assert target.read_text() == "not ours to change"
    assert not link.is_symlink()
    assert (link.read_bytes(), _mode(link)) == (b"secret", 0o600)


def test_reading_refuses_a_symlink(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere.pem"
    target.write_text("planted")
    (tmp_path / SIGNING_KEY_FILE).symlink_to(target)

    with pytest.raises(UnsafeFileError, match="symlink"):
        LocalCognito.from_state(tmp_path, ISSUER)


def test_reading_a_missing_file_gives_none(tmp_path: Path) -> None:
    assert read_private_file(tmp_path / "absent") is None


def test_writing_leaves_no_temporary_file_behind(tmp_path: Path) -> None:
    write_private_file(tmp_path / CLIENTS_FILE, b"{}")
    assert [p.name for p in tmp_path.iterdir()] == [CLIENTS_FILE]
