"""The Octavia API functional suite: fixtures and the summary line CI reads.

One world (every component, see world.py) serves the whole session; each
scenario makes its own load balancers on its own VIP, so scenarios do not
depend on each other. A scenario that stops a component starts it again
before it ends.

Run: ``python -m pytest -q python/octavia_api_tests`` from the venv that has
``./python[octavia-api-test]`` installed (see .ci/run).
"""

import itertools

import pytest

from octavia_client import OctaviaApi
from world import World

_vips = itertools.count(10)


@pytest.fixture(scope="session")
def world():
    w = World()
    w.failed = False
    try:
        w.start()
        yield w
    finally:
        keep = w.failed
        w.close(keep=keep)
        if keep:
            print(f"\noctavia_api_tests: logs of the failed run kept in {w.work}")


@pytest.fixture(scope="session")
def api(world):
    return OctaviaApi(world.api_url)


@pytest.fixture
def vip():
    """A loopback VIP of its own for each scenario."""
    return f"127.0.1.{next(_vips)}"


def pytest_runtest_makereport(item, call):
    if call.excinfo is not None and "world" in item.funcargs:
        item.funcargs["world"].failed = True


def pytest_terminal_summary(terminalreporter):
    stats = terminalreporter.stats
    passed = len(stats.get("passed", []))
    failed = len(stats.get("failed", [])) + len(stats.get("error", []))
    terminalreporter.write_line(f"octavia_api: {passed} passed, {failed} failed")
