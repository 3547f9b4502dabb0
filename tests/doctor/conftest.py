"""Doctor tests run on recorded NVML answers (this machine has no GPU) and a faked free-disk
figure, through the documented testing aids SMX_NVML_RECORDING and SMX_DOCTOR_FAKE_FREE_BYTES."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from helpers.loopback import LoopbackServer
from smx.system.gpu import GpuReport, probe_gpus
from smx.system.nvml import RecordedNvml

RECORDINGS = Path(__file__).parent / "nvml"

@pytest.fixture(autouse=True)
def base_python_on_path(tmp_path_factory: pytest.TempPathFactory,
                        monkeypatch: pytest.MonkeyPatch) -> None:
    """The interpreter running the tests is findable on every machine (a package the tests
    put in an env must find a Python, or doctor rightly fails)."""
    name = f"python{sys.version_info[0]}.{sys.version_info[1]}"
    base = Path(sys.base_prefix) / ("python.exe" if os.name == "nt" else f"bin/{name}")
    if not base.is_file():
        return
    folder = tmp_path_factory.mktemp("base-python")
    try:
        (folder / base.name).symlink_to(base)
    except OSError:  # no symlinks (Windows without developer mode)
        return
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ.get('PATH', '')}")


@pytest.fixture
def use_recording(monkeypatch: pytest.MonkeyPatch) -> Callable[[str], Path]:
    """Make smx read NVML answers from tests/doctor/nvml/<name>.json."""

    def use(name: str) -> Path:
        path = RECORDINGS / f"{name}.json"
        assert path.is_file(), path
        monkeypatch.setenv("SMX_NVML_RECORDING", str(path))
        return path

    return use


@pytest.fixture
def recorded_gpus(tmp_path: Path) -> Callable[..., GpuReport]:
    """The GPU report of a Linux machine that gives the recorded NVIDIA answers (and has no
    AMD card: an empty sysfs folder). Keyword arguments replace top-level answers."""

    def report(name: str, **answers: object) -> GpuReport:
        recorded = json.loads((RECORDINGS / f"{name}.json").read_text())
        recorded.update(answers)
        empty = tmp_path / "no-drm"
        empty.mkdir(exist_ok=True)
        return probe_gpus(RecordedNvml(recorded), sysfs=empty, system="Linux",
                          machine="x86_64")

    return report


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.server.hits.append(self.path)  # type: ignore[attr-defined]
        body = b"ok"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


class CountingServer:
    def __init__(self) -> None:
        self.httpd = LoopbackServer(_Handler)
        self.httpd.hits = []  # type: ignore[attr-defined]
        self.url = self.httpd.url

    @property
    def hits(self) -> list[str]:
        return self.httpd.hits  # type: ignore[attr-defined]


@pytest.fixture
def loopback_server() -> Iterator[CountingServer]:
    server = CountingServer()
    server.httpd.serve_in_background()
    yield server
    server.httpd.close()
