"""``vosnb data download davis2017 --root DIR``: download, verify and extract a real data set.

The URL, size and sha256 live in ``data/manifests/<name>.json``. The transfer goes to ``<archive>.part`` and resumes
with an HTTP Range request, within a run (a few retries) and across runs. The archive's sha256 is checked before
anything is extracted; an archive with no known hash is never extracted (pass ``--sha256``). Every member is checked
before extraction: an absolute path, a ``..`` component or a symbolic link refuses the whole archive (nothing is
extracted, the archive is removed). Extraction goes to a temporary folder inside DIR and the top-level folder is then
renamed into place, so DIR/DAVIS is either complete or absent. The notebooks' ``data_root`` is DIR/DAVIS.
"""
from __future__ import annotations

import argparse
import hashlib
import http.client
import json
import os
import re
import shutil
import stat
import tempfile
import urllib.error
import urllib.request
import zipfile
from pathlib import Path, PurePosixPath

from tqdm.auto import tqdm

from vosnb.errors import ChecksumError, DataError, UnsafeArchiveError

MANIFEST_DIR = Path(__file__).resolve().parents[2] / "data" / "manifests"
DATASETS = ("davis2017",)
_CHUNK = 1 << 20
_ATTEMPTS = 4


def load_manifest(name: str) -> dict:
    """The manifest of data set ``name`` (URL, file name, size, sha256, top-level folder, expected paths)."""
    path = MANIFEST_DIR / f"{name}.json"
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise DataError(f"{path}: manifest not found; run from a checkout of the vosnb repository") from None
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}: invalid JSON ({exc})") from None


def sha256sum(path: str | os.PathLike) -> str:
    """Hex sha256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _fetch_once(url: str, part: Path, progress: bool) -> None:
    """One GET of ``url`` into ``part``, resuming from its current size; raises if the body comes short."""
    have = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(url, headers={"Range": f"bytes={have}-"} if have else {})
    with urllib.request.urlopen(request, timeout=60) as response:
        content_range = response.headers.get("Content-Range", "")
        if response.status == 206 and not content_range.startswith(f"bytes {have}-"):
            raise DataError(f"{url}: server answered Range bytes={have}- with Content-Range {content_range!r}")
        if response.status != 206:
            have = 0  # the server sent the whole file
        length = response.headers.get("Content-Length")
        total = have + int(length) if length is not None else None
        with open(part, "ab" if have else "wb") as out, tqdm(
            total=total, initial=have, unit="B", unit_scale=True, desc=part.name, disable=not progress
        ) as bar:
            while chunk := response.read(_CHUNK):
                out.write(chunk)
                bar.update(len(chunk))
    if total is not None and part.stat().st_size != total:
        raise http.client.IncompleteRead(b"", total - part.stat().st_size)


def download(url: str, dest: Path, progress: bool = True) -> Path:
    """Download ``url`` to ``dest`` through ``dest.part``, resuming interrupted transfers with HTTP Range."""
    part = dest.with_name(dest.name + ".part")
    failure: Exception | None = None
    for _ in range(_ATTEMPTS):
        try:
            _fetch_once(url, part, progress)
            os.replace(part, dest)
            return dest
        except urllib.error.HTTPError as exc:
            if exc.code == 416 and part.exists():  # nothing left to send: the .part is complete
                os.replace(part, dest)
                return dest
            raise DataError(f"{url}: HTTP {exc.code} {exc.reason}; check the URL (--url) or try again later") from None
        except (urllib.error.URLError, http.client.HTTPException, OSError) as exc:
            failure = exc
    raise DataError(
        f"{url}: transfer interrupted {_ATTEMPTS} times (last: {failure!r}); run the same command again to resume "
        f"from {part}"
    )


def check_members(archive: zipfile.ZipFile, path: Path) -> None:
    """Refuse an archive with a member that would land outside the extraction folder (absolute, ``..``, link)."""
    for info in archive.infolist():
        name = info.filename
        parts = PurePosixPath(name.replace("\\", "/")).parts
        if stat.S_ISLNK(info.external_attr >> 16):
            reason = "is a symbolic link"
        elif name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name):
            reason = "has an absolute path"
        elif ".." in parts:
            reason = "has a '..' component"
        else:
            continue
        raise UnsafeArchiveError(
            f"{path}: member {name!r} {reason} and would land outside the extraction folder; refusing the archive "
            "(nothing was extracted and the archive was removed)"
        )


def extract(archive_path: Path, root: Path, top_level: str, expect: list[str]) -> Path:
    """Extract into a temporary folder inside ``root``, check the expected paths, rename ``top_level`` into place."""
    staging = Path(tempfile.mkdtemp(prefix=f".{top_level}.extracting-", dir=root))
    try:
        try:
            with zipfile.ZipFile(archive_path) as archive:
                check_members(archive, archive_path)
                archive.extractall(staging)
        except zipfile.BadZipFile as exc:
            raise DataError(f"{archive_path}: not a valid zip archive ({exc}); remove it and download again") from None
        missing = [p for p in expect if not (staging / top_level / p).exists()]
        if missing:
            raise DataError(f"{archive_path}: archive has no {top_level}/{missing[0]}; is this the right file?")
        target = root / top_level
        os.replace(staging / top_level, target)
        return target
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def fetch_dataset(
    name: str,
    root: str | os.PathLike,
    url: str | None = None,
    sha256: str | None = None,
    keep_archive: bool = False,
    progress: bool = True,
) -> Path:
    """Download, verify and extract data set ``name`` into ``root``; returns the data root (``root/<top level>``)."""
    manifest = load_manifest(name)
    root = Path(root)
    target = root / manifest["top_level"]
    if target.exists():
        missing = [p for p in manifest["expect"] if not (target / p).exists()]
        if not missing:
            return target
        raise DataError(f"{target}: exists but has no {missing[0]}; remove the folder and run again")
    expected = (sha256 or manifest.get("sha256") or "").lower()
    if not expected:
        raise ChecksumError(
            f"no sha256 is known for {manifest['filename']} (data/manifests/{name}.json has null) and an unverified "
            "archive is never extracted; get the hash from a trusted source (the data set's site, or `sha256sum` of "
            "a copy you trust) and pass --sha256 HEX"
        )
    if not re.fullmatch(r"[0-9a-f]{64}", expected):
        raise ChecksumError(f"--sha256 {expected!r} is not 64 hexadecimal digits")
    created = not root.exists()
    root.mkdir(parents=True, exist_ok=True)
    archive = root / manifest["filename"]
    try:
        if not archive.exists():
            download(url or manifest["url"], archive, progress)
        actual = sha256sum(archive)
        if actual != expected:
            archive.unlink()
            raise ChecksumError(
                f"{archive}: sha256 is {actual}, expected {expected}; the file was removed. Run again to download "
                "it afresh (if you passed --sha256, check the value)"
            )
        try:
            data_root = extract(archive, root, manifest["top_level"], manifest["expect"])
        except UnsafeArchiveError:
            archive.unlink()
            raise
    finally:
        if created and not any(root.iterdir()):
            root.rmdir()
    if not keep_archive:
        archive.unlink()
    return data_root


def run(args: argparse.Namespace) -> int:
    """`vosnb data download`: fetch the data set and print the data root to give the notebooks."""
    data_root = fetch_dataset(args.dataset, args.root, args.url, args.sha256, args.keep_archive, not args.no_progress)
    print(f"{args.dataset} is ready. Data root for the notebooks (data_root=...): {data_root}")
    return 0
