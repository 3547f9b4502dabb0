"""Which git URLs and refs smx passes to git: checked before git ever sees them.

A URL or ref comes from smx.toml, smx.lock or the command line, and the first two are files
people share. git reads a leading ``-`` as an option (``--upload-pack=<command>`` runs a
command), and ``<transport>::<address>`` URLs (``ext::``, ``fd::``) run remote helpers, so:

- URLs: ``https://``, ``ssh://`` (also ``git+ssh://``), ``git://``, ``file://``, scp-like ssh
  (``git@host:owner/repo.git``) and local paths. Never a leading ``-``, never a host starting
  with ``-``, never a ``transport::`` form, never a control character. Plain ``http://`` is
  refused (code arrives unauthenticated); a mirror reached over http still works through git's
  own ``url.<mirror>.insteadOf``, which applies after this check.
- refs: what ``git check-ref-format`` allows for a branch or tag name, plus commit SHAs and
  ``HEAD``; never a leading ``-``.

Each check returns the reason a value is refused, or None; the callers turn it into an error
with the file position or the flag it came from.
"""

from __future__ import annotations

import re

SCHEMES = ("https", "ssh", "git", "file", "git+ssh", "ssh+git")
_SCHEME_RE = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
_HELPER_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9+.-]*::")
_SCP_RE = re.compile(r"^(?:[^/@:]+@)?([^/:]+):")  # user@host:path (no slash before the colon)
_DRIVE_RE = re.compile(r"^[A-Za-z]:[\\/]")  # C:\ or C:/ is a Windows path, not scp-like
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")
_REF_BAD_RE = re.compile(r"[\x00-\x20\x7f~^:?*\[\\]")

URL_HINT = ("use an https://, ssh://, git:// or file:// URL, git@host:owner/repo.git, or a "
            "local path")
REF_HINT = "a tag, a branch or a commit SHA, e.g. v1.10.1, main or 82a973c"


def url_problem(url: object) -> str | None:
    """Why ``url`` may not be given to git, or None when it may."""
    if not isinstance(url, str) or not url.strip():
        return "it is empty"
    if url != url.strip() or _CONTROL_RE.search(url):
        return "it contains spaces at either end or control characters"
    if url.startswith("-"):
        return "it starts with '-' (git would read it as an option)"
    if _HELPER_RE.match(url):
        return (f"'{url.split('::', 1)[0]}::' URLs run a git remote helper (a program), not a "
                "transfer from a repository")
    scheme = _SCHEME_RE.match(url)
    if scheme:
        name = scheme.group(1).lower()
        if name == "http":
            return ("plain http:// fetches code nobody authenticated (use https://, or map a "
                    "mirror with git's url.<mirror>.insteadOf)")
        if name not in SCHEMES:
            return f"the {name}:// scheme is not one smx lets git use"
        rest = url[scheme.end():]
        host = rest.split("/", 1)[0].rsplit("@", 1)[-1]
        if host.startswith("-") or rest.startswith("-"):
            return "its host starts with '-' (ssh would read it as an option)"
        return None
    if _DRIVE_RE.match(url):
        return None
    scp = _SCP_RE.match(url)
    if scp:
        if scp.group(0).startswith("-") or scp.group(1).startswith("-"):
            return "its host starts with '-' (ssh would read it as an option)"
        return None
    return None  # a local path (absolute or relative)


def ref_problem(ref: object) -> str | None:
    """Why ``ref`` is not a branch, tag or commit name git should be given, or None."""
    if not isinstance(ref, str) or not ref:
        return "it is empty"
    if ref.startswith("-"):
        return "it starts with '-' (git would read it as an option)"
    if _REF_BAD_RE.search(ref):
        return "it contains a space, a control character or one of ~ ^ : ? * [ \\"
    if ".." in ref or "@{" in ref or "//" in ref or ref == "@":
        return "it contains '..', '@{' or '//'"
    if ref.startswith(("/", ".")) or ref.endswith(("/", ".", ".lock")) or "/." in ref:
        return "a ref may not start with '/' or '.', nor end with '/', '.' or '.lock'"
    return None
