"""`smx model outdated`: which models have a newer version at their source.

One request per model, no download: Civitai's ``GET /api/v1/models/{id}`` (the newest published
version against the locked one) and the Hugging Face revision API (the branch's head against the
locked commit; a new commit that did not change the file is not news). Answers are kept for a
few minutes in the user's cache (models/apicache.py), so asking twice in a row costs nothing;
``refresh`` asks again. Both endpoints are public: no token is needed, and one is sent only to
its own service when configured (a private or gated repo needs it).

Plain-URL and ``local:`` models have no versions to compare and are listed as not checked.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from smx.errors import NetworkError, RemoteError, SmxError
from smx.models import apicache
from smx.models.refs import CivitaiRef, HfRef, parse_model_ref

if TYPE_CHECKING:
    from smx.environment.env import Env
    from smx.environment.lock import LockedModel
    from smx.models.http import HttpClient
    from smx.models.settings import Services
    from smx.reporter import Reporter

CACHE = "outdated"
CACHE_S = 10 * 60
_COMMIT = re.compile(r"^[0-9a-f]{40}$")


@dataclass
class OutdatedRow:
    """One checked model (docs/json/model-outdated.md)."""

    name: str
    source: str  # as smx.toml says it
    locked: str  # the pin in smx.lock
    current: str | None  # the locked version's name (Civitai) or short commit (HF)
    latest: str | None  # the newest version's name or short commit
    latest_source: str | None  # the pin that takes it: civitai:M@V, hf:OWNER/REPO/PATH@COMMIT
    outdated: bool
    pinned: bool  # smx.toml names the locked version: `smx lock --upgrade` keeps it
    error: str | None = None

    @property
    def take(self) -> str | None:
        """The command that takes the newer version."""
        if not self.outdated:
            return None
        if self.pinned:
            return f"smx model pull {self.latest_source} --name {self.name} --replace"
        return f"smx lock --upgrade {self.name} && smx sync"


@dataclass
class OutdatedReport:
    rows: list[OutdatedRow]
    unchecked: list[tuple[str, str]]  # (name, why)


def outdated(env: Env, reporter: Reporter, *, refresh: bool = False) -> OutdatedReport:
    from smx.models.settings import services

    svc = services(env.manifest.sources)
    report = OutdatedReport([], [])
    client = svc.client(on_retry=reporter.info)
    down: str | None = None  # once a service cannot be reached, the rest say so too
    try:
        for name, spec in env.manifest.models.items():
            locked = env.lock.models.get(name)
            if locked is None:
                report.unchecked.append((name, "not synced yet"))
                continue
            try:
                ref = parse_model_ref(spec.source)
            except SmxError:
                report.unchecked.append((name, "its source is not valid"))
                continue
            if not isinstance(ref, CivitaiRef | HfRef):
                report.unchecked.append((name, "a plain URL has no versions" if
                                         locked.url else "a local file has no source"))
                continue
            row = OutdatedRow(name, spec.source, locked.source, None, None, None, False,
                              pinned=False)
            if down is not None:
                row.error = down
            else:
                try:
                    if isinstance(ref, CivitaiRef):
                        _civitai(row, ref, locked, client, svc, refresh)
                    else:
                        _huggingface(row, ref, locked, client, svc, refresh)
                except SmxError as exc:
                    row.error = exc.message
                    if isinstance(exc, NetworkError) and not isinstance(exc, RemoteError):
                        down = exc.message
            report.rows.append(row)
    finally:
        client.close()
    return report


def _cached_json(client: HttpClient, url: str, what: str, refresh: bool,
                 on_error: Any) -> dict[str, Any]:
    if not refresh:
        hit = apicache.load(CACHE, url, CACHE_S)
        if isinstance(hit, dict):
            return hit
    data: dict[str, Any] = on_error(client, url, what)
    apicache.store(CACHE, url, data)
    return data


def _civitai(row: OutdatedRow, ref: CivitaiRef, locked: LockedModel, client: HttpClient,
             svc: Services, refresh: bool) -> None:
    from smx.models.sources.civitai import get_json, newest_version

    model_id = ref.model_id or int(locked.civitai.get("model_id") or 0)
    row.pinned = ref.version_id is not None
    data = _cached_json(client, f"{svc.civitai}/api/v1/models/{model_id}",
                        f"Civitai model {model_id}", refresh, get_json)
    locked_id = int(locked.civitai.get("version_id") or 0)
    names = {int(v.get("id") or 0): str(v.get("name") or "")
             for v in data.get("modelVersions") or [] if isinstance(v, dict)}
    row.current = names.get(locked_id) or str(locked_id)
    newest = newest_version(data)
    if newest is None:
        row.error = "Civitai lists no published version of it any more"
        return
    newest_id = int(newest.get("id") or 0)
    row.latest = str(newest.get("name") or newest_id)
    row.latest_source = f"civitai:{model_id}@{newest_id}"
    row.outdated = newest_id != locked_id


def _huggingface(row: OutdatedRow, ref: HfRef, locked: LockedModel, client: HttpClient,
                 svc: Services, refresh: bool) -> None:
    from smx.models.sources.huggingface import hf_error

    row.pinned = bool(ref.revision and _COMMIT.match(ref.revision))
    branch = "main" if row.pinned or not ref.revision else ref.revision
    url = f"{svc.huggingface}/api/models/{ref.repo}/revision/{quote(branch, safe='')}?blobs=true"

    def fetch(client: HttpClient, url: str, what: str) -> dict[str, Any]:
        from smx.models.http import body_of

        response, data = client.get_json(url, what=what)
        if not isinstance(data, dict) or response.status != 200:
            raise hf_error(response, body_of(response), ref.repo, ref.path, branch, svc)
        return data

    data = _cached_json(client, url, f"Hugging Face repo {ref.repo}", refresh, fetch)
    commit = str(data.get("sha") or "")
    locked_commit = str(locked.hf.get("revision") or "")
    row.current = locked_commit[:7] or None
    sibling = next((s for s in data.get("siblings") or []
                    if isinstance(s, dict) and s.get("rfilename") == ref.path), None)
    if sibling is None:
        row.error = f"{ref.repo} has no file {ref.path} at {branch} any more"
        return
    sha = str((sibling.get("lfs") or {}).get("sha256") or "").lower()
    row.latest = commit[:7]
    row.latest_source = f"hf:{ref.repo}/{ref.path}@{commit}"
    # a new commit that left this file as it was is not a newer version of it
    row.outdated = commit != locked_commit and (not sha or sha != locked.sha256)
