"""--allow-unsafe with a matching --sha256: the user names the exact bytes, so a file smx
cannot recognise as a pickle it can scan is placed (with a warning); either flag alone keeps
the refusal."""

from __future__ import annotations

import hashlib
from pathlib import Path

from helpers.fakehub import FakeHub

ODD = b"\x00ODDF" + bytes(range(256)) * 8  # neither a torch zip nor a pickle


def pull(smx, hub: FakeHub, env: Path, *args: str):
    url = hub.url_file("/files/mm_odd.ckpt", ODD)
    return smx("--env", str(env), "model", "pull", url, "--kind", "motion-module", *args)


def placed(env: Path) -> list[Path]:
    return sorted(p for p in (env / "Data" / "Models").rglob("*") if p.is_file())


def test_allow_unsafe_with_a_matching_sha256_places_an_unrecognised_file(
        hub: FakeHub, env_dir: Path, smx) -> None:
    digest = hashlib.sha256(ODD).hexdigest()
    result = pull(smx, hub, env_dir, "--allow-unsafe", "--sha256", digest)
    assert result.exit_code == 0, result.output
    (path,) = placed(env_dir)
    assert path.name == "mm_odd.ckpt" and path.read_bytes() == ODD
    assert "placed although mm_odd.ckpt is neither a torch zip archive nor a pickle" in (
        result.stderr)
    assert "--allow-unsafe and a matching --sha256" in result.stderr


def test_either_flag_alone_keeps_the_refusal(hub: FakeHub, env_dir: Path, smx) -> None:
    digest = hashlib.sha256(ODD).hexdigest()
    for flags in (["--allow-unsafe"], ["--sha256", digest]):
        result = pull(smx, hub, env_dir, *flags)
        assert result.exit_code == 4, (flags, result.output)
        assert "is neither a torch zip archive nor a pickle" in result.stderr
        assert placed(env_dir) == []


def test_a_sha256_that_does_not_match_places_nothing(hub: FakeHub, env_dir: Path,
                                                      smx) -> None:
    result = pull(smx, hub, env_dir, "--allow-unsafe", "--sha256", "ab" * 32)
    assert result.exit_code == 4, result.output
    assert placed(env_dir) == []
