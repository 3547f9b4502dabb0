"""The Comfy Registry API (https://api.comfy.org): node packs by id, their versions, and which
pack provides a ComfyUI node class.

Read from the Registry's OpenAPI (Comfy-Org/registry-backend openapi.yml and the published
https://api.comfy.org/openapi, as docs.comfy.org shows it):

- ``GET /nodes/{id}`` -> ``Node``: ``id``, ``name``, ``repository``, ``status``
  (``NodeStatusActive|Deleted|Banned``), ``status_detail``, ``latest_version`` (a
  ``NodeVersion``); 404 with an ``ErrorResponse`` for an unknown id.
- ``GET /nodes/{id}/versions?include_status_reason=true`` -> ``[NodeVersion]``: ``version``
  (semver), ``downloadUrl`` (the version's zip), ``deprecated``, ``status``
  (``NodeVersionStatusActive|Deleted|Banned|Pending|Flagged``), ``status_reason``,
  ``createdAt``, ``supported_comfyui_version``.
- ``GET /nodes/{id}/versions/{version}`` -> ``NodeVersion`` (404: no such version).
- ``GET /nodes/search?search=TEXT&limit=N`` -> ``{nodes: [Node], total, page, limit,
  totalPages}`` (for "did you mean").
- ``GET /comfy-nodes/{class}/node`` -> the ``Node`` that provides that ComfyUI node class
  (the Registry ranks packs that claim the same class); 404 when none does.

Endpoint (like uv's precedence): ``SMX_COMFY_REGISTRY`` > smx.toml ``[sources]
comfy-registry`` > https://api.comfy.org. No token: everything read here is public.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

from smx.environment.manifest import SourceSettings
from smx.errors import ConfigError, NetworkError, NotFound, RemoteError, UsageError
from smx.redact import redact

if TYPE_CHECKING:
    from smx.models.http import HttpClient

DEFAULT_ENDPOINT = "https://api.comfy.org"
ENV_VAR = "SMX_COMFY_REGISTRY"

ACTIVE = "NodeVersionStatusActive"
PENDING = "NodeVersionStatusPending"
NODE_BANNED = "NodeStatusBanned"
NODE_DELETED = "NodeStatusDeleted"
# what each refused version status means to the user
_REFUSED_STATUS = {
    "NodeVersionStatusBanned": "banned",
    "NodeVersionStatusDeleted": "deleted",
    "NodeVersionStatusFlagged": "flagged for review",
}


@dataclass(frozen=True)
class RegistryVersion:
    node_id: str
    version: str
    download_url: str | None
    deprecated: bool = False
    status: str = ACTIVE
    status_reason: str = ""
    created_at: str = ""
    supported_comfyui_version: str = ""

    @property
    def refusal(self) -> str | None:
        """Why smx will not install this version, or None."""
        why = _REFUSED_STATUS.get(self.status)
        if why is None and self.deprecated:
            why = "deprecated"
        if why is None:
            return None
        reason = self.status_reason.strip()
        return f"{why}: {reason}" if reason else why

    @property
    def installable(self) -> bool:
        return self.refusal is None and self.status in (ACTIVE, PENDING)


@dataclass(frozen=True)
class RegistryNode:
    id: str
    name: str
    repository: str | None
    status: str = "NodeStatusActive"
    status_detail: str = ""
    description: str = ""
    downloads: int = 0
    latest_version: RegistryVersion | None = None


@dataclass
class RegistryClient:
    endpoint: str
    _http: HttpClient | None = field(default=None, init=False, repr=False)

    @property
    def http(self) -> HttpClient:
        if self._http is None:
            from smx.models.http import HttpClient

            self._http = HttpClient()
        return self._http

    def close(self) -> None:
        if self._http is not None:
            self._http.close()
            self._http = None

    def __enter__(self) -> RegistryClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- calls --------------------------------------------------------------------------------
    def node(self, node_id: str) -> RegistryNode:
        """The node pack ``node_id``; NotFound (with "did you mean") when the Registry has none."""
        data = self._get(f"/nodes/{quote(node_id, safe='')}", what=f"Registry node {node_id}",
                         missing_ok=True)
        if data is None:
            raise NotFound(f"the Comfy Registry has no node pack {node_id!r}",
                           hint=self._did_you_mean(node_id), code="registry.unknown_node")
        return _node(data, node_id)

    def versions(self, node_id: str) -> list[RegistryVersion]:
        """Every version of ``node_id`` the Registry lists, whatever its status."""
        data = self._get(f"/nodes/{quote(node_id, safe='')}/versions",
                         {"include_status_reason": "true"},
                         what=f"versions of {node_id}", missing_ok=True)
        if data is None:
            raise NotFound(f"the Comfy Registry has no node pack {node_id!r}",
                           hint=self._did_you_mean(node_id), code="registry.unknown_node")
        if not isinstance(data, list):
            raise self._shape(f"versions of {node_id}")
        return [_version(item, node_id) for item in data if isinstance(item, dict)]

    def version(self, node_id: str, version: str) -> RegistryVersion | None:
        data = self._get(f"/nodes/{quote(node_id, safe='')}/versions/{quote(version, safe='')}",
                         what=f"{node_id} {version}", missing_ok=True)
        return None if data is None else _version(data, node_id)

    def search(self, text: str, limit: int = 8) -> list[RegistryNode]:
        data = self._get("/nodes/search", {"search": text, "limit": str(limit)},
                         what=f"Registry search for {text!r}")
        nodes = data.get("nodes") if isinstance(data, dict) else None
        return [_node(item, "") for item in nodes or [] if isinstance(item, dict)]

    def node_for_class(self, class_name: str) -> RegistryNode | None:
        """The pack that provides the ComfyUI node class ``class_name``, or None."""
        data = self._get(f"/comfy-nodes/{quote(class_name, safe='')}/node",
                         what=f"which pack provides {class_name}", missing_ok=True)
        return None if data is None else _node(data, "")

    # --- pieces -------------------------------------------------------------------------------
    def _did_you_mean(self, node_id: str) -> str:
        import difflib

        try:
            found = self.search(node_id.replace("-", " "))
            if not found:
                found = self.search(node_id)
        except NetworkError:  # failing already: a plain hint rather than a second error
            found = []
        ids = [n.id for n in found if n.id]
        ranked = difflib.get_close_matches(node_id, ids, n=3, cutoff=0.0) or ids[:3]
        if not ranked:
            return "check the id on https://registry.comfy.org, or give the git URL"
        names = {n.id: n.name for n in found}
        shown = ", ".join(f"{i!r} ({names[i]})" if names.get(i) and names[i] != i else repr(i)
                          for i in ranked)
        return f"did you mean {shown}?"

    def _get(self, path: str, params: dict[str, str] | None = None, *, what: str,
             missing_ok: bool = False) -> Any:
        url = self.endpoint + path + (f"?{urlencode(params)}" if params else "")
        response, data = self.http.get_json(url, what=what)
        if response.status == 404 and missing_ok:
            return None
        if response.status == 403:
            message = _message(getattr(response, "body", b""))
            raise RemoteError(f"{what}: the Comfy Registry refuses it"
                              + (f" ({message})" if message else ""),
                              hint="the pack may be banned or private",
                              code="registry.forbidden")
        if response.status != 200:
            message = _message(getattr(response, "body", b""))
            raise RemoteError(f"{what}: HTTP {response.status} from {redact(self.endpoint)}"
                              + (f" ({message})" if message else ""),
                              hint=f"try again later; the endpoint is set by {ENV_VAR} or "
                                   "[sources] comfy-registry in smx.toml",
                              code="registry.http")
        if data is None:
            raise self._shape(what)
        return data

    def _shape(self, what: str) -> RemoteError:
        return RemoteError(f"{what}: {redact(self.endpoint)} did not answer like the Comfy "
                           "Registry (no JSON of the expected shape)",
                           hint=f"check {ENV_VAR} / [sources] comfy-registry",
                           code="registry.bad_answer")


def client(sources: SourceSettings | None = None) -> RegistryClient:
    return RegistryClient(endpoint(sources))


def endpoint(sources: SourceSettings | None = None) -> str:
    configured = sources.comfy_registry if sources else None
    value = (os.environ.get(ENV_VAR) or configured or DEFAULT_ENDPOINT).strip().rstrip("/")
    if not value.startswith(("https://", "http://")):
        where = ENV_VAR if os.environ.get(ENV_VAR) else "smx.toml [sources] comfy-registry"
        raise ConfigError(f"{where}: {value!r} is not an http(s) URL",
                          hint=f"for example {DEFAULT_ENDPOINT}")
    return value


# --- choosing a version -----------------------------------------------------------------------
def choose(node: RegistryNode, versions: list[RegistryVersion], wanted: str | None, *,
           allow_deprecated: bool = False) -> RegistryVersion:
    """``wanted``, or the newest installable version; refuse a banned or deleted pack, and a
    deprecated, banned, deleted or flagged version, with the Registry's reason
    (``allow_deprecated``: a version smx.lock already pins may be deprecated since)."""
    if node.status in (NODE_BANNED, NODE_DELETED):
        why = "banned" if node.status == NODE_BANNED else "deleted"
        detail = f": {node.status_detail.strip()}" if node.status_detail.strip() else ""
        raise UsageError(f"{node.id} is {why} on the Comfy Registry{detail}",
                         hint="nothing was added; smx does not install it",
                         code=f"registry.node_{why}")
    if wanted is not None:
        found = next((v for v in versions if v.version == wanted), None)
        if found is None:
            offered = ", ".join(v.version for v in newest_first(versions)
                                if v.installable)[:200]
            raise NotFound(f"{node.id} has no version {wanted} on the Comfy Registry",
                           hint=f"versions: {offered}" if offered else
                           "the Registry lists no installable version",
                           code="registry.unknown_version")
        if found.refusal is not None and not (allow_deprecated and found.refusal.startswith(
                "deprecated")):
            newest = newest_installable(versions)
            raise UsageError(
                f"{node.id} {wanted} is {found.refusal} (Comfy Registry)",
                hint=(f"nothing was added; the newest active version is {newest.version}: "
                      f"smx ext add {node.id}@{newest.version}") if newest else
                "nothing was added; the Registry lists no installable version",
                code="registry.version_refused")
        return found
    newest = newest_installable(versions, active_only=True)
    if newest is None:
        refused = [f"{v.version} ({v.refusal})" for v in newest_first(versions) if v.refusal]
        raise UsageError(f"{node.id} has no active version on the Comfy Registry"
                         + (f": {', '.join(refused[:3])}" if refused else ""),
                         hint="nothing was added; give its git URL to install from the "
                              "repository", code="registry.no_active_version")
    return newest


def newest_first(versions: list[RegistryVersion]) -> list[RegistryVersion]:
    return sorted(versions, key=_version_key, reverse=True)


def newest_installable(versions: list[RegistryVersion], *, active_only: bool = False
                       ) -> RegistryVersion | None:
    for v in newest_first(versions):
        if v.installable and (v.status == ACTIVE or not active_only):
            return v
    return None


def _version_key(v: RegistryVersion) -> tuple[Any, ...]:
    from packaging.version import InvalidVersion, Version

    try:
        return (1, Version(v.version), v.created_at)
    except InvalidVersion:
        return (0, v.created_at, v.version)


# --- decoding the answers ---------------------------------------------------------------------
def _text(data: dict[str, Any], key: str) -> str:
    value = data.get(key)
    return value if isinstance(value, str) else ""


def _version(data: dict[str, Any], node_id: str) -> RegistryVersion:
    return RegistryVersion(
        node_id=_text(data, "node_id") or node_id,
        version=_text(data, "version"),
        download_url=_text(data, "downloadUrl") or None,
        deprecated=data.get("deprecated") is True,
        status=_text(data, "status") or ACTIVE,
        status_reason=_text(data, "status_reason"),
        created_at=_text(data, "createdAt"),
        supported_comfyui_version=_text(data, "supported_comfyui_version"))


def _node(data: dict[str, Any], node_id: str) -> RegistryNode:
    latest = data.get("latest_version")
    downloads = data.get("downloads")
    node = _text(data, "id") or node_id
    return RegistryNode(
        id=node,
        name=_text(data, "name") or node,
        repository=_text(data, "repository").strip() or None,
        status=_text(data, "status") or "NodeStatusActive",
        status_detail=_text(data, "status_detail"),
        description=_text(data, "description"),
        downloads=downloads if isinstance(downloads, int) else 0,
        latest_version=_version(latest, node) if isinstance(latest, dict) else None)


def _message(body: bytes) -> str:
    import json

    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return ""
    if isinstance(data, dict):
        return str(data.get("message") or data.get("error") or "")[:200]
    return ""
