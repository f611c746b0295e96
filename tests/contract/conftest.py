"""A local stack of its own for contract fuzzing: the fuzzer writes arbitrary movies, which no
other suite's data (nor a deployed table) should receive."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from mvdb_local.process import RunningStack, run_local_stack


# One stack for the module, stopped when its tests end: its tests are one xdist group (on one worker),
# and a stack kept to the end of the session polled its stream for minutes after the last request.
@pytest.fixture(scope="module")
def fuzz_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    with run_local_stack(tmp_path_factory.mktemp("fuzz-stack")) as running:
        yield running
