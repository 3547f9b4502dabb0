"""Hugging Face: ``hf:OWNER/REPO/PATH[@REVISION]`` -> one file at one commit.

The repo revision API (``/api/models/{repo}/revision/{rev}?blobs=true``) gives the commit the
revision points at and, per file, its size and LFS SHA-256. The bytes come from
``/{repo}/resolve/{commit}/{path}``, pinned to that commit; its 302 carries ``X-Linked-Size``
and ``X-Linked-Etag`` (the SHA-256), checked against the API's before a byte is fetched. Errors
are told apart by ``X-Error-Code`` (GatedRepo, RepoNotFound, EntryNotFound, RevisionNotFound).
"""

from __future__ import annotations

import difflib
import json
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from smx.errors import (
    AccessDenied,
    AuthRequired,
    ChecksumMismatch,
    NotFound,
    RateLimited,
    RemoteError,
    SmxError,
)
from smx.models.http import body_of
from smx.models.refs import HfRef
from smx.models.sources import ResolvedFile

if TYPE_CHECKING:
    from smx.environment.lock import LockedModel
    from smx.models.http import Hop, HttpClient, Response
    from smx.models.settings import Services

TOKEN_HINT = ("create a read token at https://huggingface.co/settings/tokens and set HF_TOKEN, "
              "or run `smx auth login huggingface`")


def resolve(ref: HfRef, *, services: Services, client: HttpClient) -> ResolvedFile:
    endpoint = services.huggingface
    rev = ref.revision or "main"
    api = f"{endpoint}/api/models/{ref.repo}/revision/{quote(rev, safe='')}?blobs=true"
    response, data = client.get_json(api, what=f"Hugging Face repo {ref.repo}")
    if not isinstance(data, dict) or response.status != 200:
        raise hf_error(response, body_of(response), ref.repo, ref.path, rev, services)
    commit = str(data.get("sha") or "")
    siblings = {s.get("rfilename"): s for s in data.get("siblings") or []}
    sibling = siblings.get(ref.path)
    if sibling is None or not commit:
        close = difflib.get_close_matches(ref.path, [str(k) for k in siblings], n=3)
        hint = ("did you mean " + " or ".join(close) + "?") if close else (
            f"see the files on {endpoint}/{ref.repo}/tree/{rev}")
        raise NotFound(f"{ref.repo} has no file {ref.path} at revision {rev}", hint=hint,
                       code="model.not_found")
    lfs = sibling.get("lfs") or {}
    size = lfs.get("size", sibling.get("size"))
    hf = {"repo": ref.repo, "path": ref.path, "revision": commit}
    if ref.revision:
        hf["ref"] = ref.revision
    resolved = ResolvedFile(
        service="huggingface",
        source=f"hf:{ref.repo}/{ref.path}@{commit}",
        url=resolve_url(endpoint, ref.repo, commit, ref.path),
        filename=ref.path.rsplit("/", 1)[-1],
        title=f"{ref.repo}/{ref.path}",
        size=int(size) if size is not None else None,
        sha256=(lfs.get("sha256") or "").lower() or None,
        hf=hf,
        model_name=ref.path.rsplit("/", 1)[-1].rsplit(".", 1)[0],
    )
    _attach(resolved, services)
    return resolved


def resolve_url(endpoint: str, repo: str, commit: str, path: str) -> str:
    return f"{endpoint}/{repo}/resolve/{quote(commit, safe='')}/{quote(path)}"


def from_lock(locked: LockedModel, *, services: Services, **common: Any) -> ResolvedFile:
    hf = locked.hf
    resolved = ResolvedFile(service="huggingface", source=locked.source,
                            url=resolve_url(services.huggingface, hf["repo"], hf["revision"],
                                            hf["path"]),
                            title=f"{hf['repo']}/{hf['path']}", hf=dict(hf), **common)
    _attach(resolved, services)
    return resolved


def _attach(resolved: ResolvedFile, services: Services) -> None:
    hf = resolved.hf

    def on_http_error(response: Response, body: bytes) -> SmxError:
        return hf_error(response, body, hf["repo"], hf["path"],
                        hf.get("ref") or hf["revision"], services)

    def check_hops(hop: Hop) -> None:
        """The 302 of /resolve announces the file; refuse before following a wrong one."""
        size = hop.headers.get("X-Linked-Size")
        etag = (hop.headers.get("X-Linked-Etag") or "").removeprefix("W/").strip('"')
        if size and size.isdigit() and resolved.size is not None and int(size) != resolved.size:
            raise ChecksumMismatch(f"{resolved.title}: the Hub serves {size} bytes but expected "
                                   f"{resolved.size}; nothing was downloaded",
                                   hint="run `smx model pull` again to re-resolve the file")
        if len(etag) == 64 and resolved.sha256 and etag.lower() != resolved.sha256:
            raise ChecksumMismatch(
                f"{resolved.title}: the Hub announces SHA-256 {etag.lower()} but expected "
                f"{resolved.sha256}; nothing was downloaded",
                hint="run `smx model pull` again to re-resolve the file")

    resolved.on_http_error = on_http_error
    resolved.check_hops = check_hops


def hf_error(response: Response, body: bytes, repo: str, path: str, rev: str,
             services: Services) -> SmxError:
    code = response.header("X-Error-Code") or ""
    message = response.header("X-Error-Message") or _body_message(body)
    status = response.status
    page = f"{services.huggingface}/{repo}"
    token = services.hf_token
    if code == "GatedRepo":
        if status == 403 or token.value:
            return AccessDenied(
                f"{repo} on Hugging Face is gated and the token from {token.origin} has not "
                "been granted access yet",
                hint=f"request access on {page}, wait for approval, then run the command again",
                code="auth.gated")
        return AuthRequired(f"{repo} on Hugging Face is gated: you must accept its terms and "
                            "use a token",
                            hint=f"request access on the model page ({page}), then set HF_TOKEN "
                                 "(or run `smx auth login huggingface`)",
                            code="auth.gated")
    if code == "RepoNotFound":
        return NotFound(f"Hugging Face has no repo {repo}" + (
            "" if token.value else " (or it is private)"),
            hint="check OWNER/REPO" + ("" if token.value else
                                       "; for a private repo set HF_TOKEN"),
            code="model.not_found")
    if code == "EntryNotFound":
        return NotFound(f"{repo} has no file {path} at revision {rev}",
                        hint=f"see the files on {page}/tree/{rev}", code="model.not_found")
    if code == "RevisionNotFound":
        return NotFound(f"{repo} has no revision {rev!r}",
                        hint="use a branch, tag or commit that exists (default: main)",
                        code="model.not_found")
    if status == 401:
        return AuthRequired(f"Hugging Face rejected the token from {token.origin}: {message}",
                            hint=TOKEN_HINT)
    if status == 403:
        return AccessDenied(f"Hugging Face refused access to {repo}: {message}", hint=TOKEN_HINT)
    if status == 429:
        return RateLimited(f"Hugging Face is rate-limiting requests for {repo}",
                           hint="wait a few minutes and run the same command again")
    if status == 404:
        return NotFound(f"Hugging Face: {message} ({repo}/{path}@{rev})",
                        code="model.not_found")
    return RemoteError(f"Hugging Face answered HTTP {status} for {repo}/{path}: {message}",
                       hint="run the same command again later; https://status.huggingface.co")


def _body_message(body: bytes) -> str:
    try:
        data = json.loads(body.decode("utf-8"))
        if isinstance(data, dict) and data.get("error"):
            return str(data["error"])
    except (UnicodeDecodeError, ValueError):
        pass
    return body[:200].decode("utf-8", "replace").strip() or "no details"
