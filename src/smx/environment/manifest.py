"""smx.toml: load and validate into dataclasses; edit keeping the user's comments; save atomically.

Every error names the file, line and column (``smx.toml:7:12: expected a string for
packages.a1111.ref``) and a hint. Edits go through tomlkit so comments and ordering survive, and
the result is re-validated before the atomic write: an edit can never leave a file smx itself
would refuse to read.
"""

from __future__ import annotations

import difflib
import os
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from smx.environment.names import is_store_filename
from smx.environment.tomlpos import KeyPath, Position, index_positions
from smx.errors import ConfigError, ConfigProblems, SmxError
from smx.fsutil import atomic_write_text

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

BACKENDS = ("auto", "cuda", "rocm", "cpu", "mps")
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
SHA256_RE = re.compile(r"^[0-9a-fA-F]{64}$")
# Comfy Registry node ids are the pyproject.toml [project] name, lowercased by the Registry
REGISTRY_ID_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,99}$")
REGISTRY_VERSION_RE = re.compile(r"^\d+\.\d+\.\d+$")

DEFAULT_MANIFEST = """\
# smx environment: what you want. smx makes the disk match it (`smx sync`).
# Docs: see README.md and docs/ of smx.

[env]
name = "{name}"

[torch]
backend = "auto"          # auto | cuda | rocm | cpu | mps ; auto = what `smx doctor` advises
index = "auto"            # auto (from the backend) | a wheel-index URL | "pip" (pip's own config)

[packages]

[models]
"""


# --- the data ------------------------------------------------------------------------------
@dataclass
class ExtensionSpec:
    name: str
    git: str | None = None  # None: a known extension (catalog) or a Comfy Registry id
    ref: str | None = None
    enabled: bool = True
    # let this extension move the package's protected pins (smx.packages.protect)
    allow_pin_change: bool = False
    registry: str | None = None  # a Comfy Registry node id (ComfyUI custom nodes)
    version: str | None = None  # its Registry version; None = the newest active one


@dataclass
class PackageSpec:
    name: str
    source: str  # catalog name: a1111 | forge | comfyui | fooocus
    git: str | None = None  # a fork's URL; None = the catalog's URL
    ref: str | None = None  # tag, branch or commit; None = the catalog's pinned default
    python: str | None = None
    backend: str | None = None  # overrides [torch] backend for this package
    args: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    extensions: dict[str, ExtensionSpec] = field(default_factory=dict)
    # resolve requirements as of this date ("2024-08-01", an RFC 3339 time, or "now");
    # None: the newest commit of the package and its extensions plus a week (packages.asof)
    resolve_as_of: str | None = None


@dataclass
class ModelSpec:
    name: str
    source: str
    kind: str | None = None
    file: str | None = None  # Civitai: which file of the version (name or id)
    sha256: str | None = None  # expected digest for plain URLs
    filename: str | None = None  # store the file under this name


@dataclass
class TorchSettings:
    backend: str = "auto"
    index: str = "auto"  # auto | pip | URL


@dataclass
class SourceSettings:
    civitai: str | None = None
    huggingface: str | None = None
    comfy_registry: str | None = None  # the Comfy Registry API (mirrors, tests)


@dataclass
class LaunchSettings:
    auto_vram: bool = False
    package: str | None = None  # which package `smx launch` starts when none is named
    unsafe_pickle_ok: bool = False  # user opted in to --disable-safe-unpickle (A1111 family)


@dataclass
class Manifest:
    path: Path
    name: str
    torch: TorchSettings
    sources: SourceSettings
    launch: LaunchSettings
    packages: dict[str, PackageSpec]
    models: dict[str, ModelSpec]


