"""Model references as users type them: every accepted form, and one clear line otherwise."""

from __future__ import annotations

import pytest

from smx.errors import UsageError
from smx.models.refs import CivitaiRef, HfRef, UrlRef, parse_model_ref
from smx.models.sources.url import check_recordable


@pytest.mark.parametrize(("text", "expected"), [
    ("civitai:261336", CivitaiRef(261336)),
    ("civitai:261336@597138", CivitaiRef(261336, 597138)),
    ("https://civitai.com/models/261336", CivitaiRef(261336)),
    ("https://civitai.com/models/261336/animapencil-xl?modelVersionId=597138",
     CivitaiRef(261336, 597138)),
    ("https://civitai.com/api/download/models/597138", CivitaiRef(None, 597138)),
    ("hf:guoyww/animatediff/mm_sdxl_v10_beta.ckpt",
     HfRef("guoyww/animatediff", "mm_sdxl_v10_beta.ckpt")),
    ("hf:lllyasviel/sd_control_collection/sub/dir/x.safetensors@d1b278d",
     HfRef("lllyasviel/sd_control_collection", "sub/dir/x.safetensors", "d1b278d")),
    ("https://huggingface.co/guoyww/animatediff/blob/main/mm_sdxl_v10_beta.ckpt",
     HfRef("guoyww/animatediff", "mm_sdxl_v10_beta.ckpt", "main")),
    ("https://huggingface.co/guoyww/animatediff/resolve/cd71ae1/mm_sd_v15_v2.ckpt?download=true",
     HfRef("guoyww/animatediff", "mm_sd_v15_v2.ckpt", "cd71ae1")),
    ("https://example.org/files/4x-UltraSharp.pth", UrlRef("https://example.org/files/4x-UltraSharp.pth")),
])
def test_every_documented_form_is_understood(text: str, expected: object) -> None:
    assert parse_model_ref(text) == expected


@pytest.mark.parametrize("text", ["civitai:abc", "civitai:0", "civitai:99999999999",
                                  "hf:guoyww/animatediff", "hf:a/b/../c", "ftp://x/y",
                                  "animapencil", "https://civitai.com/images/123",
                                  "https://huggingface.co/guoyww/animatediff",
                                  "local:Lora", "local:Lora/sub/x.safetensors",
                                  "local:../x.safetensors", "civitai:123@", "civitai:@",
                                  "hf:guoyww/animatediff/mm_sdxl_v10_beta.ckpt@"])
def test_a_malformed_reference_is_one_line_with_an_example(text: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse_model_ref(text)
    assert "\n" not in caught.value.message and text.strip() in caught.value.message
    assert "civitai:261336" in (caught.value.hint or "")


def test_a_malformed_reference_on_the_command_line_exits_2(env_dir, smx) -> None:
    result = smx("--env", str(env_dir), "model", "pull", "civitai:abc")
    assert result.exit_code == 2
    assert "malformed model reference 'civitai:abc'" in result.stderr
    assert "hint:" in result.stderr and "civitai:261336@597138" in result.stderr


def test_a_dangling_at_is_refused_not_read_as_the_newest_version(env_dir, smx) -> None:
    before = (env_dir / "smx.toml").read_bytes()
    result = smx("--env", str(env_dir), "model", "pull", "civitai:123@")
    assert result.exit_code == 2
    assert "malformed model reference 'civitai:123@': nothing follows '@'" in result.stderr
    assert (env_dir / "smx.toml").read_bytes() == before


@pytest.mark.parametrize("url", ["https://cdn.example.org/m.safetensors?token=abc123",
                                 "https://x.r2.dev/m.safetensors?X-Amz-Signature=deadbeef",
                                 "https://storage.googleapis.com/b/m.ckpt?X-Goog-Algorithm=G"
                                 "OOG4-RSA-SHA256&X-Goog-Credential=sa%40p&X-Goog-Signature=ab",
                                 "https://x.example/m.safetensors?auth_token=abc",
                                 "https://acct.blob.core.windows.net/c/m.ckpt?sv=2022&sig=abc",
                                 "https://x.example/m.safetensors?X-Amz-Security-Token=abc",
                                 "https://x.example/m.safetensors?client_secret=",
                                 "https://user:pass@example.org/m.safetensors"])
def test_a_url_carrying_a_secret_is_never_recorded(url: str) -> None:
    with pytest.raises(UsageError, match="will not store secrets"):
        check_recordable(url)


@pytest.mark.parametrize("url", ["https://example.org/m.safetensors?download=true",
                                 "https://example.org/m.safetensors?version=2&tokenizer=clip"])
def test_ordinary_query_strings_are_recorded(url: str) -> None:
    check_recordable(url)


@pytest.mark.parametrize("query", ["X-Goog-Algorithm=GOOG4-RSA-SHA256&X-Goog-Signature=ab12",
                                   "auth_token=abc123"])
def test_pulling_a_signed_url_writes_nothing_and_fetches_nothing(hub, env_dir, smx,
                                                                  query: str) -> None:
    url = hub.url_file("/signed/vae.safetensors", b"x" * 64) + "?" + query
    before = (env_dir / "smx.toml").read_bytes()
    result = smx("--env", str(env_dir), "model", "pull", url, "--kind", "vae")
    assert result.exit_code == 2, result.output
    assert "will not store secrets or expiring signed links" in result.stderr
    assert (env_dir / "smx.toml").read_bytes() == before
    assert not (env_dir / "smx.lock").exists()
    assert hub.requests_to("cdn") == []
