"""`smx install`: a web UI that starts, or nothing at all."""

from __future__ import annotations

from pathlib import Path

import tomllib


def test_install_a1111_clones_pins_installs_and_records(smx, pkg_env: Path, upstream,
                                                        installer: str) -> None:
    result = smx("--env", str(pkg_env), "install", "a1111")
    assert result.exit_code == 0, result.output
    pkg = pkg_env / "Data" / "Packages" / "a1111"
    assert (pkg / "launch-ran.txt").is_file()  # its own install step ran, offline
    lock = tomllib.loads((pkg_env / "smx.lock").read_text())["packages"]["a1111"]
    assert lock["commit"] == upstream.a1111.head
    assert lock["ref"] == "v1.10.1"
    assert "smx-fake-dep==1.0" in lock["freeze"]
    assert "torch==2.1.2" in lock["freeze"]
    manifest = tomllib.loads((pkg_env / "smx.toml").read_text())
    assert manifest["packages"]["a1111"] == {"source": "a1111", "ref": "v1.10.1"}
