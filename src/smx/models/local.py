"""Files placed in the store by hand: `smx model pull local:FOLDER/FILE` registers one.

The file stays where it is. Its folder says its kind (``Lora/`` holds LoRAs); a .safetensors
file's header is read too, and a file whose header shows another kind than its folder gets a
warning (the web UIs look for each kind in its own folder). The entry is written to smx.toml,
`smx sync` hashes the file into smx.lock, and the hash is looked up on Civitai when it can be
reached: a file found there becomes that Civitai version (models/identify.py).
"""

from __future__ import annotations

from smx.apply import apply
from smx.catalog.model_kinds import KINDS_BY_NAME, STORE_FOLDERS, kind_for_folder
from smx.environment import manifest
from smx.environment.env import Env
from smx.errors import NotFound, UsageError
from smx.models.classify import describe_mismatch
from smx.models.headers import file_verdict
from smx.models.outcome import PullOutcome
from smx.models.refs import LocalRef, parse_model_ref
from smx.reporter import Reporter
from smx.steps import SyncOptions


def check_folder(ref: LocalRef, kind: str | None) -> str:
    """The kind of ``ref``'s store folder; an error when --kind asks for another."""
    folder = kind_for_folder(ref.folder)
    if folder is None:
        raise UsageError(f"{ref.folder}/ is not a store folder smx knows",
                         hint="put the file in one of Data/Models/"
                              + ", ".join(STORE_FOLDERS[:8]) + ", …",
                         code="model.bad_reference")
    if kind is not None and kind != folder.name:
        wanted = KINDS_BY_NAME[kind].folder
        raise UsageError(f"{ref.path} is in {ref.folder}/, the folder of {folder.name} models; "
                         f"a {kind} belongs in {wanted}/",
                         hint=f"move it to Data/Models/{wanted}/ and pull "
                              f"local:{wanted}/{ref.filename}, or drop --kind")
    return folder.name


def register(env: Env, ref: LocalRef, *, name: str | None, default_name: str,
             kind: str | None, reporter: Reporter, identify: bool = True,
             allow_unsafe: bool = False) -> PullOutcome:
    """Add ``ref`` to smx.toml under ``name`` (else ``default_name``) and record it (after the
    pickle scan, which ``allow_unsafe`` overrides)."""
    folder_kind = check_folder(ref, kind)
    path = env.layout.store_file(ref.path)
    if not path.is_file():
        raise NotFound(f"there is no file {ref.path} in Data/Models",
                       hint=f"copy the model to {path} first, then run the same command "
                            "(local: registers a file placed by hand; to download one, pull "
                            "its civitai:, hf: or https:// source)",
                       code="model.local_missing")
    shown = path.relative_to(env.root).as_posix()  # Data/Models/FOLDER/FILE
    existing = next((n for n, spec in env.manifest.models.items()
                     if _is(spec.source, ref)), None)
    if existing is None and name is None:
        from smx.models.store import users_of

        owner = next((n for n in users_of(env.lock, env.layout, path)
                      if n in env.manifest.models), None)
        if owner is not None:  # registered before, and identified since
            locked = env.lock.models[owner]
            reporter.info(f"{ref.path} is already model {owner} ({locked.source})")
            return PullOutcome(owner, "present", shown, kind=locked.kind,
                               base_model=locked.base_model, size=locked.size,
                               sha256=locked.sha256, source=locked.source)
    name = name or existing or default_name
    current = env.manifest.models.get(name)
    if current is not None and not _is(current.source, ref):
        raise UsageError(f"smx.toml already has a model named {name!r} "
                         f"(source = {current.source!r})",
                         hint="pass --name to register this file under another name")
    verdict = file_verdict(path)
    if verdict is not None:
        warning = describe_mismatch(ref.filename, folder_kind, verdict)
        if warning:
            reporter.warn(warning)

    def change(doc: object) -> None:
        manifest.table_for(doc, "models")[name] = manifest.inline(
            {"source": str(ref), "kind": None})

    result = apply(env, change if current is None else None,
                   SyncOptions(only={name}, areas={"model"}, prune=False,
                               allow_unsafe=allow_unsafe), reporter)
    outcome = result.outcomes.models.get(name)
    locked = env.lock.models[name]
    if outcome is None:
        outcome = PullOutcome(name, "present", shown, kind=locked.kind,
                              base_model=locked.base_model, size=locked.size,
                              sha256=locked.sha256, source=locked.source)
    outcome.action = "present" if current is not None else "registered"
    if identify:
        from smx.models.identify import identify as look_up

        rows = look_up(env, [name], reporter, explicit=False)
        if rows and rows[0].status == "identified":
            locked = env.lock.models[name]
            outcome.source, outcome.base_model = locked.source, locked.base_model
    return outcome


def _is(source: str, ref: LocalRef) -> bool:
    try:
        return parse_model_ref(source) == ref
    except UsageError:
        return False
