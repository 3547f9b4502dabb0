"""Where the model services are and which tokens go to them.

Endpoints, first that is set: environment variable > smx.toml ``[sources]`` > the user's
config.toml ``[sources]`` > default.
    Civitai:      SMX_CIVITAI_ENDPOINT > [sources] civitai     > https://civitai.com
    Hugging Face: HF_ENDPOINT          > [sources] huggingface > https://huggingface.co

Tokens follow the user, not a shared file: a token goes to its official service, or to an
endpoint the user set themselves (their environment or their config.toml); never to one only
smx.toml names (anyone who hands over an smx.toml could point it at their own server), and
never over plain http:// except to this machine. A withheld token is said once, with how to
allow it. Each token is bound to its endpoint's origin only (see models/http.py).
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

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
    # why a token set by the user is not sent to the endpoint in use (for the user, once)
    notices: tuple[str, ...] = field(default=())

    def client(self, on_retry: Callable[[str], None] | None = None) -> HttpClient:
        from smx.models.http import Credentials, HttpClient

        tokens = {}
        if self.civitai_token.value:
            tokens[self.civitai] = self.civitai_token.value
        if self.hf_token.value:
            tokens[self.huggingface] = self.hf_token.value
        return HttpClient(credentials=Credentials(tokens), on_retry=on_retry)


def _endpoint(env_var: str, configured: str | None, user: str | None, default: str) -> str:
    value = os.environ.get(env_var) or configured or user or default
    value = value.strip().rstrip("/")
    if not value.startswith(("https://", "http://")):
        where = env_var if os.environ.get(env_var) else (
            "smx.toml [sources]" if configured else "your smx config.toml [sources]")
        raise ConfigError(f"{where}: {value!r} is not an http(s) URL",
                          hint=f"for example {default}")
    return value


def _origin(url: str | None) -> tuple[str, str, int | None] | None:
    if not url:
        return None
    parts = urlsplit(url.strip())
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return None
    return parts.scheme.lower(), (parts.hostname or "").lower(), port


def is_loopback(url: str) -> bool:
    host = (urlsplit(url).hostname or "").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _withheld(endpoint: str, default: str, env_var: str, user: str | None, service: str,
              token: Token, user_file: str) -> tuple[Token, str | None]:
    """``token`` when ``endpoint`` may receive it, else no token and the notice saying why."""
    if not token.value:
        return token, None
    origin = _origin(endpoint)
    vouched = {_origin(default), _origin(os.environ.get(env_var)), _origin(user)}
    what = token.origin or "your token"
    if origin not in vouched:
        return Token(token.service, None, None), (
            f"{service} endpoint {endpoint} comes from smx.toml [sources], not from you: "
            f"{what} is not sent there. If you trust it, set {env_var}={endpoint} in your "
            f"environment, or {service} = \"{endpoint}\" under [sources] in {user_file}")
    if endpoint.lower().startswith("http://") and not is_loopback(endpoint):
        return Token(token.service, None, None), (
            f"{service} endpoint {endpoint} is plain http:// to another machine: {what} is not "
            "sent over it (anyone on the way could read it); use its https:// address")
    return token, None


def services(sources: SourceSettings | None = None) -> Services:
    from smx import userconfig

    sources = sources or SourceSettings()
    user = userconfig.sources()
    civitai = _endpoint("SMX_CIVITAI_ENDPOINT", sources.civitai, user.civitai, DEFAULT_CIVITAI)
    huggingface = _endpoint("HF_ENDPOINT", sources.huggingface, user.huggingface,
                            DEFAULT_HUGGINGFACE)
    user_file = str(userconfig.path())
    civitai_token, civitai_note = _withheld(civitai, DEFAULT_CIVITAI, "SMX_CIVITAI_ENDPOINT",
                                            user.civitai, "civitai", get_token("civitai"),
                                            user_file)
    hf_token, hf_note = _withheld(huggingface, DEFAULT_HUGGINGFACE, "HF_ENDPOINT",
                                  user.huggingface, "huggingface", get_token("huggingface"),
                                  user_file)
    return Services(civitai=civitai, huggingface=huggingface, civitai_token=civitai_token,
                    hf_token=hf_token,
                    notices=tuple(n for n in (civitai_note, hf_note) if n is not None))


def told(sources: SourceSettings | None, warn: Callable[[str], None]) -> Services:
    """:func:`services`, with its notices said (a command makes them once, however many
    models it handles)."""
    made = services(sources)
    for notice in made.notices:
        warn(notice)
    return made
