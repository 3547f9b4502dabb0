"""Sync for models: smx.toml ``[models]`` vs smx.lock + the store -> pull / remove steps.

Planning reads only smx.toml, smx.lock and file sizes: a no-op plan makes no network request.
A model is fetched when it is not in the lock, when its smx.toml entry no longer matches the
lock, when its file is missing (or has the wrong size), or when ``--upgrade`` names it. A lock
that still matches smx.toml is reused as is (its pinned version/revision/SHA-256, URL derived
from the configured endpoint), so `smx sync` rebuilds exactly what was locked; ``--frozen``
refuses anything else (smx.agreement, before planning). Each step records the model in smx.lock
only after the file is in place.
"""

from __future__ import annotations

from functools import partial

from smx import diskstate
from smx.agreement import model_fits
from smx.catalog.model_kinds import KINDS_BY_NAME, kind_for_folder
from smx.environment.lock import LockedModel
from smx.errors import ChecksumMismatch, ConfigError, NotFound
from smx.models import store
from smx.models.outcome import PullOutcome
from smx.models.refs import LocalRef, parse_model_ref
from smx.steps import Step, SyncContext


class ModelExecutor:
    def plan(self, ctx: SyncContext) -> list[Step]:
        env, options = ctx.env, ctx.options
        upgrade = options.upgrade
        steps: list[Step] = []
        records = diskstate.load(env.layout)  # one small file: what smx last checked here
        for name, spec in env.manifest.models.items():
            locked = env.lock.models.get(name)
            wants_upgrade = upgrade is not None and (not upgrade or name in upgrade)
            matches = locked is not None and model_fits(spec, locked)
            fresh = options.resolved.get(name)
            if fresh is not None and locked is not None and fresh.source != locked.source:
                wants_upgrade = True  # `model pull` found a newer file than the lock's
            if locked is not None and matches and not wants_upgrade and store.present(
                    env.layout, locked):
                why = diskstate.distrust(env.layout, locked, records)
                if why is None:
                    continue
                if why == "relocked":  # `smx lock` moved it to other bytes of the same size
                    steps.append(Step("model", name, "pull",
                                      f"{locked.source} (smx.lock pins other bytes than the "
                                      "stored file)", partial(pull_model, name=name)))
                else:
                    steps.append(Step("model", name, "verify",
                                      f"{locked.filename} changed on disk since smx checked "
                                      "it: re-hash it (fetch it again if its bytes differ)",
                                      partial(pull_model, name=name)))
                continue
            if isinstance(parse_model_ref(spec.source), LocalRef):
                steps.append(Step("model", name, "check", f"{spec.source} (on disk only)",
                                  partial(check_local, name=name)))
                continue
            if locked is None:
                detail = f"{spec.source} (new)"
            elif not matches or wants_upgrade:
                detail = f"{spec.source} (re-resolve; locked {locked.source})"
            else:
                detail = f"{locked.source} (missing from the store)"
            steps.append(Step("model", name, "pull", detail, partial(pull_model, name=name)))
        if options.prune:
            for name, locked in env.lock.models.items():
                if name not in env.manifest.models:
                    steps.append(Step("model", name, "remove",
                                      f"{locked.filename} (no longer in smx.toml)",
                                      partial(remove_model, name=name)))
        return steps


# --- steps -----------------------------------------------------------------------------------
def pull_model(ctx: SyncContext, *, name: str) -> None:
    from smx.models.pulling import Puller

    Puller(ctx, name).run()
    ctx.work_done()
    _checked(ctx, name)


def _checked(ctx: SyncContext, name: str) -> None:
    """Record the model's file as checked, and remove smx's own previous file of the model
    (it moved to another file: a new version pinned by `smx lock --upgrade`)."""
    env = ctx.env
    locked = env.lock.models.get(name)
    if locked is None:
        return
    diskstate.remember(env.layout, name, locked)
    old = diskstate.previous_files(env.layout, name, env.lock)
    for path in old:
        path.unlink(missing_ok=True)
        ctx.reporter.info(f"{name}: removed the previous file "
                          f"{path.relative_to(env.root).as_posix()}")
    diskstate.forget(env.layout, old)