# --- validation ----------------------------------------------------------------------------
class _Checker:
    """Collects every mistake of one file; the caller raises them together, in file order.

    Each check reports what is wrong and returns a neutral value (None, {}, the default) so
    the checks after it still run; checks that need a valid value (the extensions of a
    package whose source is unknown) are skipped rather than reported twice.
    """

    def __init__(self, path: Path, text: str) -> None:
        self.path = path
        self.text = text
        self.problems: list[tuple[tuple[int, int, int], ConfigError]] = []
        self._positions: dict[KeyPath, Position] | None = None

    def fail(self, key_path: KeyPath, message: str, hint: str | None = None,
             at_key: bool = False) -> None:
        pos = self._locate(key_path)
        where = display_path(self.path)
        order = (sys.maxsize, 0)
        if pos is not None:
            col = pos.key_col if at_key else pos.value_col
            where = f"{where}:{pos.line}:{col}"
            order = (pos.line, col)
        self.problems.append(((*order, len(self.problems)),
                              ConfigError(f"{where}: {message}", hint=hint)))

    def _locate(self, key_path: KeyPath) -> Position | None:
        if self._positions is None:
            self._positions = index_positions(self.text)
        for cut in range(len(key_path), 0, -1):
            found = self._positions.get(tuple(key_path[:cut]))
            if found is not None:
                return found
        return None

    def raise_problems(self) -> None:
        if not self.problems:
            return
        ordered = [problem for _order, problem in sorted(self.problems, key=lambda p: p[0])]
        raise ordered[0] if len(ordered) == 1 else ConfigProblems(ordered)

    def table(self, value: Any, key_path: KeyPath) -> dict[str, Any]:
        if not isinstance(value, dict):
            self.fail(key_path, f"expected a table for {_dotted(key_path)}")
            return {}
        return value

    def keys(self, table: dict[str, Any], key_path: KeyPath, allowed: tuple[str, ...]) -> None:
        for key in table:
            if key not in allowed:
                close = difflib.get_close_matches(key, allowed, n=1)
                hint = (f"did you mean {close[0]!r}?" if close
                        else f"allowed keys: {', '.join(allowed)}")
                self.fail((*key_path, key), f"unknown key {_dotted((*key_path, key))}",
                          hint=hint, at_key=True)

    def string(self, table: dict[str, Any], key_path: KeyPath, key: str,
               required: bool = False, choices: tuple[str, ...] | None = None) -> str | None:
        if key not in table:
            if required:
                self.fail(key_path, f"missing key {_dotted((*key_path, key))}",
                          hint=f"add `{key} = \"...\"` to [{_dotted(key_path)}]")
            return None
        value = table[key]
        if not isinstance(value, str):
            self.fail((*key_path, key), f"expected a string for {_dotted((*key_path, key))}")
            return None
        if choices is not None and value not in choices:
            close = difflib.get_close_matches(value, choices, n=1)
            hint = f"did you mean {close[0]!r}?" if close else f"one of: {', '.join(choices)}"
            self.fail((*key_path, key),
                      f"{value!r} is not a valid {_dotted((*key_path, key))}", hint=hint)
            return None
        return value

    def boolean(self, table: dict[str, Any], key_path: KeyPath, key: str, default: bool) -> bool:
        if key not in table:
            return default
        value = table[key]
        if not isinstance(value, bool):
            self.fail((*key_path, key), f"expected true or false for {_dotted((*key_path, key))}")
            return default
        return value

    def string_list(self, table: dict[str, Any], key_path: KeyPath, key: str) -> list[str]:
        value = table.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.fail((*key_path, key),
                      f"expected a list of strings for {_dotted((*key_path, key))}")
            return []
        return list(value)

    def string_map(self, table: dict[str, Any], key_path: KeyPath, key: str) -> dict[str, str]:
        value = table.get(key, {})
        if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
            self.fail((*key_path, key),
                      f"expected a table of strings for {_dotted((*key_path, key))}")
            return {}
        return dict(value)

    def git(self, table: dict[str, Any], key_path: KeyPath, key: str) -> str | None:
        """A git URL (``key == "git"``) or ref, refused as smx.gitcheck says, at its position."""
        from smx.gitcheck import REF_HINT, URL_HINT, ref_problem, url_problem

        value = self.string(table, key_path, key)
        if value is None:
            return None
        why = url_problem(value) if key == "git" else ref_problem(value)
        if why is not None:
            self.fail((*key_path, key), f"{_dotted((*key_path, key))} is refused: {why}",
                      hint=URL_HINT if key == "git" else REF_HINT)
            return None
        return value

    def name(self, name: str, key_path: KeyPath) -> bool:
        if not NAME_RE.match(name):
            self.fail(key_path, f"invalid name {name!r} in {_dotted(key_path[:-1])}",
                      hint="names use letters, digits, '.', '_' and '-' (max 64)", at_key=True)
            return False
        return True


def _dotted(path: KeyPath) -> str:
    return ".".join(path)


def display_path(path: Path) -> str:
    """Relative to the cwd when the file is below it (short), else absolute (unambiguous)."""
    absolute = Path(os.path.abspath(path))
    try:
        return str(absolute.relative_to(Path.cwd()))
    except ValueError:
        return str(absolute)


