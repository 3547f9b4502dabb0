"""`smx ext add <registry-id>[@version]`: a ComfyUI node pack by its Comfy Registry id.

The entry written is ``[packages.P.extensions] NAME = { registry = "<id>", version = "…" }``
(no version: the newest active one, pinned in smx.lock); the install goes through the same
sync step as any extension. The Registry is asked first, so an unknown id ("did you mean"), a
banned pack or a refused version fails before smx.toml is touched.
"""

from __future__ import annotations

import re

import typer

_REF_RE = re.compile(r"^(?P<id>[A-Za-z0-9][A-Za-z0-9._-]{0,99})(?:@(?P<version>[^@\s]+))?$")


def registry_ref(text: str) -> tuple[str, str | None] | None:
    """``id[@version]`` -> (id, version), or None when ``text`` cannot be a Registry id."""
    from smx.environment.manifest import REGISTRY_VERSION_RE
    from smx.errors import UsageError

    match = _REF_RE.match(text.strip())
    if match is None:
        return None
    version = match.group("version")
    if version is not None:
        version = version.removeprefix("v")
        if not REGISTRY_VERSION_RE.match(version):
            raise UsageError(f"{text!r}: {version!r} is not a Comfy Registry version",
                             hint="versions are semantic versions: ID@1.2.3",
                             code="registry.bad_version")
    return match.group("id").lower(), version


def add_registry(ctx: typer.Context, node_id: str, version: str | None, *,
                 package: str | None, name: str | None, allow_unsafe_pickle: bool,
                 allow_pin_change: bool = False, keep_broken: bool = False) -> None:
    from smx.cli.state import locked_env, out
    from smx.environment.manifest import ExtensionSpec
    from smx.errors import UsageError
    from smx.extensions import manage, registry
    from smx.extensions.targets import resolve
    from smx.packages.runner import show_path

    output = out(ctx)
    key = name or node_id
    manage.check_name(key)
    with locked_env(ctx) as env:
        pkg = manage.package_of(env, package)
        from smx.catalog.packages import get_package

        if get_package(pkg.source).extension_style != "comfyui":
            _not_a_source(node_id, pkg.name)
        manage.refuse_existing(pkg, key)
        target = resolve(pkg, ExtensionSpec(name=key, registry=node_id, version=version))
        for other, spec in pkg.extensions.items():
            if spec.registry == node_id or resolve(pkg, spec).folder == target.folder:
                raise UsageError(f"{pkg.name} already has {node_id} (as {other!r})",
                                 code="extension.exists")
        with registry.client(env.manifest.sources) as client:
            node = client.node(node_id)
            chosen = registry.choose(node, client.versions(node_id), version)
        where = node.repository or "its Registry archive"
        output.warn(f"{node.name} ({where}) is third-party code: it runs with your user's "
                    "rights (its install script now, and inside the web UI)")
        result = manage.add(env, output.reporter(), pkg.name, key,
                            {"registry": node_id, "version": version,
                             "allow-pin-change": True if allow_pin_change else None},
                            allow_unsafe_pickle=allow_unsafe_pickle, keep_broken=keep_broken)
        locked = env.lock.packages[pkg.name].extensions[key]
        shown = show_path(target.enabled_dir(env.layout))
    how = f"@ {locked.commit[:12]}" if locked.commit else \
        f"archive sha256 {(locked.archive_sha256 or '')[:12]}"
    output.success(f"added {key} ({node.name} {locked.version or chosen.version}) to "
                   f"{pkg.name}: {shown} {how}")
    from smx.cli.check_cmd import render_checks

    render_checks(output, result)


def _not_a_source(text: str, package: str) -> None:
    import difflib

    from smx.catalog.extensions import KNOWN_EXTENSIONS
    from smx.errors import UsageError

    close = difflib.get_close_matches(text, list(KNOWN_EXTENSIONS), n=1)
    raise UsageError(f"{text!r} is neither a git URL nor a known extension (Comfy Registry ids "
                     f"are for ComfyUI packages; {package} is not one)",
                     hint=(f"did you mean {close[0]!r}? " if close else "")
                     + f"known: {', '.join(KNOWN_EXTENSIONS)}; or give the repository URL "
                       "(https://github.com/OWNER/REPO)", code="extension.unknown")
