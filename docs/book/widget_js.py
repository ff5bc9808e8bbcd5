"""Fetch the two scripts that draw saved widgets in the book, so its pages need no CDN when they are read.

MyST-NB embeds each notebook's saved widget state in the page and, by default, loads RequireJS and the widget
manager (`@jupyter-widgets/html-manager`, the ipywidgets 8 embedder) from public CDNs; without network a widget's
place stays empty. `make book` runs this script once: it takes both packages from the npm registry with
`npm pack`, checks each archive's sha512 against the pin below before opening it, and extracts the scripts into
build/book-js/, which conf.py serves as static files.

    python docs/book/widget_js.py build/book-js
"""
from __future__ import annotations

import base64
import hashlib
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

# npm package spec -> (sha512 of the archive as npm's integrity string, files to extract under package/)
PACKAGES = {
    "@jupyter-widgets/html-manager@1.0.6": (
        "sha512-+Mn+Ra8wyIHrYaUpfmf9A3dsLkt/NuwzPQN8sthdxBD35VV5cOJbpmgMhNR27n/rmP3mKyEe0PWCJrtZrXTXDQ==", "dist/"),
    "requirejs@2.3.7": (
        "sha512-DouTG8T1WanGok6Qjg2SXuCMzszOo0eHeH9hDZ5Y4x8Je+9JB38HdTLT4/VA8OaUhBa0JPVHJ0pyBkM1z+pDsw==", "require.js"),
}


def integrity(path: Path) -> str:
    """npm's integrity string (sha512, base64) of a file."""
    return "sha512-" + base64.b64encode(hashlib.sha512(path.read_bytes()).digest()).decode()


def extract(archive: Path, prefix: str, out: Path) -> list[Path]:
    """The regular files of ``archive`` under package/<prefix> (no source maps), flat into ``out``; names with a
    path separator or '..' after the prefix are refused."""
    written = []
    with tarfile.open(archive, "r:gz") as tar:
        for member in tar.getmembers():
            name = member.name.removeprefix("package/")
            if not member.isfile() or not name.startswith(prefix) or name.endswith(".map"):
                continue
            leaf = name[len(prefix):] if prefix.endswith("/") else Path(name).name
            if not leaf or "/" in leaf or leaf.startswith(".."):
                raise ValueError(f"{archive.name}: unexpected member {member.name!r}")
            target = out / leaf
            with tar.extractfile(member) as source, open(target, "wb") as sink:
                shutil.copyfileobj(source, sink)
            written.append(target)
    return written


def fetch(out: Path) -> None:
    """Fill ``out`` with the pinned scripts (atomically: a failed fetch leaves no half-filled folder)."""
    if (out / "embed-amd.js").is_file() and (out / "require.js").is_file():
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out.parent) as tmp:
        work, staged = Path(tmp), Path(tmp) / "staged"
        staged.mkdir()
        for spec, (expected, prefix) in PACKAGES.items():
            packed = subprocess.run(["npm", "pack", spec, "--pack-destination", str(work), "--silent"], check=True,
                                    capture_output=True, text=True).stdout.strip().splitlines()[-1]
            archive = work / packed
            if integrity(archive) != expected:
                raise SystemExit(f"{spec}: the archive's sha512 is not the pinned one; not extracting {archive.name}")
            if not extract(archive, prefix, staged):
                raise SystemExit(f"{spec}: no files under package/{prefix}")
        if out.exists():
            shutil.rmtree(out)
        staged.rename(out)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit("usage: python docs/book/widget_js.py OUT_FOLDER")
    fetch(Path(sys.argv[1]))
