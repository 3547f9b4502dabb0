"""Tiny pure-Python wheels written by hand (a wheel is a zip with METADATA, WHEEL and RECORD),
so tests install real packages with real pip/uv from a local folder, with no network and no
build tools.

    build_wheel(wheelhouse, "torch", "2.1.2", {"torch/__init__.py": "__version__ = '2.1.2'"})
    # then: PIP_FIND_LINKS=wheelhouse PIP_NO_INDEX=1 (uv: UV_FIND_LINKS / UV_NO_INDEX)

``inline_backend_project`` gives the files of a source tree that builds itself into such a
wheel (an in-tree PEP 517 backend), for code that pip-installs a local folder or git clone,
even with ``--no-build-isolation`` and no setuptools.
"""

from __future__ import annotations

import base64
import hashlib
import io
import re
import tarfile
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "_", name).lower()


def build_wheel(dest: Path, name: str, version: str,
                files: Mapping[str, str | bytes] | None = None, *,
                requires: Sequence[str] = (), python_requires: str | None = None) -> Path:
    """Write ``name-version-py3-none-any.whl`` into ``dest`` and return its path.

    ``files``: paths inside site-packages -> content. Default: one module named like the
    distribution (``smx-fake-dep`` -> ``smx_fake_dep/__init__.py``) with ``__version__``.
    """
    dest.mkdir(parents=True, exist_ok=True)
    dist = normalize(name)
    if files is None:
        files = {f"{dist}/__init__.py": f"__version__ = {version!r}\n"}
    info = f"{dist}-{version}.dist-info"
    metadata = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}"]
    if python_requires:
        metadata.append(f"Requires-Python: {python_requires}")
    metadata += [f"Requires-Dist: {req}" for req in requires]
    entries: dict[str, bytes] = {
        path: content.encode() if isinstance(content, str) else content
        for path, content in files.items()
    }
    entries[f"{info}/METADATA"] = ("\n".join(metadata) + "\n").encode()
    entries[f"{info}/WHEEL"] = (b"Wheel-Version: 1.0\nGenerator: smx-tests\n"
                                b"Root-Is-Purelib: true\nTag: py3-none-any\n")
    record = [f"{path},sha256={_digest(data)},{len(data)}" for path, data in entries.items()]
    record.append(f"{info}/RECORD,,")
    entries[f"{info}/RECORD"] = ("\n".join(record) + "\n").encode()
    wheel = dest / f"{dist}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_DEFLATED) as archive:
        for path, data in entries.items():
            info_entry = zipfile.ZipInfo(path, date_time=(2024, 1, 1, 0, 0, 0))
            info_entry.external_attr = 0o644 << 16
            archive.writestr(info_entry, data)
    return wheel


def _digest(data: bytes) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


_BACKEND = '''\
"""A PEP 517 build backend that packs the listed modules into a pure-Python wheel."""
import base64, hashlib, os, zipfile

NAME = {name!r}
VERSION = {version!r}
MODULES = {modules!r}
REQUIRES = {requires!r}


def _digest(data):
    return base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def get_requires_for_build_wheel(config_settings=None):
    return []


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
{hook}
    dist = NAME.replace("-", "_").lower()
    info = dist + "-" + VERSION + ".dist-info"
    entries = {{}}
    for module in MODULES:
        for root, _dirs, names in os.walk(module):
            for fname in names:
                if fname.endswith(".pyc"):
                    continue
                path = os.path.join(root, fname)
                with open(path, "rb") as handle:
                    entries[path.replace(os.sep, "/")] = handle.read()
    meta = ["Metadata-Version: 2.1", "Name: " + NAME, "Version: " + VERSION]
    meta += ["Requires-Dist: " + r for r in REQUIRES]
    entries[info + "/METADATA"] = ("\\n".join(meta) + "\\n").encode()
    entries[info + "/WHEEL"] = b"Wheel-Version: 1.0\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n"
    record = [p + ",sha256=" + _digest(d) + "," + str(len(d)) for p, d in entries.items()]
    record.append(info + "/RECORD,,")
    entries[info + "/RECORD"] = ("\\n".join(record) + "\\n").encode()
    filename = dist + "-" + VERSION + "-py3-none-any.whl"
    with zipfile.ZipFile(os.path.join(wheel_directory, filename), "w") as archive:
        for path, data in entries.items():
            archive.writestr(path, data)
    return filename
'''


def inline_backend_project(name: str, version: str, modules: Mapping[str, str], *,
                           requires: Sequence[str] = (), build_hook: str = "") -> dict[str, str]:
    """Files of a source tree that pip can install from a folder with no build tools:
    ``pyproject.toml`` (an in-tree backend via ``backend-path``), the backend, and
    ``modules`` (path -> content; their top-level *folders* are packed). ``build_hook`` is
    Python code (indented 4 spaces) run at the start of the build, e.g. to make it slow."""
    top = sorted({path.split("/", 1)[0] for path in modules})
    files = dict(modules)
    files["pyproject.toml"] = (
        "[build-system]\nrequires = []\nbuild-backend = \"smx_test_backend\"\n"
        "backend-path = [\".\"]\n")
    files["smx_test_backend.py"] = _BACKEND.format(name=name, version=version, modules=top,
                                                   requires=list(requires),
                                                   hook=build_hook or "    pass")
    return files


def build_sdist(dest: Path, name: str, version: str, files: Mapping[str, str]) -> Path:
    """Write ``name-version.tar.gz`` (a source distribution of ``files``, e.g. from
    :func:`inline_backend_project`) into ``dest``: pip and uv build it when they install it."""
    dest.mkdir(parents=True, exist_ok=True)
    dist = normalize(name)
    root = f"{dist}-{version}"
    entries = dict(files)
    entries["PKG-INFO"] = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
    path = dest / f"{root}.tar.gz"
    with tarfile.open(path, "w:gz") as archive:
        for rel, content in entries.items():
            data = content.encode()
            info = tarfile.TarInfo(f"{root}/{rel}")
            info.size = len(data)
            info.mtime = 1704067200
            info.mode = 0o644
            archive.addfile(info, io.BytesIO(data))
    return path
