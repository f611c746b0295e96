"""A local stack of its own for contract fuzzing: the fuzzer writes arbitrary movies, which no
other suite's data (nor a deployed table) should receive."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from mvdb_local.process import RunningStack, run_local_stack


@pytest.fixture(scope="session")
def fuzz_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    with run_local_stack(tmp_path_factory.mktemp("fuzz-stack")) as running:
        yield running
