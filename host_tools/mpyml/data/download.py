"""Speech Commands v0.02: download (cached, resumable, checksum-verified)
and extraction into the dataset layout."""

from __future__ import annotations

import hashlib
import http.client
import os
import shutil
import tarfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ..paths import mpyml_home
from .layout import DatasetError, scan

SPEECH_COMMANDS_URL = "http://download.tensorflow.org/data/speech_commands_v0.02.tar.gz"
# Published for this archive by TensorFlow Datasets and torchaudio.
SPEECH_COMMANDS_SHA256 = "af14739ee7dc311471de98f5f9d2c9191b18aedfe957f4a6ff791c709868ff58"
SPEECH_COMMANDS_BYTES = 2_428_923_189

Log = Callable[[str], None]
_CHUNK = 1 << 20


def downloads_dir() -> Path:
    return mpyml_home() / "downloads"


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(_CHUNK), b""):
            h.update(block)
    return h.hexdigest()


def fetch(url: str, sha256: str, *, filename: str | None = None, size: int | None = None, progress: bool = True,
          log: Log | None = None, timeout: float = 60.0) -> Path:
    """Download ``url`` into ``$MPYML_HOME/downloads`` and return the verified file.

    An already verified file is reused. An interrupted download continues
    from ``<file>.part`` (HTTP Range). A file whose sha256 differs is deleted
    and an error raised: nothing unverified stays in the cache.
    """
    sha256 = sha256.lower().strip()
    if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
        raise DatasetError(f"invalid sha256 {sha256!r} (need 64 hex digits)")
    name = filename or url.rstrip("/").rsplit("/", 1)[-1] or "download"
    dest_dir = downloads_dir()
    dest_dir.mkdir(parents=True, exist_ok=True)
    final = dest_dir / name
    part = dest_dir / (name + ".part")
    if final.is_file():
        if sha256_file(final) == sha256:
            if log:
                log(f"using cached {final}")
            return final
        final.unlink()  # stale or corrupt: fetch again

    have = part.stat().st_size if part.is_file() else 0
    request = urllib.request.Request(url, headers={"User-Agent": "mpyml"})
    if have:
        request.add_header("Range", f"bytes={have}-")
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as e:
        if e.code == 416 and have:  # the part file is already complete
            response = None
        else:
            raise DatasetError(f"download of {url} failed: HTTP {e.code} {e.reason}") from e
    except (urllib.error.URLError, OSError) as e:
        raise DatasetError(f"download of {url} failed: {getattr(e, 'reason', e)} "
                           f"(check the network; the download resumes where it stopped)") from e

    if response is not None:
        with response:
            resumed = have and response.status == 206
            if not resumed:
                have = 0
            length = response.headers.get("Content-Length")
            total = have + int(length) if length is not None else size
            bar = None
            if progress:
                from tqdm import tqdm

                bar = tqdm(total=total, initial=have, unit="B", unit_scale=True, desc=name)
            try:
                with open(part, "ab" if resumed else "wb") as f:
                    while True:
                        block = response.read(_CHUNK)
                        if not block:
                            break
                        f.write(block)
                        if bar is not None:
                            bar.update(len(block))
            except (OSError, urllib.error.URLError, http.client.HTTPException) as e:
                raise DatasetError(f"download of {url} interrupted ({e}); run the command again to resume") from e
            finally:
                if bar is not None:
                    bar.close()

        if length is not None and part.stat().st_size < total:
            raise DatasetError(f"download of {url} stopped at {part.stat().st_size} of {total} bytes; "
                               f"run the command again to resume")

    got_size = part.stat().st_size
    got = sha256_file(part)
    if got != sha256 or (size is not None and got_size != size):
        part.unlink()
        raise DatasetError(f"checksum mismatch for {url}: expected sha256 {sha256}"
                           f"{f' ({size} bytes)' if size is not None else ''}, got {got} ({got_size} bytes); "
                           f"the download was deleted")
    os.replace(part, final)
    if log:
        log(f"verified {final} (sha256 {sha256[:16]}...)")
    return final


def _safe_members(tar: tarfile.TarFile, into: Path) -> list[tarfile.TarInfo]:
    base = into.resolve()
    members = []
    for m in tar.getmembers():
        target = (base / m.name).resolve()
        if not (target == base or base in target.parents):
            raise DatasetError(f"archive member {m.name!r} would be written outside the dataset folder")
        if m.issym() or m.islnk() or m.isdev():
            continue  # a dataset holds only folders and files
        members.append(m)
    return members


def extract(archive: Path, out: Path, *, force: bool = False, log: Log | None = None) -> Path:
    """Unpack a Speech Commands archive into ``out`` and check its layout.

    Unpacks into ``<out>.partial`` and renames at the end (nothing half
    written stays at ``out``); a single top-level folder in the archive is
    stepped into.
    """
    out = Path(out)
    if out.exists() and not force:
        raise DatasetError(f"{out} already exists (choose another folder or pass --force to replace it)")
    tmp = out.with_name(out.name + ".partial")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    try:
        try:
            with tarfile.open(archive, "r:*") as tar:
                members = _safe_members(tar, tmp)
                if log:
                    log(f"extracting {len(members)} entries from {archive.name}")
                if hasattr(tarfile, "data_filter"):
                    tar.extractall(tmp, members=members, filter="data")
                else:  # older Pythons: members were checked by _safe_members
                    tar.extractall(tmp, members=members)
        except (tarfile.TarError, EOFError, OSError) as e:
            raise DatasetError(f"{archive}: cannot extract ({e})") from e
        root = tmp
        entries = [p for p in tmp.iterdir()]
        if len(entries) == 1 and entries[0].is_dir() and not (tmp / "validation_list.txt").exists():
            root = entries[0]
        scan(root)  # raises DatasetError if the layout is wrong
        if out.exists():
            shutil.rmtree(out)
        if root is tmp:
            os.replace(tmp, out)
        else:
            os.replace(root, out)
            shutil.rmtree(tmp)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


@dataclass
class SpeechCommandsSource:
    url: str = SPEECH_COMMANDS_URL
    sha256: str = SPEECH_COMMANDS_SHA256
    size: int | None = SPEECH_COMMANDS_BYTES


def speech_commands(out: str | Path, *, source: SpeechCommandsSource | None = None, force: bool = False,
                    progress: bool = True, log: Log | None = None) -> Path:
    """Download (or reuse), verify and extract Speech Commands v0.02 into ``out``."""
    source = source or SpeechCommandsSource()
    out = Path(out)
    if out.exists() and not force:
        raise DatasetError(f"{out} already exists (choose another folder or pass --force to replace it)")
    archive = fetch(source.url, source.sha256, size=source.size, progress=progress, log=log)
    return extract(archive, out, force=force, log=log)
