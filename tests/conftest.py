"""Shared test setup: every test runs as a fresh user with no tokens, no colour, no git config."""

from __future__ import annotations

import faulthandler
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from smx.cli.main import app

# A test pytest-timeout cannot stop (its SIGALRM interrupts only the main thread's wait) ends
# the whole run this long after it started, with every thread's stack: a hang costs minutes
# and names itself, instead of running CI into its own limit with nothing said.
HARD_LIMIT_S = 420
_real_stderr: int | None = None

# What smx's disk checks (install, doctor) see unless a test plays a full disk: results must not
# depend on how full this machine is (CI runs where the session left its files).
PLENTY_OF_DISK = str(500 * 1000**3)

SECRET_VARS = ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "CIVITAI_API_TOKEN", "SMX_ENV",
               "HF_ENDPOINT", "SMX_CIVITAI_ENDPOINT", "SMX_TORCH_INDEX")


def pytest_configure(config: pytest.Config) -> None:
    global _real_stderr
    _real_stderr = os.dup(2)  # capture is suspended here: this is the terminal (or CI's log)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item) -> Iterator[None]:
    if _real_stderr is not None:
        faulthandler.dump_traceback_later(HARD_LIMIT_S, exit=True, file=_real_stderr)
    try:
        yield
    finally:
        faulthandler.cancel_dump_traceback_later()


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """A failure is told when it happens, not only in the summary: a run cut short (CI's time
    limit, the hard limit above) still says what failed and why."""
    if not report.failed or _real_stderr is None:
        return
    text = f"\n--- {report.when} of {report.nodeid} failed ---\n{report.longreprtext}\n"
    os.write(_real_stderr, text.encode("utf-8", "replace"))


@pytest.fixture(autouse=True)
def isolated_user(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
                  ) -> Path:
    home = tmp_path_factory.mktemp("home")
    for var in SECRET_VARS:
        monkeypatch.delenv(var, raising=False)
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy",
                "all_proxy"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("SMX_CONFIG_DIR", str(home / "config"))
    monkeypatch.setenv("SMX_CACHE_DIR", str(home / "cache"))
    monkeypatch.setenv("SMX_DOCTOR_FAKE_FREE_BYTES", PLENTY_OF_DISK)
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("COLUMNS", "120")
    gitconfig = home / "gitconfig"
    gitconfig.write_text("[user]\n\tname = smx tests\n\temail = tests@example.invalid\n"
                         "[init]\n\tdefaultBranch = main\n[protocol \"file\"]\n\tallow = always\n")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(gitconfig))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GIT_TERMINAL_PROMPT", "0")
    return home


@dataclass
class Result:
    exit_code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


@pytest.fixture
def smx(monkeypatch: pytest.MonkeyPatch) -> Callable[..., Result]:
    """Run smx in-process, as a user would type it: ``smx("--env", str(env), "status")``."""

    def run(*args: str, cwd: Path | None = None, input: str | None = None) -> Result:
        runner = CliRunner()
        if cwd is not None:
            monkeypatch.chdir(cwd)
        result = runner.invoke(app, list(args), input=input, catch_exceptions=False)
        return Result(result.exit_code, result.stdout, result.stderr)

    return run


@pytest.fixture
def smx_process() -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run smx as a real process (for exec, signals and start-up behaviour)."""

    def run(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None,
            timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "smx", *args], cwd=cwd,
                              env={**os.environ, **(env or {})}, capture_output=True,
                              text=True, timeout=timeout)

    return run


@pytest.fixture
def env_dir(tmp_path: Path, smx: Callable[..., Result]) -> Path:
    """A fresh environment made by `smx init`."""
    root = tmp_path / "env"
    result = smx("init", str(root))
    assert result.exit_code == 0, result.output
    return root