def _package_sources() -> tuple[str, ...]:
    from smx.catalog.packages import PACKAGES

    return tuple(PACKAGES)


def _model_kinds() -> tuple[str, ...]:
    from smx.catalog.model_kinds import KIND_NAMES

    return KIND_NAMES


def parse_text(path: Path, text: str) -> Manifest:
    """Validate smx.toml: every mistake is reported (ConfigProblems when several), each with
    file:line:col, in the order of the file. The one validation every command uses."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise _syntax_error(path, exc) from None
    check = _Checker(path, text)
    check.keys(data, (), ("env", "torch", "sources", "launch", "packages", "models"))

    env = check.table(data.get("env", {}), ("env",))
    check.keys(env, ("env",), ("name",))
    name = check.string(env, ("env",), "name") or path.parent.name

    torch_t = check.table(data.get("torch", {}), ("torch",))
    check.keys(torch_t, ("torch",), ("backend", "index"))
    torch = TorchSettings(
        backend=check.string(torch_t, ("torch",), "backend", choices=BACKENDS) or "auto",
        index=check.string(torch_t, ("torch",), "index") or "auto",
    )
    if torch.index not in ("auto", "pip") and not torch.index.startswith(
        ("http://", "https://", "file://")
    ):
        check.fail(("torch", "index"), f"{torch.index!r} is not a valid torch.index",
                   hint='use "auto", "pip" or a wheel-index URL')

    src_t = check.table(data.get("sources", {}), ("sources",))
    check.keys(src_t, ("sources",), ("civitai", "huggingface", "comfy-registry"))
    sources = SourceSettings(
        civitai=check.string(src_t, ("sources",), "civitai"),
        huggingface=check.string(src_t, ("sources",), "huggingface"),
        comfy_registry=check.string(src_t, ("sources",), "comfy-registry"),
    )

    launch_t = check.table(data.get("launch", {}), ("launch",))
    check.keys(launch_t, ("launch",), ("auto-vram", "package", "unsafe-pickle-ok"))
    launch = LaunchSettings(
        auto_vram=check.boolean(launch_t, ("launch",), "auto-vram", False),
        package=check.string(launch_t, ("launch",), "package"),
        unsafe_pickle_ok=check.boolean(launch_t, ("launch",), "unsafe-pickle-ok", False),
    )

    packages: dict[str, PackageSpec] = {}
    pk_t = check.table(data.get("packages", {}), ("packages",))
    sources_known = _package_sources()
    for pname, raw in pk_t.items():
        kp = ("packages", pname)
        check.name(pname, kp)
        table = check.table(raw, kp)
        check.keys(table, kp, ("source", "git", "ref", "python", "backend", "args", "env",
                               "extensions", "resolve-as-of"))
        source = check.string(table, kp, "source", required=True)
        if source is not None and source not in sources_known:
            close = difflib.get_close_matches(source, sources_known, n=1)
            hint = (f"did you mean {close[0]!r}?" if close else
                    f"known packages: {', '.join(sources_known)}; for a fork keep "
                    f"source = \"<package>\" and add git = \"<url>\"")
            check.fail((*kp, "source"), f"unknown package source {source!r} for "
                       f"{_dotted((*kp, 'source'))}", hint=hint)
            source = None
        extensions: dict[str, ExtensionSpec] = {}
        ext_t = check.table(table.get("extensions", {}), (*kp, "extensions"))
        for ename, eraw in ext_t.items():
            ekp = (*kp, "extensions", ename)
            check.name(ename, ekp)
            etable = check.table(eraw, ekp)
            check.keys(etable, ekp, ("git", "ref", "enabled", "allow-pin-change", "registry",
                                     "version"))
            extensions[ename] = _extension(check, ename, etable, ekp)
        as_of = check.string(table, kp, "resolve-as-of")
        if as_of is not None:
            from smx.packages.asof import parse_setting

            try:
                parse_setting(as_of)
            except ValueError:
                check.fail((*kp, "resolve-as-of"),
                           f"{as_of!r} is not a date for {_dotted((*kp, 'resolve-as-of'))}",
                           hint='use "2024-08-01", "2024-08-01T12:00:00Z" or "now"')
        if source is not None:
            _check_extensions(check, kp, source, extensions, ext_t)
        packages[pname] = PackageSpec(
            name=pname,
            source=source or "",
            git=check.git(table, kp, "git"),
            ref=check.git(table, kp, "ref"),
            python=check.string(table, kp, "python"),
            backend=check.string(table, kp, "backend", choices=BACKENDS),
            args=check.string_list(table, kp, "args"),
            env=check.string_map(table, kp, "env"),
            extensions=extensions,
            resolve_as_of=as_of,
        )
    if launch.package is not None and launch.package not in packages:
        check.fail(("launch", "package"),
                   f"launch.package names {launch.package!r}, which is not in [packages]")

    models: dict[str, ModelSpec] = {}
    md_t = check.table(data.get("models", {}), ("models",))
    kinds = _model_kinds()
    for mname, raw in md_t.items():
        kp = ("models", mname)
        check.name(mname, kp)
        table = check.table(raw, kp)
        check.keys(table, kp, ("source", "kind", "file", "sha256", "filename"))
        source = check.string(table, kp, "source", required=True)
        if source is not None:
            try:
                from smx.models.refs import parse_model_ref

                parse_model_ref(source)
            except SmxError as exc:
                check.fail((*kp, "source"), f"{exc.message} in {_dotted((*kp, 'source'))}",
                           hint=exc.hint)
        sha = check.string(table, kp, "sha256")
        if sha is not None and not SHA256_RE.match(sha):
            check.fail((*kp, "sha256"), f"{_dotted((*kp, 'sha256'))} is not a SHA-256",
                       hint="64 hexadecimal characters")
        filename = check.string(table, kp, "filename")
        if filename is not None and not is_store_filename(filename):
            # the rule smx.lock and names from servers follow (environment/names.py)
            check.fail((*kp, "filename"), f"{_dotted((*kp, 'filename'))} must be a plain "
                       "file name", hint="no folders, no leading dot, none of <>:\"|?*, "
                                         "no control characters")
        models[mname] = ModelSpec(
            name=mname,
            source=source or "",
            kind=check.string(table, kp, "kind", choices=kinds),
            file=check.string(table, kp, "file"),
            sha256=sha.lower() if sha else None,
            filename=filename,
        )
    check.raise_problems()
    return Manifest(path=path, name=name, torch=torch, sources=sources, launch=launch,
                    packages=packages, models=models)


def _extension(check: _Checker, name: str, table: dict[str, Any], kp: KeyPath) -> ExtensionSpec:
    spec = ExtensionSpec(
        name=name,
        git=check.git(table, kp, "git"),
        ref=check.git(table, kp, "ref"),
        enabled=check.boolean(table, kp, "enabled", True),
        allow_pin_change=check.boolean(table, kp, "allow-pin-change", False),
        registry=check.string(table, kp, "registry"),
        version=check.string(table, kp, "version"),
    )
    if spec.registry is not None:
        if spec.git is not None:
            check.fail((*kp, "registry"), f"{_dotted(kp)} has both git and registry",
                       hint="keep one: registry = \"<id>\" (Comfy Registry) or git = \"<url>\"")
        if spec.ref is not None:
            check.fail((*kp, "ref"), f"{_dotted((*kp, 'ref'))}: a Registry node pack takes a "
                       "version, not a ref", hint='version = "1.2.3"')
        if not REGISTRY_ID_RE.match(spec.registry):
            check.fail((*kp, "registry"), f"{spec.registry!r} is not a Comfy Registry id",
                       hint="ids are lowercase letters, digits, '-', '_' and '.', e.g. "
                            "comfyui-animatediff-evolved")
        if spec.version is not None and not REGISTRY_VERSION_RE.match(spec.version):
            check.fail((*kp, "version"), f"{spec.version!r} is not a Registry version",
                       hint="versions are semantic versions, e.g. 1.5.7")
    elif spec.version is not None:
        check.fail((*kp, "version"), f"{_dotted((*kp, 'version'))} needs registry",
                   hint="a git extension takes ref = \"<tag, branch or commit>\"")
    return spec


def _check_extensions(check: _Checker, kp: KeyPath, source: str,
                      extensions: dict[str, ExtensionSpec], raw: dict[str, Any]) -> None:
    """An entry without git (or a Registry id) must be an extension smx knows for this kind of
    web UI: the same rule for `smx status`, `smx ext list` and `smx sync`
    (extensions/targets.py resolves it)."""
    if not extensions:
        return
    from smx.catalog.extensions import KNOWN_EXTENSIONS
    from smx.catalog.packages import PACKAGES

    catalog = PACKAGES[source]
    if catalog.extension_style not in ("a1111", "comfyui"):
        check.fail((*kp, "extensions"), f"{catalog.title} has no extensions, yet "
                   f"{_dotted((*kp, 'extensions'))} lists some", hint="remove them",
                   at_key=True)
        return
    for ename in extensions:
        ekp = (*kp, "extensions", ename)
        entry = raw.get(ename)
        # a bad git or registry value is reported once, by _extension
        if not isinstance(entry, dict) or "git" in entry or "registry" in entry:
            continue
        known = KNOWN_EXTENSIONS.get(ename)
        if known is None:
            close = difflib.get_close_matches(ename, list(KNOWN_EXTENSIONS), n=1)
            check.fail(ekp, f"{_dotted(ekp)} has no git URL and {ename!r} is not an "
                       "extension smx knows", at_key=True,
                       hint=f"did you mean {close[0]!r}?" if close else
                       f"add git = \"https://…\", or use a known name: "
                       f"{', '.join(KNOWN_EXTENSIONS)}")
        elif catalog.name not in known.variants:
            check.fail(ekp, f"smx knows no {known.title} for {catalog.title} (only for "
                       f"{', '.join(known.variants)})", at_key=True,
                       hint="give its repository with git = \"https://…\"")


_POS_RE = re.compile(r"\(at line (\d+), column (\d+)\)")


def _syntax_error(path: Path, exc: Exception) -> ConfigError:
    text = str(exc)
    match = _POS_RE.search(text)
    message = _POS_RE.sub("", text).strip().rstrip(".")
    where = display_path(path)
    if match:
        where = f"{where}:{match.group(1)}:{match.group(2)}"
    return ConfigError(f"{where}: TOML syntax error: {message}",
                       hint="fix the line above; smx has not changed the file",
                       code="config.syntax")


def load(path: Path) -> Manifest:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{display_path(path)}: no such file",
                          hint="run `smx init` to create an environment") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{display_path(path)}: not UTF-8 text",
                          hint="save smx.toml as UTF-8") from None
    return parse_text(path, text)


# --- editing -------------------------------------------------------------------------------
@dataclass
class ManifestEdit:
    """A comment-preserving edit of smx.toml (tomlkit), validated when it is made and written
    only when :meth:`write` is called: a command can act on the edited declaration first and
    write it once the work it asks for is done (smx.apply)."""

    path: Path
    original: str
    text: str
    manifest: Manifest  # the edited declaration
    written: bool = False

    @classmethod
    def prepare(cls, path: Path, change: Callable[[Any], None]) -> ManifestEdit:
        import tomlkit

        original = path.read_text(encoding="utf-8")
        parse_text(path, original)  # refuse to edit a file that is already invalid
        doc = tomlkit.parse(original)
        change(doc)
        text = tomlkit.dumps(doc)
        return cls(path=path, original=original, text=text, manifest=parse_text(path, text),
                   written=text == original)

    def write(self) -> None:
        """Write the edited smx.toml, atomically (once; later calls do nothing)."""
        if self.written:
            return
        atomic_write_text(self.path, self.text)
        self.written = True


def table_for(doc: Any, *keys: str) -> Any:
    """Get or create the (super)table ``keys`` in a tomlkit document. Inside an inline table
    (``a1111 = { source = "a1111" }``) a new table is inline too: TOML allows nothing else."""
    import tomlkit
    from tomlkit.items import InlineTable

    node = doc
    for key in keys:
        if key not in node:
            node[key] = tomlkit.inline_table() if isinstance(node, InlineTable) \
                else tomlkit.table(is_super_table=False)
        node = node[key]
    return node


def inline(values: dict[str, Any]) -> Any:
    """An inline table (``x = { source = "…" }``), as users write models and extensions."""
    import tomlkit

    table = tomlkit.inline_table()
    for key, value in values.items():
        if value is not None:
            table[key] = value
    return table


def edit(path: Path, change: Callable[[Any], None]) -> Manifest:
    """Edit smx.toml now (nothing is written when ``change`` raises or the text is invalid)."""
    made = ManifestEdit.prepare(path, change)
    made.write()
    return made.manifest


def render_default(name: str) -> str:
    return DEFAULT_MANIFEST.format(name=name.replace('"', ""))
