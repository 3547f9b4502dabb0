"""API tokens for Civitai and Hugging Face: from the environment, or stored by `smx auth login`.

Environment variables win (``CIVITAI_API_TOKEN``, ``HF_TOKEN``, then huggingface_hub's older
``HUGGING_FACE_HUB_TOKEN``). Stored tokens live in ``<config dir>/auth.json`` with mode 0600,
outside every environment folder, so an env can be zipped, committed or shared without them.
Every token smx loads is registered with :mod:`smx.redact` so no message can show it.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from smx.errors import ConfigError, UsageError
from smx.redact import register_secret
from smx.userdirs import config_dir

SERVICES = ("civitai", "huggingface")
ALIASES = {"hf": "huggingface", "huggingface.co": "huggingface", "civitai.com": "civitai"}
ENV_VARS = {"civitai": ("CIVITAI_API_TOKEN",),
            "huggingface": ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN")}
TOKEN_PAGES = {"civitai": "https://civitai.com/user/account (API Keys)",
               "huggingface": "https://huggingface.co/settings/tokens"}


@dataclass(frozen=True)
class Token:
    service: str
    value: str | None
    origin: str | None  # "CIVITAI_API_TOKEN" / "smx auth" / None when not set
    shadowed: bool = False  # a stored token exists but an environment variable wins


def service_name(text: str) -> str:
    name = ALIASES.get(text.lower(), text.lower())
    if name not in SERVICES:
        raise UsageError(f"unknown service {text!r}",
                         hint=f"one of: {', '.join(SERVICES)} (or hf)")
    return name


def auth_file() -> Path:
    return config_dir() / "auth.json"


def _read_store() -> dict[str, str]:
    path = auth_file()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path}: cannot read stored tokens ({exc.__class__.__name__})",
                          hint=f"delete {path} and run `smx auth login` again") from None
    if not isinstance(data, dict):
        return {}
    return {k: v for k, v in data.items() if k in SERVICES and isinstance(v, str) and v}


def _write_store(tokens: dict[str, str]) -> None:
    path = auth_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(OSError):
        os.chmod(path.parent, 0o700)
    # mkstemp creates the file 0600 from the start: the token is never world-readable.
    fd, tmp = tempfile.mkstemp(prefix=".auth.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(tokens, handle, indent=2, sort_keys=True)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def get_token(service: str) -> Token:
    service = service_name(service)
    stored = _read_store().get(service)
    for var in ENV_VARS[service]:
        value = os.environ.get(var, "").strip()
        if value:
            register_secret(value)
            return Token(service, value, var, shadowed=stored is not None)
    if stored:
        register_secret(stored)
        return Token(service, stored, "smx auth")
    return Token(service, None, None)


def store_token(service: str, value: str) -> Path:
    service = service_name(service)
    value = value.strip()
    if not value or any(c.isspace() for c in value):
        raise UsageError("that does not look like an API token (empty or contains spaces)",
                         hint=f"copy it from {TOKEN_PAGES[service]}")
    tokens = _read_store()
    tokens[service] = value
    _write_store(tokens)
    register_secret(value)
    return auth_file()


def forget_token(service: str) -> bool:
    service = service_name(service)
    tokens = _read_store()
    if service not in tokens:
        return False
    del tokens[service]
    _write_store(tokens)
    return True
