"""pytest fixtures: the propwatch binary, taps that are always stopped, and the
tap's stderr attached to every failure report."""
from __future__ import annotations

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))
from harness import Tap  # noqa: E402

# The SDKs read OTEL_* (service name, exporter endpoint, sampler) and proxies
# from the environment; the scenarios must depend on none of it.
for _k in list(os.environ):
    if _k.startswith("OTEL_") or _k.lower() in ("http_proxy", "https_proxy", "all_proxy", "grpc_proxy"):
        del os.environ[_k]
os.environ["NO_PROXY"] = os.environ["no_proxy"] = "127.0.0.1,localhost"
# requests lets these override an exporter's own certificate_file (it merges
# the environment over the session's verify setting): the TLS tests name
# their CA explicitly.
for _k in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
    os.environ.pop(_k, None)


def pytest_addoption(parser):
    parser.addoption("--propwatch", default=os.environ.get("PROPWATCH_BIN", ""),
                     help="path to the propwatch binary (default: $PROPWATCH_BIN)")


@pytest.fixture(scope="session")
def propwatch_bin(request) -> str:
    path = request.config.getoption("--propwatch")
    if not path or not os.access(path, os.X_OK):
        pytest.fail(f"propwatch binary not found or not executable: {path!r} "
                    "(pass --propwatch=PATH or set PROPWATCH_BIN)")
    return path


class TapFactory:
    def __init__(self, binary: str, workdir: str):
        self.binary, self.workdir, self.taps = binary, workdir, []
        self.active = True

    def __call__(self, *flags: str, name: str = "tap") -> Tap:
        tap = Tap(self.binary, self.workdir, *flags, name=name)
        self.taps.append(tap)
        return tap.start()

    def stop_all(self):
        self.active = False
        for tap in self.taps:
            tap.stop()


_ALL_FACTORIES = []


def _factory(request, tmp_path_factory, propwatch_bin):
    f = TapFactory(propwatch_bin, str(tmp_path_factory.mktemp("propwatch")))
    _ALL_FACTORIES.append(f)
    request.addfinalizer(f.stop_all)
    return f


@pytest.fixture
def taps(request, tmp_path_factory, propwatch_bin) -> TapFactory:
    """Starts taps for one test; all are stopped at teardown, also on failure."""
    return _factory(request, tmp_path_factory, propwatch_bin)


@pytest.fixture(scope="module")
def module_taps(request, tmp_path_factory, propwatch_bin) -> TapFactory:
    return _factory(request, tmp_path_factory, propwatch_bin)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.failed:
        # Every tap the failing test could see: its own and the module's.
        for f in _ALL_FACTORIES:
            for tap in f.taps if f.active else []:
                if tap.proc is None or (tap.stopped and not tap.alive() and tap.proc.returncode == 0):
                    continue
                state = "running" if tap.alive() else f"exited {tap.proc.returncode}"
                report.sections.append(
                    (f"propwatch[{tap.name}] pid {tap.proc.pid} ({state}) stderr",
                     tap.stderr()[-20000:]))


def pytest_sessionfinish(session, exitstatus):
    for f in _ALL_FACTORIES:
        f.stop_all()
