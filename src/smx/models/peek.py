"""The first bytes of a remote model file, without downloading it.

A .safetensors header is the file's first ``8 + length`` bytes. One ``Range`` request for the
first 256 KiB holds the whole header of nearly every model (a LoRA's is a few KiB, an SDXL
checkpoint's about 200 KiB); a longer header takes a second request for exactly the rest. A
server that ignores ``Range`` answers 200: then the header is read off the start of that body
and the connection is closed, never the whole file.

The requests go through the shared :class:`~smx.models.http.HttpClient`, so the token rules are
the download's: the ``Authorization`` header reaches only the service's own origin and is
dropped when a redirect leaves it (Civitai's and Hugging Face's CDNs get none). The source's own
error mapping (``on_http_error``) and redirect checks (``check_hops``) apply as well, so a gated
repo or a login-only Civitai file fails here with the message the download would give.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import TYPE_CHECKING

from smx.errors import RemoteError
from smx.models.classify import TensorInfo, Verdict, classify, parse_header
from smx.models.headers import is_safetensors

if TYPE_CHECKING:
    from smx.models.http import HttpClient, Response
    from smx.models.sources import ResolvedFile

FIRST_BYTES = 256 * 1024
# Real headers stay far below this (a Flux checkpoint's is about 1 MiB); anything larger is not
# worth reading to classify a file.
MAX_HEADER = 32 * 1024 * 1024


@dataclass(frozen=True)
class RemoteHeader:
    tensors: dict[str, TensorInfo]
    metadata: dict[str, str]
    requests: int  # Range requests it took (1 or 2)
    bytes_read: int


def read_header(client: HttpClient, resolved: ResolvedFile) -> RemoteHeader | None:
    """The safetensors header of ``resolved``'s file; None when the file does not start like
    one (then it is not a safetensors file, whatever its name says)."""
    from smx.models.http import RETRYABLE_ERRORS, network_error

    try:
        return _read_header(client, resolved)
    except RETRYABLE_ERRORS as exc:  # the connection dropped mid-header
        raise network_error(exc, resolved.url, resolved.title) from None


def _read_header(client: HttpClient, resolved: ResolvedFile) -> RemoteHeader | None:
    response = _open(client, resolved, 0, FIRST_BYTES - 1)
    if response is None:
        return None
    requests = 1
    try:
        data = response.read(8)
        if len(data) < 8:
            return None
        (length,) = struct.unpack("<Q", data)
        if length < 2 or length > MAX_HEADER:
            return None
        end = 8 + length
        data += response.read(min(end, FIRST_BYTES) - 8)
        if len(data) < end and response.status == 200:  # Range ignored: keep reading this body
            data += response.read(end - len(data))
    finally:
        response.close()
    if len(data) < end and response.status == 206:
        requests = 2
        rest = _open(client, resolved, len(data), end - 1)
        if rest is None:
            return None
        try:
            data += rest.read(end - len(data))
        finally:
            rest.close()
    if len(data) < end:
        return None  # the file is shorter than its header says: the download check says so
    try:
        tensors, metadata = parse_header(data[8:end])
    except ValueError:
        return None
    return RemoteHeader(tensors, metadata, requests, len(data))


def classify_remote(client: HttpClient, resolved: ResolvedFile, filename: str
                    ) -> Verdict | None:
    """What the remote file's header says, or None when it is not a safetensors file."""
    if not is_safetensors(filename):
        return None
    header = read_header(client, resolved)
    if header is None:
        return None
    return classify(header.tensors, header.metadata)


def _open(client: HttpClient, resolved: ResolvedFile, start: int, end: int
          ) -> Response | None:
    """The response for bytes ``start``-``end`` (206, or 200 when Range is ignored); None for
    416, a range the file does not have."""
    response = client.request(resolved.url, headers={"Range": f"bytes={start}-{end}"},
                              what=resolved.title, on_redirect=resolved.check_hops)
    if response.status in (200, 206):
        return response
    body = response.read(64 * 1024)
    response.close()
    if response.status == 416:
        return None
    if resolved.on_http_error is not None:
        raise resolved.on_http_error(response, body)
    raise RemoteError(f"{resolved.title}: the server answered HTTP {response.status} when "
                      "smx read the start of the file",
                      hint="check the URL in a browser; run the same command again later")

