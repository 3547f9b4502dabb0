"""Transfer-engine benchmark on loopback, against curl in the same run.

Prints three figures (medians of paired runs; ratios, since absolute speeds depend on the box):
  1. a verified smx download (SHA-256 checked) of a 1 GiB file vs `curl -o` of the same file;
     goal: smx >= 0.9x curl's throughput;
  2. on a server capped at N MB/s per connection: smx with 8 connections vs 1; goal >= 6x;
  3. peak RSS of the smx process during a 2 GiB download; goal <= 150 MB.

Everything lives in a temp folder under /tmp, deleted at the end.

    python bench/download.py                 # all three
    python bench/download.py --size-mib 256  # quicker, smaller file
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

MiB = 1 << 20


# --- a small, fast range server (sendfile), optionally capped per connection -----------------
class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        path = self.server.files.get(self.path.split("?")[0])
        if path is None:
            self.send_error(404)
            return
        size = path.stat().st_size
        start, end = 0, size - 1
        status = 200
        rng = self.headers.get("Range")
        if rng and rng.startswith("bytes="):
            a, _, b = rng[6:].partition("-")
            start = int(a)
            end = min(size - 1, int(b)) if b else size - 1
            status = 206
        length = end - start + 1
        self.send_response(status)
        self.send_header("Content-Length", str(length))
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("ETag", '"bench"')
        if status == 206:
            self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        self.end_headers()
        with path.open("rb") as handle:
            if self.server.cap_bps:
                self._send_capped(handle, start, length)
            else:
                self.connection.sendfile(handle, start, length)

    def _send_capped(self, handle: object, start: int, length: int) -> None:
        chunk = 64 * 1024
        rate = self.server.cap_bps
        began = time.monotonic()
        sent = 0
        while sent < length:
            n = min(chunk, length - sent)
            self.connection.sendfile(handle, start + sent, n)  # type: ignore[arg-type]
            sent += n
            ahead = sent / rate - (time.monotonic() - began)
            if ahead > 0:
                time.sleep(ahead)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def __init__(self, files: dict[str, Path], cap_bps: float = 0) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.files = files
        self.cap_bps = cap_bps


def serve(files: dict[str, Path], cap_bps: float = 0) -> tuple[_Server, str]:
    server = _Server(files, cap_bps)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


# --- the clients -----------------------------------------------------------------------------
_SMX_CHILD = r"""
import json, resource, sys, time
from pathlib import Path
from smx.models.download import DownloadSpec, download
from smx.models.http import HttpClient
url, cache, sha = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
size, conns = int(sys.argv[4]), int(sys.argv[5]) or None  # 0: smx's default
if sys.argv[6:] == ["nohash"]:  # the I/O pipeline alone: SHA-256 replaced by a no-op
    import smx.models.download as engine

    class _NoHash:
        def update(self, data):
            pass

        def hexdigest(self):
            return sha

    class _Lib:
        sha256 = _NoHash

    engine.hashlib = _Lib
client = HttpClient()
began = time.perf_counter()
done = download(DownloadSpec(url=url, key=sha, label="bench", size=size, sha256=sha,
                             connections=conns), cache, client)
took = time.perf_counter() - began
assert done.sha256 == sha
# VmHWM: the peak of this process's own memory. ru_maxrss would also count the parent's pages
# at the time of the fork/exec (Linux carries the old high-water mark over exec).
try:
    hwm = [l for l in open("/proc/self/status") if l.startswith("VmHWM")][0]
    peak = int(hwm.split()[1]) * 1024
