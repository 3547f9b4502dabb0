"""Opt-in (pytest -m slow): a real torch wheel in a package venv, found by pip's own config.

On this project's machines pip is configured with a find-links folder that holds the CPU
build of torch 2.13.0 for Python 3.11; ``[torch] index = "pip"`` lets pip's configuration
decide, and SMX_TORCH_REQUIREMENTS picks that version. The other torch dependencies come from
pip's configured index.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from pkgfakes import read_toml

from smx.system.pythons import find_interpreters, pick

pytestmark = pytest.mark.slow


def test_real_cpu_torch_installs_into_the_package_venv_and_imports(
        smx, pkg_env: Path, upstream, monkeypatch: pytest.MonkeyPatch) -> None:
    if pick(find_interpreters(), "==3.11.*") is None:
        pytest.skip("needs Python 3.11 (the torch 2.13.0 wheel on disk is cp311)")
    for var in list(os.environ):
        if var.startswith(("PIP_", "UV_")):
            monkeypatch.delenv(var)  # the machine's own pip configuration, not the test's
    monkeypatch.setenv("SMX_INSTALLER", "pip")
    monkeypatch.setenv("SMX_TORCH_REQUIREMENTS", "torch==2.13.0")
    upstream.comfyui.commit({
        "requirements.txt": "torch\n",
        "main.py": ("import sys, torch\n"
                    "assert torch.ones(3).sum().item() == 3.0\n"
                    "print('torch', torch.__version__)\n"
                    "sys.exit(0)\n"),
    }, "needs only torch")
    upstream.comfyui.tag("torch-only")

    result = smx("--env", str(pkg_env), "install", "comfyui", "--ref", "torch-only",
                 "--python", "3.11")

    assert result.exit_code == 0, result.output
    python = pkg_env / "Data" / "Packages" / "comfyui" / "venv" / "bin" / "python"
    out = subprocess.run([python, "-c", "import torch; print(torch.__version__)"],
                         capture_output=True, text=True, check=True).stdout
    assert out.startswith("2.13.0")
    locked = read_toml(pkg_env / "smx.lock")["packages"]["comfyui"]
    assert locked["torch"] == ["torch==2.13.0"]
    assert any(line.startswith("torch==2.13.0") for line in locked["freeze"])