def remove_model(ctx: SyncContext, *, name: str) -> None:
    env = ctx.env
    locked = env.lock.models.get(name)
    if locked is None:
        return
    ctx.work_done()  # a removal: smx.toml first, so a kill -9 cannot bring the entry back
    outcomes = ctx.outcomes.models
    path = store.locked_path(env.layout, locked)
    rel = path.relative_to(env.root).as_posix() if path is not None else None
    if locked.source.startswith("local:"):
        # smx never downloaded it and cannot get it back: leave the user's file alone.
        ctx.reporter.info(f"{name}: forgotten; its file {rel} was not downloaded by smx and "
                          "is kept")
        outcomes[name] = PullOutcome(name, "kept", rel)
    else:
        deleted = store.remove_stored(env, name)
        if deleted is not None:
            ctx.reporter.info(f"removed {name} ({rel})")
            outcomes[name] = PullOutcome(name, "removed", rel)
        else:
            others = store.users_of(env.lock, env.layout, path, exclude=name) if path else []
            why = f"still used by {', '.join(others)}" if others else "already gone"
            ctx.reporter.info(f"{name}: dropped from smx.lock; file {rel} {why}")
            outcomes[name] = PullOutcome(name, "kept", rel)
    del env.lock.models[name]
    diskstate.forget_missing(env.layout)


def check_local(ctx: SyncContext, *, name: str) -> None:
    """A ``local:`` model: nothing to fetch; check the file and record its hash."""
    env = ctx.env
    spec = env.manifest.models[name]
    ref = parse_model_ref(spec.source)
    assert isinstance(ref, LocalRef)
    folder_kind = kind_for_folder(ref.folder)
    kind = spec.kind or (folder_kind.name if folder_kind else None)
    if kind is None or kind not in KINDS_BY_NAME:
        raise ConfigError(f"models.{name}: {ref.folder!r} is not a store folder smx knows",
                          hint="add kind = \"...\" to the entry")
    path = env.layout.store_file(ref.path)
    if not path.is_file():
        raise NotFound(f"model {name} ({spec.source}) is not in the store: {path}",
                       hint="local: models exist only on disk and cannot be downloaded; copy "
                            "the file there, or remove the entry",
                       code="model.local_missing")
    locked = env.lock.models.get(name)
    digest = store.hash_file(path, ctx.reporter, f"checking {name}")
    expected = spec.sha256 or (locked.sha256 if locked is not None else None)
    if expected and digest != expected:
        raise ChecksumMismatch(f"{name}: {path} has sha256 {digest}, expected {expected}",
                               hint="the file changed; put the right file back or update "
                                    "sha256 in smx.toml")
    from smx.models import safety
    from smx.models.headers import file_verdict

    allowed = safety.scan_for_code(path, ref.filename, sha256=digest,
                                   allow_unsafe=ctx.options.allow_unsafe)
    if allowed:
        ctx.reporter.warn(f"{name}: recorded despite what the pickle scan refuses "
                          f"({', '.join(allowed[:3])}) because of --allow-unsafe")
    verdict = file_verdict(path)
    base = verdict.family if verdict is not None else None
    if base is None and locked is not None and locked.sha256 == digest:
        base = locked.base_model
    env.lock.models[name] = LockedModel(name=name, source=str(ref), kind=kind,
                                        filename=ref.filename, size=path.stat().st_size,
                                        sha256=digest, base_model=base)
    ctx.outcomes.models[name] = PullOutcome(
        name, "present", path.relative_to(env.root).as_posix(), kind=kind,
        base_model=base, size=path.stat().st_size, sha256=digest, source=str(ref))
    ctx.work_done()
    diskstate.remember(env.layout, name, env.lock.models[name])