except OSError:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({"seconds": took, "peak_rss": peak, "connections": done.connections}))
"""


def smx_download(url: str, work: Path, sha: str, size: int, conns: int | None,
                 *extra: str) -> dict[str, float]:
    cache = work / "cache"
    shutil.rmtree(cache, ignore_errors=True)
    out = subprocess.run([sys.executable, "-c", _SMX_CHILD, url, str(cache), sha, str(size),
                          str(conns or 0), *extra], capture_output=True, text=True,
                         check=True)
    shutil.rmtree(cache, ignore_errors=True)
    return json.loads(out.stdout)


def curl_download(url: str, work: Path) -> float:
    target = work / "curl.out"
    began = time.perf_counter()
    subprocess.run(["curl", "-s", "-f", "-o", str(target), url], check=True)
    took = time.perf_counter() - began
    target.unlink()
    return took


def sha256_speed(size: int = 256 * MiB) -> float:
    """hashlib's SHA-256 on this CPU, in memory: the ceiling of any verified download."""
    data = bytearray(os.urandom(MiB)) * (size // MiB)
    began = time.perf_counter()
    hashlib.sha256(data).hexdigest()
    return size / (time.perf_counter() - began)


def make_file(path: Path, size: int) -> str:
    block = os.urandom(MiB)
    sha = hashlib.sha256()
    with path.open("wb") as handle:
        for i in range(size // MiB):
            chunk = block[:8] + i.to_bytes(8, "little") + block[16:]  # every MiB differs
            handle.write(chunk)
            sha.update(chunk)
    return sha.hexdigest()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=1024, help="file for figure 1")
    parser.add_argument("--runs", type=int, default=3, help="paired runs for figure 1")
    parser.add_argument("--cap-mbps", type=float, default=10.0, help="per-connection cap (MB/s)")
    parser.add_argument("--capped-mib", type=int, default=128, help="file for figure 2")
    parser.add_argument("--rss-mib", type=int, default=2048, help="file for figure 3")
    parser.add_argument("--only", choices=("curl", "capped", "rss"), default=None)
    args = parser.parse_args()
    if shutil.which("curl") is None and args.only in (None, "curl"):
        sys.exit("curl is needed for the reference figure")

    work = Path(tempfile.mkdtemp(prefix="smx-bench-", dir="/tmp"))
    try:
        if args.only in (None, "curl"):
            size = args.size_mib * MiB
            sha = make_file(work / "big.bin", size)
            server, base = serve({"/big.bin": work / "big.bin"})
            url = f"{base}/big.bin"
            times: dict[str, list[float]] = {"curl": [], "default": [], "1": [], "8": [],
                                             "nohash": []}
            hashing = []
            for _ in range(args.runs):  # paired: each round runs every client once
                times["curl"].append(curl_download(url, work))
                times["default"].append(smx_download(url, work, sha, size, None)["seconds"])
                times["1"].append(smx_download(url, work, sha, size, 1)["seconds"])
                times["8"].append(smx_download(url, work, sha, size, 8)["seconds"])
                times["nohash"].append(smx_download(url, work, sha, size, None,
                                                    "nohash")["seconds"])
                hashing.append(sha256_speed())
            server.shutdown()
            c = statistics.median(times["curl"])
            ceiling = statistics.median(hashing)
            mb = size / 1e6
            print(f"1. {args.size_mib} MiB on loopback (median of {args.runs} paired runs):")
            print(f"   curl -o (no checksum)           {mb / c:6.0f} MB/s")
            print(f"   SHA-256 alone, in memory        {ceiling / 1e6:6.0f} MB/s  (the ceiling of "
                  "any verified download on this CPU)")
            for key, label in (("default", "default connections"), ("1", "--connections 1"),
                               ("8", "--connections 8")):
                s = statistics.median(times[key])
                print(f"   smx, {label:20s}  {mb / s:6.0f} MB/s  = {c / s:.2f}x curl, "
                      f"{(mb / s) / min(mb / c, ceiling / 1e6):.2f}x min(curl, SHA-256)")
            s = statistics.median(times["nohash"])
            print(f"   smx, SHA-256 stubbed out       {mb / s:6.0f} MB/s  = {c / s:.2f}x curl "
                  "(the I/O pipeline alone: what a CPU with SHA extensions approaches)")
            print("   goal: smx >= 0.9x curl")
            (work / "big.bin").unlink()
        if args.only in (None, "capped"):
            size = args.capped_mib * MiB
            sha = make_file(work / "capped.bin", size)
            cap = args.cap_mbps * 1e6
            server, base = serve({"/capped.bin": work / "capped.bin"}, cap_bps=cap)
            url = f"{base}/capped.bin"
            one = smx_download(url, work, sha, size, 1)["seconds"]
            eight = smx_download(url, work, sha, size, 8)["seconds"]
            auto = smx_download(url, work, sha, size, None)
            server.shutdown()
            print(f"2. {args.capped_mib} MiB, server capped at {args.cap_mbps:g} MB/s per "
                  "connection:")
            print(f"   smx, --connections 1  {size / 1e6 / one:6.1f} MB/s")
            print(f"   smx, --connections 8  {size / 1e6 / eight:6.1f} MB/s  = {one / eight:.2f}x "
                  "(goal >= 6x)")
            print(f"   smx, default          {size / 1e6 / auto['seconds']:6.1f} MB/s  = "
                  f"{one / auto['seconds']:.2f}x ({auto['connections']:.0f} connections)")
            (work / "capped.bin").unlink()
        if args.only in (None, "rss"):
            size = args.rss_mib * MiB
            sha = make_file(work / "rss.bin", size)
            server, base = serve({"/rss.bin": work / "rss.bin"})
            url = f"{base}/rss.bin"
            r8 = smx_download(url, work, sha, size, 8)
            r1 = smx_download(url, work, sha, size, None)
            server.shutdown()
            print(f"3. peak RSS of the smx process (Python included), {args.rss_mib} MiB "
                  "download:")
            print(f"   default connections    {r1['peak_rss'] / 1e6:6.0f} MB")
            print(f"   --connections 8        {r8['peak_rss'] / 1e6:6.0f} MB  (goal <= 150 MB)")
            (work / "rss.bin").unlink()
    finally:
        shutil.rmtree(work, ignore_errors=True)
        socket.setdefaulttimeout(None)


if __name__ == "__main__":
    main()
