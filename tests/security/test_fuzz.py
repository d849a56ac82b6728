"""Coverage-guided fuzzing (atheris) of the age header parser and the WebSocket frame
parser, bounded by a number of inputs and a fixed seed so the run is the same every time.
The targets and their contracts live in bench/fuzz.py, which also runs them for longer.

Each run is a child process: libFuzzer ends the process it runs in.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from bench.fuzz import TARGETS
from tests.live.servers import ROOT

RUNS = 20_000


@pytest.mark.parametrize("target", sorted(TARGETS))
def test_fuzzing_the_parser_finds_no_input_that_breaks_its_contract(target: str) -> None:
    child = subprocess.run(
        [sys.executable, "-m", "bench.fuzz", "--target", target, "--runs", str(RUNS),
         "--seed", "1"],
        cwd=ROOT, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert child.returncode == 0, child.stderr[-4000:]
    assert f"Done {RUNS} runs" in child.stderr, child.stderr[-4000:]
