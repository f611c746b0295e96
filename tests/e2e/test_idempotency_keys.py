"""A POST retried with its Idempotency-Key, after a lost response or many times at once, creates once."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

from tests.e2e.support import TEST_YEAR, Api, MovieJanitor, StackUnderTest, Tokens, assert_problem, new_movie_title

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]

Post = Callable[[dict[str, Any], dict[str, str]], requests.Response]


@pytest.fixture
def post_whose_response_is_lost(stack: StackUnderTest, api: Api, tokens: Tokens) -> Iterator[Post]:
    """A POST /movies that reaches the API, whose response the client never gets (it sees a 500 instead).

    Locally through the project's fault proxy, which forwards the request and answers 500 itself; on AWS
    (TLS end to end, no proxy) the test discards the response: the API cannot tell the difference.
    """
    if stack.on_aws:

        def discard(body: dict[str, Any], headers: dict[str, str]) -> requests.Response:
            api.call("POST", "/movies", token=tokens.full, json=body, headers=headers)
            return requests.Response()

        yield discard
        return
    from tests.reliability.fault_proxy import FaultProxy

    with FaultProxy(stack.api_url) as proxy:
        lossy = Api(proxy.endpoint + urlsplit(stack.api_url).path)

        def lose(body: dict[str, Any], headers: dict[str, str]) -> requests.Response:
            proxy.inject("lose-response")
            return lossy.call("POST", "/movies", token=tokens.full, json=body, headers=headers)

        yield lose
        lossy.close()


def test_a_post_retried_after_its_response_was_lost_gets_the_original_201_and_creates_once(
    api: Api, tokens: Tokens, movies: MovieJanitor, post_whose_response_is_lost: Post
) -> None:
    title = new_movie_title("lost response")
    movies.register(TEST_YEAR, title)
    body = {"year": TEST_YEAR, "title": title, "info": {"rating": 6.5}}
    key = {"Idempotency-Key": f'"{uuid.uuid4()}"'}

    lost = post_whose_response_is_lost(body, key)
    assert lost.status_code != 201  # the client does not know whether the movie was created

    retry = api.call("POST", "/movies", token=tokens.full, json=body, headers=key)
    assert retry.status_code == 201, retry.text[:300]
    assert retry.headers["Idempotent-Replayed"] == "true"  # the create ran once, before the loss
    read = api.follow(retry.headers["Location"], token=tokens.full)
    assert (read.headers["ETag"], read.json()) == (retry.headers["ETag"], retry.json())
    assert {name: retry.json()[name] for name in body} == body
    assert_problem(api.call("POST", "/movies", token=tokens.full, json=body), 409, "movie-already-exists")


def test_concurrent_retries_create_once_and_each_gets_the_original_or_409(
    api: Api, tokens: Tokens, movies: MovieJanitor
) -> None:
    title = new_movie_title("concurrent retries")
    movies.register(TEST_YEAR, title)
    body = {"year": TEST_YEAR, "title": title, "info": {"rating": 6.5}}
    key = {"Idempotency-Key": f'"{uuid.uuid4()}"'}

    def send(_: int) -> requests.Response:
        client = Api(api.base_url)  # a connection of its own per caller
        try:
            return client.call("POST", "/movies", token=tokens.full, json=body, headers=key)
        finally:
            client.close()

    with ThreadPoolExecutor(max_workers=4) as pool:
        responses = list(pool.map(send, range(4)))

    created = [r for r in responses if r.status_code == 201]
    assert len([r for r in created if "Idempotent-Replayed" not in r.headers]) == 1, [r.text for r in responses]
    assert len({r.headers["ETag"] for r in created}) == 1
    for response in responses:
        if response.status_code != 201:
            assert_problem(response, 409, "idempotency-key-in-progress")
