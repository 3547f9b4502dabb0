"""Can this machine reach the hosts smx downloads from? Only `smx doctor --online` asks.

Endpoints, most specific setting first (flag > SMX_* env > smx.toml, as everywhere in smx):
- GitHub: ``SMX_GITHUB_ENDPOINT`` (a mirror, or a loopback server in tests), else github.com
- Civitai: ``SMX_CIVITAI_ENDPOINT``, else smx.toml ``[sources] civitai``, else civitai.com
- Hugging Face: ``HF_ENDPOINT`` (huggingface_hub's variable), else ``[sources] huggingface``,
  else huggingface.co
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING

from smx.redact import redact

if TYPE_CHECKING:
    from smx.environment.manifest import SourceSettings

GITHUB_ENV = "SMX_GITHUB_ENDPOINT"
CIVITAI_ENV = "SMX_CIVITAI_ENDPOINT"
HF_ENV = "HF_ENDPOINT"


@dataclass(frozen=True)
class Endpoint:
    name: str  # github | civitai | huggingface
    url: str
    configured_by: str  # default | smx.toml | the variable's name


@dataclass(frozen=True)
class Reachability:
    endpoint: Endpoint
    reachable: bool
    status_code: int | None = None
    elapsed_ms: float | None = None
    error: str | None = None


def endpoints(sources: SourceSettings | None = None,
              environ: Mapping[str, str] | None = None) -> list[Endpoint]:
    environ = os.environ if environ is None else environ

    def pick(name: str, variable: str, configured: str | None, default: str) -> Endpoint:
        if environ.get(variable):
            return Endpoint(name, environ[variable].rstrip("/"), variable)
        if configured:
            return Endpoint(name, configured.rstrip("/"), "smx.toml")
        return Endpoint(name, default, "default")

    return [
        pick("github", GITHUB_ENV, None, "https://github.com"),
        pick("civitai", CIVITAI_ENV, sources.civitai if sources else None,
             "https://civitai.com"),
        pick("huggingface", HF_ENV, sources.huggingface if sources else None,
             "https://huggingface.co"),
    ]


def check_reachable(targets: list[Endpoint], timeout: float = 10.0) -> list[Reachability]:
    """One GET per endpoint, in parallel; any HTTP answer counts as reachable (the status code
    is reported), only connection failures and timeouts count as unreachable. The body is
    never read and no token is sent."""
    import httpx

    with httpx.Client(timeout=timeout, follow_redirects=False, trust_env=True) as client:

        def one(endpoint: Endpoint) -> Reachability:
            started = time.perf_counter()
            try:
                with client.stream("GET", endpoint.url,
                                   headers={"User-Agent": "smx-doctor"}) as response:
                    elapsed = (time.perf_counter() - started) * 1000
                    return Reachability(endpoint, True, response.status_code, elapsed)
            except (httpx.HTTPError, httpx.InvalidURL) as exc:
                elapsed = (time.perf_counter() - started) * 1000
                detail = redact(str(exc)) or type(exc).__name__
                return Reachability(endpoint, False, None, elapsed,
                                    f"{type(exc).__name__}: {detail}")

        with ThreadPoolExecutor(max_workers=max(1, len(targets))) as pool:
            return list(pool.map(one, targets))
