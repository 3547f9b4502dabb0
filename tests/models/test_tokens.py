"""Tokens: only to their own service, never to the CDN, never in a URL, never shown or stored
in the environment; `smx auth` keeps them in the user's config dir, mode 0600."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from helpers.fakehub import FakeHub
from helpers.payloads import ckpt_bytes, safetensors_bytes

MiB = 1 << 20
CIVITAI_KEY = "civitai-key-0123456789"
HF_KEY = "hf_secretsecretsecret0123"


def every_request_text(hub: FakeHub) -> str:
    return "\n".join(f"{r.path}?{r.query} {r.headers}" for r in hub.requests)


@pytest.fixture
def both(hub: FakeHub) -> FakeHub:
    hub.civitai_publish(261336, 597138, safetensors_bytes(MiB), name="v5.0.0",
                        login_required=True)
    hub.civitai_tokens.add(CIVITAI_KEY)
    hub.hf_commit("guoyww/animatediff", {"mm_sdxl_v10_beta.ckpt": ckpt_bytes(pad_to=MiB)},
                  gated=True)
    hub.hf_tokens.add(HF_KEY)
    hub.hf_repos["guoyww/animatediff"].allowed_tokens.add(HF_KEY)
    return hub


def test_tokens_reach_their_own_service_only(both: FakeHub, env_dir: Path, smx,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CIVITAI_API_TOKEN", CIVITAI_KEY)
    monkeypatch.setenv("HF_TOKEN", HF_KEY)
    for ref in ("civitai:261336", "hf:guoyww/animatediff/mm_sdxl_v10_beta.ckpt"):
        result = smx("--env", str(env_dir), "model", "pull", ref)
        assert result.exit_code == 0, result.output
        assert CIVITAI_KEY not in result.output and HF_KEY not in result.output
    for rec in both.requests_to("api"):
        assert rec.headers.get("authorization") == f"Bearer {CIVITAI_KEY}", rec.path
    for rec in both.requests_to("hf"):
        assert rec.headers.get("authorization") == f"Bearer {HF_KEY}", rec.path
    cdn = both.requests_to("cdn")
    assert len(cdn) == 2
    assert all("authorization" not in r.headers for r in cdn)  # dropped on the redirect
    text = every_request_text(both)
    assert "token" not in {k.lower() for r in both.requests for k in r.query}
    assert text.count(CIVITAI_KEY) == len(both.requests_to("api"))  # headers to api only
    assert text.count(HF_KEY) == len(both.requests_to("hf"))
    for name in ("smx.toml", "smx.lock"):
        written = (env_dir / name).read_text()
        assert CIVITAI_KEY not in written and HF_KEY not in written
        assert "/api/download" not in written and "X-Amz" not in written  # no URLs either


def test_a_token_is_never_sent_to_a_plain_url_host(hub: FakeHub, env_dir: Path, smx,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CIVITAI_API_TOKEN", CIVITAI_KEY)
    monkeypatch.setenv("HF_TOKEN", HF_KEY)
    url = hub.url_file("/files/x_vae.safetensors", safetensors_bytes(MiB, family=None))
    assert smx("--env", str(env_dir), "model", "pull", url).exit_code == 0
    assert all("authorization" not in r.headers for r in hub.requests)


def test_an_error_message_never_shows_a_token(both: FakeHub, env_dir: Path, smx,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CIVITAI_API_TOKEN", "wrong-" + CIVITAI_KEY)
    result = smx("--env", str(env_dir), "--debug", "model", "pull", "civitai:261336")
    assert result.exit_code == 3
    assert CIVITAI_KEY not in result.output


def test_auth_login_stores_the_token_privately_and_smx_uses_it(
        both: FakeHub, env_dir: Path, smx, isolated_user: Path) -> None:
    result = smx("auth", "login", "civitai", input=CIVITAI_KEY + "\n")
    assert result.exit_code == 0, result.output
    assert CIVITAI_KEY not in result.output
    stored = isolated_user / "config" / "auth.json"
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600
    assert json.loads(stored.read_text()) == {"civitai": CIVITAI_KEY}
    assert not any(CIVITAI_KEY in p.read_text(errors="ignore")
                   for p in env_dir.rglob("*") if p.is_file())
    status = smx("auth", "status", "--json")
    services = json.loads(status.stdout)["data"]["services"]
    assert services["civitai"] == {"set": True, "from": "smx auth",
                                   "stored_but_overridden": False}
    assert services["huggingface"]["set"] is False
    assert CIVITAI_KEY not in status.output
    pulled = smx("--env", str(env_dir), "model", "pull", "civitai:261336")
    assert pulled.exit_code == 0, pulled.output
    assert smx("auth", "logout", "civitai").exit_code == 0
    assert json.loads(stored.read_text()) == {}


def test_the_environment_variable_wins_over_the_stored_token(
        smx, monkeypatch: pytest.MonkeyPatch) -> None:
    assert smx("auth", "login", "hf", input="hf_storedstoredstored\n").exit_code == 0
    monkeypatch.setenv("HF_TOKEN", HF_KEY)
    status = smx("auth", "status")
    assert "huggingface: set, from HF_TOKEN (a stored token exists but this one wins)" in (
        status.stdout)
    from smx.models.auth import get_token

    assert get_token("huggingface").value == HF_KEY


def test_auth_rejects_unknown_services_and_empty_tokens(smx) -> None:
    assert smx("auth", "login", "github", input="x\n").exit_code == 2
    result = smx("auth", "login", "civitai", input=" \n")
    assert result.exit_code != 0


def test_stored_tokens_are_redacted_like_environment_ones(isolated_user: Path) -> None:
    from smx.models.auth import get_token, store_token
    from smx.redact import redact

    store_token("civitai", "stored-token-abcdef")
    get_token("civitai")
    assert redact("failed with stored-token-abcdef in it") == "failed with *** in it"
    assert os.environ.get("CIVITAI_API_TOKEN") is None


# --- tokens follow the user, not a shared smx.toml ---------------------------------------------
def _sources_only_in_smx_toml(env: Path, hub: FakeHub, monkeypatch: pytest.MonkeyPatch) -> None:
    """The hub's endpoints written into smx.toml [sources], as a shared file would; the
    user's own environment names no endpoint."""
    monkeypatch.delenv("SMX_CIVITAI_ENDPOINT")
    monkeypatch.delenv("HF_ENDPOINT")
    manifest = env / "smx.toml"
    manifest.write_text(manifest.read_text() + f'\n[sources]\ncivitai = "{hub.api_url}"\n'
                        f'huggingface = "{hub.hf_url}"\n')


