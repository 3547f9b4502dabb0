"""smx.toml mistakes get one line naming file:line:col, exit 2, and the file is left alone."""

from __future__ import annotations

from pathlib import Path

import pytest

from smx.environment import manifest
from smx.errors import ConfigError


def write(env: Path, text: str) -> Path:
    path = env / "smx.toml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # a syntax error: tomllib's position, in smx's format
        ('[env]\nname = "x\n', "smx.toml:2:10: TOML syntax error"),
        # wrong type, pointing at the value
        ('[env]\nname = "x"\n\n[packages.a1111]\nsource = "a1111"\nref = 1.10\n',
         "smx.toml:6:7: expected a string for packages.a1111.ref"),
        # the brief's own example shape: deep in a file, indented value
        ('\n\n\n[packages.a1111]\nsource = "a1111"\n\nref    =   110\n',
         "smx.toml:7:12: expected a string for packages.a1111.ref"),
        # unknown key, pointing at the key
        ('[packages.a1111]\nsource = "a1111"\nreff = "v1"\n',
         "smx.toml:3:1: unknown key packages.a1111.reff"),
        ('[torch]\nbackend = "cuda12"\n', "smx.toml:2:11: 'cuda12' is not a valid torch.backend"),
        ('[packages.x]\nsource = "automatic"\n',
         "smx.toml:2:10: unknown package source 'automatic' for packages.x.source"),
        ('[models]\nmm = { source = "hf:guoyww" }\n',
         "smx.toml:2:17: malformed model reference 'hf:guoyww'"),
        ('[models]\nmm = { source = "civitai:261336", kind = "motion" }\n',
         "smx.toml:2:42: 'motion' is not a valid models.mm.kind"),
        ('[packages.a]\nsource = "comfyui"\n[packages.a.extensions]\nx = { git = 3 }\n',
         "smx.toml:4:13: expected a string for packages.a.extensions.x.git"),
        ('[packages.a]\nref = "v1"\n', "smx.toml:1:1: missing key packages.a.source"),
        # the store's one file-name rule (as for smx.lock and names from servers)
        ('[models]\nm = { source = "civitai:1", filename = "a:b.ckpt" }\n',
         "smx.toml:2:40: models.m.filename must be a plain file name"),
        ('[models]\nm = { source = "civitai:1", filename = "../x.ckpt" }\n',
         "smx.toml:2:40: models.m.filename must be a plain file name"),
        ('[packages.a]\nsource = "comfyui"\ngit = "--upload-pack=touch X"\n',
         "smx.toml:3:7: packages.a.git is refused: it starts with '-'"),
    ],
)
def test_bad_manifest_names_file_line_and_column(tmp_path: Path, monkeypatch, text: str,
                                                 expected: str) -> None:
    monkeypatch.chdir(tmp_path)
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        manifest.load(path)
    assert str(info.value).startswith(expected), str(info.value)
    assert "\n" not in str(info.value)


def test_unknown_key_suggests_the_right_one(tmp_path: Path) -> None:
    path = write(tmp_path, '[packages.a1111]\nsource = "a1111"\nrefs = "v1"\n')
    with pytest.raises(ConfigError) as info:
        manifest.load(path)
    assert info.value.hint == "did you mean 'ref'?"


def test_cli_reports_bad_manifest_with_exit_2_and_leaves_it_untouched(smx, env_dir: Path
                                                                      ) -> None:
    path = env_dir / "smx.toml"
    bad = path.read_text() + '\n[packages.a1111]\nsource = "a1111"\nref = 7\n'
    path.write_text(bad)
    result = smx("--env", str(env_dir), "sync", "--dry-run")
    assert result.exit_code == 2
    assert "expected a string for packages.a1111.ref" in result.stderr
    assert "smx.toml:17:7:" in result.stderr
    assert path.read_text() == bad


def test_valid_seed_tutorial_manifest_loads(tmp_path: Path) -> None:
    path = write(tmp_path, """
[env]
name = "sdxl-dance"

[torch]
backend = "auto"

[packages.a1111]
source = "a1111"
ref = "v1.10.1"
args = ["--xformers", "--medvram-sdxl"]

[packages.a1111.extensions]
animatediff = { git = "https://github.com/continue-revolution/sd-webui-animatediff" }
controlnet  = { git = "https://github.com/Mikubill/sd-webui-controlnet" }

[models]
animapencil-xl = { source = "civitai:261336" }
mm-sdxl        = { source = "hf:guoyww/animatediff/mm_sdxl_v10_beta.ckpt", kind = "motion-module" }
""")
    m = manifest.load(path)
    assert m.name == "sdxl-dance"
    assert m.packages["a1111"].ref == "v1.10.1"
    assert m.packages["a1111"].args == ["--xformers", "--medvram-sdxl"]
    assert set(m.packages["a1111"].extensions) == {"animatediff", "controlnet"}
    assert m.models["mm-sdxl"].kind == "motion-module"
