from __future__ import annotations

from pathlib import Path


def test_init_creates_manifest_and_stability_matrix_layout(smx, tmp_path: Path) -> None:
    result = smx("init", str(tmp_path / "sd"))
    assert result.exit_code == 0, result.output
    data = tmp_path / "sd" / "Data"
    for folder in ("Packages", "Models/StableDiffusion", "Models/Lora", "Models/AnimateDiff",
                   "Cache/downloads", "Logs"):
        assert (data / folder).is_dir(), folder
    assert (tmp_path / "sd" / "smx.toml").is_file()
