"""Where the model services are and which tokens go to them.

Precedence (like uv): environment variable > smx.toml ``[sources]`` > default.
    Civitai:      SMX_CIVITAI_ENDPOINT > [sources] civitai     > https://civitai.com
    Hugging Face: HF_ENDPOINT          > [sources] huggingface > https://huggingface.co
Each token is bound to its service's endpoint origin only (see models/http.py).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from smx.environment.manifest import SourceSettings
from smx.errors import ConfigError
from smx.models.auth import Token, get_token

if TYPE_CHECKING:
    from smx.models.http import HttpClient

DEFAULT_CIVITAI = "https://civitai.com"
DEFAULT_HUGGINGFACE = "https://huggingface.co"


@dataclass(frozen=True)
class Services:
    civitai: str  # endpoint, no trailing slash
    huggingface: str
    civitai_token: Token
    hf_token: Token

    def client(self, on_retry: Callable[[str], None] | None = None) -> HttpClient:
        from smx.models.http import Credentials, HttpClient

        tokens = {}
        if self.civitai_token.value:
            tokens[self.civitai] = self.civitai_token.value
        if self.hf_token.value:
            tokens[self.huggingface] = self.hf_token.value
        return HttpClient(credentials=Credentials(tokens), on_retry=on_retry)


def _endpoint(env_var: str, configured: str | None, default: str) -> str:
    value = os.environ.get(env_var) or configured or default
    value = value.strip().rstrip("/")
    if not value.startswith(("https://", "http://")):
        where = env_var if os.environ.get(env_var) else "smx.toml [sources]"
        raise ConfigError(f"{where}: {value!r} is not an http(s) URL",
                          hint=f"for example {default}")
    return value


def services(sources: SourceSettings | None = None) -> Services:
    sources = sources or SourceSettings()
    return Services(
        civitai=_endpoint("SMX_CIVITAI_ENDPOINT", sources.civitai, DEFAULT_CIVITAI),
        huggingface=_endpoint("HF_ENDPOINT", sources.huggingface, DEFAULT_HUGGINGFACE),
        civitai_token=get_token("civitai"),
        hf_token=get_token("huggingface"),
    )
