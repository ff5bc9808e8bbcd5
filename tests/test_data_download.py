"""`vosnb data download`: resumable HTTP transfer, sha256 check, safe extraction; against a real local HTTP server."""
from __future__ import annotations

import hashlib
import io
import json
import re
import stat
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

import vosnb.data.download as download
from vosnb.cli import main
from vosnb.data import DavisDataset, write_davis_sequence
from vosnb.errors import ChecksumError


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.files: dict[str, bytes] = {}
        self.truncate_next: set[str] = set()  # paths whose next response stops halfway and drops the connection
        self.requests: list[tuple[str, str | None]] = []

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}{path}"


class _Handler(BaseHTTPRequestHandler):
    """Serves bytes from memory with `Range: bytes=N-` support, and can cut a transfer short."""

    def log_message(self, *args):
        pass

    def do_GET(self):
        server: _Server = self.server
        server.requests.append((self.path, self.headers.get("Range")))
        data = server.files.get(self.path)
        if data is None:
            self.send_error(404)
            return
        start = 0
        match = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range") or "")
        if match:
            start = int(match.group(1))
            if start >= len(data):
                self.send_error(416)
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        body = data[start:]
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.path in server.truncate_next:
            server.truncate_next.discard(self.path)
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(body)


@pytest.fixture
def server():
    srv = _Server()
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


def _davis_zip(tiny_sequence, tmp_path: Path, extra: list[tuple[zipfile.ZipInfo | str, bytes]] = ()) -> bytes:
    """A DAVIS-2017-like archive: DAVIS/{JPEGImages,Annotations}/480p/blobs, DAVIS/ImageSets/2017/{train,val}.txt."""
    frames, masks = tiny_sequence
    tree = tmp_path / "tree"
    write_davis_sequence(tree / "DAVIS", "blobs", masks, frames)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in sorted(tree.rglob("*")):
            if path.is_file():
                archive.write(path, path.relative_to(tree).as_posix())
        archive.writestr("DAVIS/ImageSets/2017/val.txt", "blobs\n")
        archive.writestr("DAVIS/ImageSets/2017/train.txt", "")
        for info, content in extra:
            archive.writestr(info, content)
    return buffer.getvalue()


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _cli(root: Path, url: str, sha: str | None, *more: str) -> int:
    args = ["data", "download", "davis2017", "--root", str(root), "--url", url, "--no-progress", *more]
    return main(args + (["--sha256", sha] if sha else []))


def test_manifest_has_the_davis_archive_and_a_sha256():
    manifest = download.load_manifest("davis2017")
    assert manifest["filename"] == "DAVIS-2017-trainval-480p.zip" and manifest["url"].endswith(manifest["filename"])
    assert re.fullmatch(r"[0-9a-f]{64}", manifest["sha256"]) and manifest["top_level"] == "DAVIS"


def test_good_archive_is_verified_extracted_and_readable(server, tmp_path, tiny_sequence, capsys):
    data = _davis_zip(tiny_sequence, tmp_path)
    server.files["/davis.zip"] = data
    root = tmp_path / "data"
    assert _cli(root, server.url("/davis.zip"), _sha(data)) == 0
    assert f"Data root for the notebooks (data_root=...): {root / 'DAVIS'}" in capsys.readouterr().out
    assert sorted(p.name for p in root.iterdir()) == ["DAVIS"]  # archive removed, no temporary folder
    video = DavisDataset(root / "DAVIS", "val")["blobs"]
    assert np.array_equal(video.mask(2), tiny_sequence[1][2] * np.isin(tiny_sequence[1][2], video.object_ids))
    server.requests.clear()
    assert _cli(root, server.url("/davis.zip"), _sha(data)) == 0  # already there: no transfer
    assert server.requests == []


def test_truncated_transfer_is_resumed_with_range(server, tmp_path, tiny_sequence):
    data = _davis_zip(tiny_sequence, tmp_path)
    server.files["/davis.zip"] = data
    server.truncate_next.add("/davis.zip")
    root = tmp_path / "data"
    assert _cli(root, server.url("/davis.zip"), _sha(data), "--keep-archive") == 0
    assert server.requests == [("/davis.zip", None), ("/davis.zip", f"bytes={len(data) // 2}-")]
    assert (root / "DAVIS-2017-trainval-480p.zip").read_bytes() == data
    assert (root / "DAVIS/ImageSets/2017/val.txt").read_text() == "blobs\n"


def test_partial_file_from_an_earlier_run_is_resumed(server, tmp_path, tiny_sequence):
    data = _davis_zip(tiny_sequence, tmp_path)
    server.files["/davis.zip"] = data
    root = tmp_path / "data"
    root.mkdir()
    (root / "DAVIS-2017-trainval-480p.zip.part").write_bytes(data[:1000])
    assert _cli(root, server.url("/davis.zip"), _sha(data)) == 0
    assert server.requests == [("/davis.zip", "bytes=1000-")]
    assert (root / "DAVIS").is_dir()


def test_wrong_checksum_refuses_and_leaves_nothing(server, tmp_path, tiny_sequence, capsys):
    data = _davis_zip(tiny_sequence, tmp_path)
    server.files["/davis.zip"] = data
    root = tmp_path / "data"
    assert _cli(root, server.url("/davis.zip"), "0" * 64) == 2
    err = capsys.readouterr().err
    assert f"sha256 is {_sha(data)}, expected {'0' * 64}" in err and "removed" in err
    assert not root.exists()


@pytest.mark.parametrize(
    "member",
    [
        "DAVIS/../../escaped.txt",
        "/tmp/absolute-escape.txt",
        "symlink",
    ],
)
def test_escaping_member_refuses_the_whole_archive(server, tmp_path, tiny_sequence, capsys, member):
    if member == "symlink":
        info = zipfile.ZipInfo("DAVIS/link")
        info.external_attr = (stat.S_IFLNK | 0o777) << 16
        extra = [(info, "../../outside")]
    else:
        extra = [(zipfile.ZipInfo(member), "x")]
    data = _davis_zip(tiny_sequence, tmp_path, extra)
    server.files["/evil.zip"] = data
    root = tmp_path / "data"
    assert _cli(root, server.url("/evil.zip"), _sha(data)) == 2
    assert "refusing the archive" in capsys.readouterr().err
    assert not root.exists() and not (tmp_path / "escaped.txt").exists()
    assert not Path("/tmp/absolute-escape.txt").exists()


def test_null_sha256_refuses_without_downloading(server, tmp_path, monkeypatch, capsys):
    manifest = download.load_manifest("davis2017")
    manifest_dir = tmp_path / "manifests"
    manifest_dir.mkdir()
    (manifest_dir / "davis2017.json").write_text(json.dumps({**manifest, "sha256": None}))
    monkeypatch.setattr(download, "MANIFEST_DIR", manifest_dir)
    server.files["/davis.zip"] = b"whatever"
    with pytest.raises(ChecksumError, match="pass --sha256 HEX"):
        download.fetch_dataset("davis2017", tmp_path / "data", url=server.url("/davis.zip"), progress=False)
    assert server.requests == [] and not (tmp_path / "data").exists()
    assert _cli(tmp_path / "data", server.url("/davis.zip"), None) == 2
    assert "never extracted" in capsys.readouterr().err


def test_http_error_names_the_url(server, tmp_path, capsys):
    assert _cli(tmp_path / "data", server.url("/missing.zip"), "a" * 64) == 2
    assert "missing.zip: HTTP 404" in capsys.readouterr().err
