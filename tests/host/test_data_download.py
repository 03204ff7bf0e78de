"""Speech Commands download against a local HTTP server: verification,
caching, resuming, and nothing half-written after a failure."""

from __future__ import annotations

import hashlib
import http.server
import io
import tarfile
import threading
from pathlib import Path

import pytest
from _datautil import make_dataset
from click.testing import CliRunner

from mpyml.cli import main
from mpyml.data import DatasetError, load_split, validate
from mpyml.data.download import SPEECH_COMMANDS_SHA256, SPEECH_COMMANDS_URL, SpeechCommandsSource, fetch, \
    speech_commands


class _Server:
    """Serves in-memory files; honours Range; can truncate responses."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.requests: list[tuple[str, str | None]] = []
        self.truncate_to: int | None = None
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                rng = self.headers.get("Range")
                owner.requests.append((self.path, rng))
                body = owner.files.get(self.path)
                if body is None:
                    self.send_error(404)
                    return
                start = 0
                if rng:
                    start = int(rng.split("=")[1].split("-")[0])
                    if start >= len(body):
                        self.send_error(416)
                        return
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
                else:
                    self.send_response(200)
                part = body[start:]
                self.send_header("Content-Length", str(len(part)))
                self.end_headers()
                if owner.truncate_to is not None:
                    part = part[: owner.truncate_to]
                self.wfile.write(part)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}{path}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    s = _Server()
    yield s
    s.close()


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("MPYML_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def _archive(tmp_path: Path, prefix: str = ".") -> bytes:
    src = make_dataset(tmp_path / "src", {"yes": 4, "no": 4, "cat": 3})
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for p in sorted(src.rglob("*")):
            tar.add(p, arcname=f"{prefix}/{p.relative_to(src)}", recursive=False)
    return buf.getvalue()


def test_pinned_source():
    assert SPEECH_COMMANDS_URL == "http://download.tensorflow.org/data/speech_commands_v0.02.tar.gz"
    assert len(SPEECH_COMMANDS_SHA256) == 64


def test_download_verify_extract_and_cache(server, tmp_path, home):
    data = _archive(tmp_path)
    server.files["/sc.tar.gz"] = data
    src = SpeechCommandsSource(server.url("/sc.tar.gz"), hashlib.sha256(data).hexdigest(), len(data))
    out = speech_commands(tmp_path / "out", source=src, progress=False)
    layout = validate(out)
    assert layout.words == ["cat", "no", "yes"] and len(layout.noise_files) == 2
    assert load_split(out, "training", ["yes", "no"]).clips.shape[1] == 16000
    assert (home / "downloads" / "sc.tar.gz").read_bytes() == data
    # second time: served from the cache, no request
    n = len(server.requests)
    speech_commands(tmp_path / "out2", source=src, progress=False)
    assert len(server.requests) == n


def test_single_top_level_folder_is_stepped_into(server, tmp_path):
    data = _archive(tmp_path, prefix="speech_commands")
    server.files["/a.tgz"] = data
    out = speech_commands(tmp_path / "out", source=SpeechCommandsSource(server.url("/a.tgz"),
                                                                         hashlib.sha256(data).hexdigest(), None),
                          progress=False)
    assert validate(out).words == ["cat", "no", "yes"]


def test_checksum_mismatch_leaves_nothing_behind(server, tmp_path, home):
    data = _archive(tmp_path)
    server.files["/sc.tar.gz"] = data
    src = SpeechCommandsSource(server.url("/sc.tar.gz"), "0" * 64, None)
    with pytest.raises(DatasetError, match="checksum mismatch"):
        speech_commands(tmp_path / "out", source=src, progress=False)
    assert not (tmp_path / "out").exists() and not (tmp_path / "out.partial").exists()
    assert list((home / "downloads").iterdir()) == []


def test_resume_uses_range(server, tmp_path, home):
    data = _archive(tmp_path)
    server.files["/sc.tar.gz"] = data
    (home / "downloads").mkdir(parents=True)
    (home / "downloads" / "sc.tar.gz.part").write_bytes(data[:1000])
    path = fetch(server.url("/sc.tar.gz"), hashlib.sha256(data).hexdigest(), progress=False)
    assert path.read_bytes() == data
    assert server.requests[-1] == ("/sc.tar.gz", "bytes=1000-")
    assert not (home / "downloads" / "sc.tar.gz.part").exists()


def test_interrupted_download_can_be_resumed(server, tmp_path, home):
    data = _archive(tmp_path)
    server.files["/sc.tar.gz"] = data
    server.truncate_to = 700
    sha = hashlib.sha256(data).hexdigest()
    with pytest.raises(DatasetError, match="resume"):
        fetch(server.url("/sc.tar.gz"), sha, progress=False)
    part = home / "downloads" / "sc.tar.gz.part"
    assert part.stat().st_size == 700 and not (home / "downloads" / "sc.tar.gz").exists()
    server.truncate_to = None
    assert fetch(server.url("/sc.tar.gz"), sha, progress=False).read_bytes() == data


def test_corrupt_cached_file_is_fetched_again(server, tmp_path, home):
    data = _archive(tmp_path)
    server.files["/sc.tar.gz"] = data
    (home / "downloads").mkdir(parents=True)
    (home / "downloads" / "sc.tar.gz").write_bytes(b"garbage")
    assert fetch(server.url("/sc.tar.gz"), hashlib.sha256(data).hexdigest(), progress=False).read_bytes() == data


def test_not_a_dataset_archive(server, tmp_path):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        info = tarfile.TarInfo("readme.txt")
        info.size = 2
        tar.addfile(info, io.BytesIO(b"hi"))
    data = buf.getvalue()
    server.files["/x.tgz"] = data
    src = SpeechCommandsSource(server.url("/x.tgz"), hashlib.sha256(data).hexdigest(), None)
    with pytest.raises(DatasetError):
        speech_commands(tmp_path / "out", source=src, progress=False)
    assert not (tmp_path / "out").exists() and not (tmp_path / "out.partial").exists()


def test_http_errors(server, tmp_path):
    with pytest.raises(DatasetError, match="HTTP 404"):
        fetch(server.url("/missing.tgz"), "0" * 64, progress=False)
    with pytest.raises(DatasetError, match="invalid sha256"):
        fetch(server.url("/missing.tgz"), "xyz", progress=False)


def test_cli(server, tmp_path):
    data = _archive(tmp_path)
    server.files["/sc.tar.gz"] = data
    runner = CliRunner()
    r = runner.invoke(main, ["data", "speech-commands", str(tmp_path / "o1"), "--url", server.url("/sc.tar.gz"),
                             "--sha256", "1" * 64])
    assert r.exit_code == 1 and "error: checksum mismatch" in r.output
    r = runner.invoke(main, ["data", "speech-commands", str(tmp_path / "o1"), "--url", server.url("/sc.tar.gz")])
    assert r.exit_code == 1 and "--sha256" in r.output
    r = runner.invoke(main, ["data", "speech-commands", str(tmp_path / "o2"), "--url", server.url("/sc.tar.gz"),
                             "--sha256", hashlib.sha256(data).hexdigest()])
    assert r.exit_code == 0, r.output
    assert validate(tmp_path / "o2").words == ["cat", "no", "yes"]