@pytest.fixture
def public(hub: FakeHub) -> FakeHub:
    hub.civitai_publish(261336, 597138, safetensors_bytes(MiB), name="v5.0.0")
    hub.hf_commit("guoyww/animatediff", {"mm_sdxl_v10_beta.ckpt": ckpt_bytes(pad_to=MiB)})
    hub.civitai_tokens.add(CIVITAI_KEY)
    hub.hf_tokens.add(HF_KEY)
    return hub


def test_an_endpoint_only_smx_toml_names_gets_no_token(public: FakeHub, env_dir: Path, smx,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CIVITAI_API_TOKEN", CIVITAI_KEY)
    monkeypatch.setenv("HF_TOKEN", HF_KEY)
    _sources_only_in_smx_toml(env_dir, public, monkeypatch)
    (env_dir / "smx.toml").write_text((env_dir / "smx.toml").read_text().replace(
        "[models]\n", '[models]\nanima = { source = "civitai:261336" }\n'
                      'mm = { source = "hf:guoyww/animatediff/mm_sdxl_v10_beta.ckpt" }\n'))

    result = smx("--env", str(env_dir), "sync")

    assert result.exit_code == 0, result.output
    assert public.requests_to("api") and public.requests_to("hf")  # the endpoints were used
    assert all("authorization" not in r.headers for r in public.requests)
    assert CIVITAI_KEY not in every_request_text(public)
    assert HF_KEY not in every_request_text(public)
    # said once per service, with how to allow it
    assert result.stderr.count("comes from smx.toml [sources], not from you") == 2
    assert f"set SMX_CIVITAI_ENDPOINT={public.api_url}" in result.stderr
    assert "CIVITAI_API_TOKEN is not sent there" in result.stderr
    assert CIVITAI_KEY not in result.output and HF_KEY not in result.output


def test_a_gated_file_behind_a_shared_endpoint_fails_without_leaking_the_token(
        both: FakeHub, env_dir: Path, smx, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_TOKEN", HF_KEY)
    _sources_only_in_smx_toml(env_dir, both, monkeypatch)

    result = smx("--env", str(env_dir), "model", "pull",
                 "hf:guoyww/animatediff/mm_sdxl_v10_beta.ckpt")

    assert result.exit_code == 3
    assert "HF_TOKEN is not sent there" in result.stderr
    assert all("authorization" not in r.headers for r in both.requests)


def test_the_user_config_vouches_for_an_endpoint(public: FakeHub, env_dir: Path, smx,
                                                 isolated_user: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CIVITAI_API_TOKEN", CIVITAI_KEY)
    _sources_only_in_smx_toml(env_dir, public, monkeypatch)
    config = isolated_user / "config" / "config.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(f'[sources]\ncivitai = "{public.api_url}/"\n')

    result = smx("--env", str(env_dir), "model", "pull", "civitai:261336")

    assert result.exit_code == 0, result.output
    assert "not from you" not in result.stderr
    assert all(r.headers.get("authorization") == f"Bearer {CIVITAI_KEY}"
               for r in public.requests_to("api"))


@pytest.mark.parametrize(("endpoint", "sent"), [
    ("https://hf-mirror.example.org", True),   # the user's own choice, over https
    ("http://127.0.0.1:8080", True),           # plain http to this machine
    ("http://[::1]:8080", True),
    ("http://localhost:8080", True),
    ("http://10.1.2.3:8080", False),           # plain http to another machine: never
    ("http://hf-mirror.example.org", False),
])
def test_a_token_never_travels_over_plain_http_to_another_machine(
        endpoint: str, sent: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    from smx.models.settings import services

    monkeypatch.setenv("HF_TOKEN", HF_KEY)
    monkeypatch.setenv("HF_ENDPOINT", endpoint)
    found = services()
    assert (found.hf_token.value == HF_KEY) is sent
    assert any("plain http://" in n for n in found.notices) is not sent


def test_the_official_service_named_in_smx_toml_still_gets_the_token(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from smx.environment.manifest import SourceSettings
    from smx.models.settings import services

    monkeypatch.setenv("CIVITAI_API_TOKEN", CIVITAI_KEY)
    found = services(SourceSettings(civitai="https://civitai.com/"))
    assert found.civitai_token.value == CIVITAI_KEY and found.notices == ()
