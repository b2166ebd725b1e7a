"""Eight publishers at once against a real `palletizer-all`, while readers fetch index files and
downloads in a loop: nothing is lost, nothing is doubled, and no reader ever sees a torn index file.

The publishers: three threads and three separate processes publishing through the HTTP API (each
with a token of its own user), and two workers running `palletizer add` on the same data directory,
200 versions in all, of three shared crates and one crate of each publisher's own.
"""

import hashlib
import json
import multiprocessing
import subprocess
import threading
from collections import Counter
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import requests
from dulwich.repo import Repo

from palletizer_lib.core.registry import Registry
from palletizer_lib.domain.names import index_path
from palletizer_lib.domain.publish_body import encode_publish_body
from palletizer_lib.settings.config import RegistryConfig
from tests.support.cratekit import make_crate, metadata
from tests.support.server import BIN, issue_token, running_server

SHARED = ("shared-a", "shared-b", "shared-c")
KINDS = ("thread",) * 3 + ("process",) * 3 + ("cli",) * 2
VERSIONS_EACH = 25
CLI_BATCH = 5
READERS = 4
TIME_BOUND = 120


@dataclass(frozen=True)
class Job:
    """One version to publish: its .crate file on disk."""

    name: str
    version: str
    path: str


def plan(crates: Path) -> list[list[Job]]:
    """Each publisher's versions: every other one in a shared crate (a major version of its own),
    the rest in its own crate. The .crate files are written to `crates`."""
    plans = []
    for worker in range(len(KINDS)):
        jobs = []
        for i in range(VERSIONS_EACH):
            name, version = (SHARED[i // 2 % 3], f"{worker + 1}.{i}.0") if i % 2 == 0 else (f"own-{worker}", f"0.{i}.0")
            path = crates / f"{name}-{version}.crate"
            path.write_bytes(make_crate(name, version))
            jobs.append(Job(name, version, str(path)))
        plans.append(jobs)
    return plans


def publish_over_http(url: str, token: str, jobs: list[Job]) -> int:
    """Publish `jobs` in order through the web API, as cargo does (in a thread or another process)."""
    with requests.Session() as http:
        for job in jobs:
            body = encode_publish_body(metadata(job.name, job.version), Path(job.path).read_bytes())
            response = http.put(f"{url}/api/v1/crates/new", data=body, headers={"Authorization": token}, timeout=60)
            assert response.status_code == 200, (job, response.text)
    return len(jobs)


def add_with_cli(data: Path, jobs: list[Job]) -> int:
    """Add `jobs` with `palletizer add`, a few files per run."""
    for start in range(0, len(jobs), CLI_BATCH):
        batch = jobs[start : start + CLI_BATCH]
        result = subprocess.run(
            [str(BIN / "palletizer"), "--data", str(data), "add", *(j.path for j in batch)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        assert result.stdout.splitlines() == [f"added {j.name} {j.version}" for j in batch]
    return len(jobs)


@dataclass
class Reader:
    """Fetches every index file and a download of what it lists, over and over, checking what it sees."""

    url: str
    names: list[str]
    stop: threading.Event
    seen: dict[str, list[str]] = field(default_factory=dict)
    fetches: int = 0
    downloads: int = 0

    def run(self) -> None:
        with requests.Session() as http:
            while not self.stop.is_set():
                for name in self.names:
                    self.check(http, name)

    def check(self, http: requests.Session, name: str) -> None:
        response = http.get(f"{self.url}/index/{index_path(name)}", timeout=30)
        self.fetches += 1
        if response.status_code == 404:
            assert name not in self.seen, f"{name}: its index file vanished"
            return
        assert response.status_code == 200, response.text
        entries = [json.loads(line) for line in response.content.split(b"\n") if line]
        assert entries and response.content.endswith(b"\n"), f"{name}: empty or torn: {response.content!r}"
        assert {e["name"] for e in entries} == {name}
        versions = [e["vers"] for e in entries]
        assert len(set(versions)) == len(versions), f"{name}: a version twice: {versions}"
        before = self.seen.get(name, [])
        assert versions[: len(before)] == before, f"{name}: {before} is not a prefix of {versions}"
        self.seen[name] = versions
        newest = entries[-1]
        download = http.get(f"{self.url}/files/{name}/{name}-{newest['vers']}.crate", timeout=30)
        assert download.status_code == 200, f"{name} {newest['vers']}: listed before its file: {download.text}"
        assert hashlib.sha256(download.content).hexdigest() == newest["cksum"]
        self.downloads += 1


def history(data: Path) -> list[tuple[str, int]]:
    """Every commit's message and number of parents, oldest first."""
    walker = Repo(str(data / "index.git")).get_walker()
    return [(e.commit.message.decode().strip(), len(e.commit.parents)) for e in reversed(list(walker))]


def test_eight_publishers_and_four_readers_at_once(tmp_path: Path) -> None:
    data = tmp_path / "data"
    Registry.create(data, RegistryConfig())
    (tmp_path / "crates").mkdir()
    plans = plan(tmp_path / "crates")
    expected = {
        (j.name, j.version): hashlib.sha256(Path(j.path).read_bytes()).hexdigest() for jobs in plans for j in jobs
    }
    assert len(expected) == len(KINDS) * VERSIONS_EACH == 200
    owner = {(j.name, j.version): worker for worker, jobs in enumerate(plans) for j in jobs}
    tokens = [issue_token(data, f"publisher-{worker}") for worker in range(len(KINDS))]

    with running_server(data) as url:
        setup = history(data)
        assert setup == [(f"Serve the registry at {url}", 0)]  # palletizer-all's config.json: one commit
        stop = threading.Event()
        readers = [Reader(url, [*SHARED, *(f"own-{w}" for w in range(len(KINDS)))], stop) for _ in range(READERS)]
        spawn = multiprocessing.get_context("spawn")
        with (
            ThreadPoolExecutor(READERS + len(KINDS)) as threads,
            ProcessPoolExecutor(KINDS.count("process"), mp_context=spawn) as processes,
        ):
            reading = [threads.submit(reader.run) for reader in readers]
            publishing: list[Future] = []
            for worker, (kind, jobs) in enumerate(zip(KINDS, plans, strict=False)):
                if kind == "process":
                    publishing.append(processes.submit(publish_over_http, url, tokens[worker], jobs))
                elif kind == "thread":
                    publishing.append(threads.submit(publish_over_http, url, tokens[worker], jobs))
                else:
                    publishing.append(threads.submit(add_with_cli, data, jobs))
            try:
                assert sum(f.result(timeout=TIME_BOUND) for f in publishing) == 200
            finally:
                stop.set()
            for done in reading:
                done.result(timeout=30)
        registry = Registry(data)
        served = {
            (e["name"], e["vers"]): e["cksum"] for name in registry.summaries() for e in registry.entries(name.name)
        }

    # Every version in the index exactly once, with the checksum of what was sent and of what is stored.
    assert served == expected
    lines = [e for s in registry.summaries() for e in registry.entries(s.name)]
    assert len(lines) == 200
    for (name, version), cksum in expected.items():
        assert hashlib.sha256(registry.stored_crate(name, version)).hexdigest() == cksum
    assert registry.verify() == []

    # One commit per version, in one line of history, after the setup commit.
    commits = history(data)
    assert commits[: len(setup)] == setup and all(parents == 1 for _, parents in commits[len(setup) :])
    assert Counter(message for message, _ in commits[len(setup) :]) == {f"Publish {n} {v}": 1 for n, v in expected}

    # The publishers really ran at once, and the readers really read while they did.
    order = [owner[tuple(message.split()[1:])] for message, _ in commits[len(setup) :]]
    switches = sum(a != b for a, b in zip(order, order[1:], strict=False))
    assert switches >= 100, order
    assert all(reader.fetches > 50 and reader.downloads > 20 for reader in readers)
    assert all(set(reader.seen) == {*SHARED, *(f"own-{w}" for w in range(len(KINDS)))} for reader in readers)
