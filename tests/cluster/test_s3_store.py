"""The S3 back ends over a real S3 (Ceph's radosgw): the same contract as the local stores, run over both,
and what only S3 has: anonymous reads of the published prefixes, and clear errors for a wrong endpoint,
bucket or credentials."""

import contextlib
import json
import random
import socket
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from palletizer_lib.domain.errors import StorageError
from palletizer_lib.domain.names import crate_key
from palletizer_lib.settings.storage import StorageConfig
from palletizer_lib.stores.crates import CrateStore, LocalCrateStore
from palletizer_lib.stores.s3 import check_storage, open_s3_stores, publish_prefixes
from palletizer_lib.stores.s3_client import PAGE_SIZE
from palletizer_lib.stores.served_index import HEAD_KEY, LocalServedIndex, ServedIndex
from tests.support.ceph import CephS3, s3_admin

BACKENDS = ["local", "s3"]
ESCAPING_KEYS = ["", "/etc/passwd", "../x", "foo/../../x", "foo//bar", "./foo", "foo/.."]


@pytest.fixture(params=BACKENDS)
def crates(request: pytest.FixtureRequest, tmp_path: Path) -> CrateStore:
    if request.param == "local":
        return LocalCrateStore(tmp_path / "crates")
    return open_s3_stores(request.getfixturevalue("s3_config"))[0]


@pytest.fixture(params=BACKENDS)
def served(request: pytest.FixtureRequest, tmp_path: Path) -> ServedIndex:
    if request.param == "local":
        return LocalServedIndex(tmp_path / "index")
    return open_s3_stores(request.getfixturevalue("s3_config"))[1]


@contextlib.contextmanager
def socket_closed_port() -> Iterator[int]:
    """A loopback port held but not listened on: connecting to it is refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


def put_all(put: Callable[[str, bytes], None], keys: list[str]) -> None:
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda key: put(key, key.encode()), keys))


def test_crate_put_get_open_size_exists(crates: CrateStore) -> None:
    key = crate_key("foo", "0.1.0")
    crates.put(key, b"crate bytes")
    assert crates.get(key) == b"crate bytes" and crates.exists(key) and crates.size(key) == 11
    opened = crates.open(key)
    assert opened is not None
    with opened.stream as stream:
        assert opened.size == 11 and stream.read() == b"crate bytes"


def test_a_missing_crate_is_none(crates: CrateStore) -> None:
    key = crate_key("nope", "1.0.0")
    assert crates.get(key) is None and crates.open(key) is None and crates.size(key) is None
    assert not crates.exists(key)
    crates.delete(key)
    crates.discard_partial(key)


def test_a_crate_put_replaces_whole(crates: CrateStore) -> None:
    key = crate_key("foo", "0.1.0")
    crates.put(key, b"first")
    crates.put(key, memoryview(b"second"))
    crates.discard_partial(key)
    assert crates.get(key) == b"second" and list(crates.list()) == [key]


def test_crates_delete_and_list_by_prefix_sorted(crates: CrateStore) -> None:
    for name, version in (("foo_bar", "1.0.0"), ("foo", "0.2.0"), ("bar", "1.0.0"), ("foo", "0.1.0")):
        crates.put(crate_key(name, version), b"x")
    assert list(crates.list()) == [
        "bar/bar-1.0.0.crate",
        "foo/foo-0.1.0.crate",
        "foo/foo-0.2.0.crate",
        "foo_bar/foo_bar-1.0.0.crate",
    ]
    assert list(crates.list("foo/")) == ["foo/foo-0.1.0.crate", "foo/foo-0.2.0.crate"]
    crates.delete(crate_key("foo", "0.1.0"))
    assert list(crates.list("foo")) == ["foo/foo-0.2.0.crate", "foo_bar/foo_bar-1.0.0.crate"]


def test_a_large_crate_streams(crates: CrateStore) -> None:
    data = random.Random(15).randbytes(3 * 1024 * 1024 + 17)
    key = crate_key("big", "1.0.0")
    crates.put(key, data)
    opened = crates.open(key)
    assert opened is not None and opened.size == len(data)
    chunks = []
    with opened.stream as stream:
        while chunk := stream.read(64 * 1024):
            assert len(chunk) <= 64 * 1024
            chunks.append(chunk)
    assert len(chunks) > 1 and b"".join(chunks) == data


def test_more_keys_than_one_listing_page(crates: CrateStore) -> None:
    keys = sorted(crate_key(f"c{n:04}", "1.0.0") for n in range(PAGE_SIZE + 1))
    put_all(crates.put, keys)
    assert list(crates.list()) == keys
    assert list(crates.list("c1000/")) == ["c1000/c1000-1.0.0.crate"]


@pytest.mark.parametrize("key", ESCAPING_KEYS)
def test_a_crate_key_never_leaves_the_store(crates: CrateStore, key: str) -> None:
    for call in (
        crates.get,
        crates.open,
        crates.size,
        crates.exists,
        crates.delete,
        crates.discard_partial,
        lambda k: crates.put(k, b"x"),
    ):
        with pytest.raises(ValueError):
            call(key)


def test_served_put_get_read_delete(served: ServedIndex) -> None:
    served.put("3/f/foo", b'{"name":"foo"}\n')
    assert served.get("3/f/foo") == b'{"name":"foo"}\n'
    file = served.read("3/f/foo")
    assert file is not None and file.data == b'{"name":"foo"}\n' and file.modified > 1_700_000_000
    served.put("3/f/foo", b"second\n")
    assert served.get("3/f/foo") == b"second\n"
    served.delete("3/f/foo")
    assert served.get("3/f/foo") is None and served.read("3/f/foo") is None
    served.delete("3/f/foo")


def test_served_list_leaves_the_head_out(served: ServedIndex) -> None:
    assert served.get(HEAD_KEY) is None and list(served.list()) == []
    served.put("config.json", b"{}")
    served.put("3/f/foo", b"a")
    served.put("ba/r_/bar_baz", b"b")
    served.put(HEAD_KEY, b"0123\n")
    assert list(served.list()) == ["3/f/foo", "ba/r_/bar_baz", "config.json"]
    assert served.get(HEAD_KEY) == b"0123\n"


def test_served_list_over_pages(s3_config: StorageConfig) -> None:
    served = open_s3_stores(s3_config, page_size=7)[1]
    keys = sorted(f"2/{a}{b}" for a in "abcde" for b in "xyz") + ["config.json"]
    put_all(served.put, keys)
    served.put(HEAD_KEY, b"c0ffee\n")
    assert list(served.list()) == keys


@pytest.mark.parametrize("key", ESCAPING_KEYS)
def test_a_served_key_never_leaves_the_index(served: ServedIndex, key: str) -> None:
    for call in (served.get, served.read, served.delete, lambda k: served.put(k, b"x")):
        with pytest.raises(ValueError):
            call(key)


def test_the_head_is_kept_apart_from_the_published_files(s3_config: StorageConfig, s3_credentials: CephS3) -> None:
    served = open_s3_stores(s3_config)[1]
    assert served.version() is None
    served.put("2/ab", b"x")
    served.put(HEAD_KEY, b"c0ffee\n")
    first = served.version()
    served.put(HEAD_KEY, b"c0ffee\n")
    assert first is not None and served.version() not in (None, first)
    listed = s3_admin(s3_credentials).list_objects_v2(Bucket=s3_config.bucket)["Contents"]
    assert sorted(entry["Key"] for entry in listed) == ["reg/index/2/ab", "reg/state/index-head"]


def test_objects_say_what_they_are(s3_config: StorageConfig, s3_credentials: CephS3) -> None:
    crates, served = open_s3_stores(s3_config)
    crates.put(crate_key("foo", "0.1.0"), b"\x1f\x8b")
    served.put("config.json", b"{}")
    served.put("3/f/foo", b"{}\n")
    admin = s3_admin(s3_credentials)
    heads = {
        key: admin.head_object(Bucket=s3_config.bucket, Key="reg/" + key)
        for key in ("crates/foo/foo-0.1.0.crate", "index/config.json", "index/3/f/foo")
    }
    assert [(head["ContentType"], head.get("CacheControl")) for head in heads.values()] == [
        ("application/gzip", "public, max-age=31536000, immutable"),
        ("application/json", "no-cache"),
        ("text/plain; charset=utf-8", "no-cache"),
    ]


def test_anonymous_readers_get_the_published_prefixes_only(s3_config: StorageConfig, s3_credentials: CephS3) -> None:
    crates, served = open_s3_stores(s3_config)
    crates.put(crate_key("foo", "0.1.0"), b"crate")
    served.put("config.json", b'{"dl":"x"}')
    served.put("3/f/foo", b"entry\n")
    served.put(HEAD_KEY, b"c0ffee\n")
    s3_admin(s3_credentials).put_object(Bucket=s3_config.bucket, Key="reg/private/secret", Body=b"s")
    base = f"{s3_credentials.endpoint}/{s3_config.bucket}/reg/"
    assert s3_config.public_index_url == base + "index/"
    assert requests.get(base + "index/config.json", timeout=10).status_code == 403

    publish_prefixes(s3_config, listable=False)
    config = requests.get(s3_config.public_index_url + "config.json", timeout=10)
    assert (config.status_code, config.content, config.headers["Content-Type"]) == (
        200,
        b'{"dl":"x"}',
        "application/json",
    )
    entry = requests.get(s3_config.public_index_url + "3/f/foo", timeout=10)
    assert entry.status_code == 200 and entry.content == b"entry\n" and entry.headers["ETag"]
    again = requests.get(
        s3_config.public_index_url + "3/f/foo", headers={"If-None-Match": entry.headers["ETag"]}, timeout=10
    )
    assert again.status_code == 304
    crate = requests.get(s3_config.public_crates_url + "foo/foo-0.1.0.crate", timeout=10)
    assert crate.status_code == 200 and crate.content == b"crate"
    for private in ("state/index-head", "private/secret", "index/3/f/nope"):
        assert requests.get(base + private, timeout=10).status_code == 403, private

    publish_prefixes(s3_config)
    assert requests.get(base + "index/3/f/nope", timeout=10).status_code == 404
    for private in ("state/index-head", "private/secret"):
        assert requests.get(base + private, timeout=10).status_code == 403, private
    assert requests.get(base + "index/config.json", timeout=10).status_code == 200


def test_publishing_keeps_the_rest_of_the_bucket_policy(s3_config: StorageConfig, s3_credentials: CephS3) -> None:
    admin = s3_admin(s3_credentials)
    other = (
        '{"Version":"2012-10-17","Statement":[{"Sid":"Other","Effect":"Allow","Principal":"*",'
        f'"Action":["s3:GetObject"],"Resource":["arn:aws:s3:::{s3_config.bucket}/other/*"]}}]}}'
    )
    admin.put_bucket_policy(Bucket=s3_config.bucket, Policy=other)
    publish_prefixes(s3_config)
    publish_prefixes(s3_config)
    statements = json.loads(admin.get_bucket_policy(Bucket=s3_config.bucket)["Policy"])["Statement"]
    assert [statement["Sid"] for statement in statements] == ["Other", "PalletizerPublicRead", "PalletizerPublicList"]


def test_a_reachable_bucket_passes_the_check(s3_config: StorageConfig) -> None:
    check_storage(s3_config)


def test_refused_credentials_are_a_clear_storage_error(
    s3_config: StorageConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret")
    with pytest.raises(StorageError, match="S3 credentials were refused.*AWS_SECRET_ACCESS_KEY"):
        check_storage(s3_config)
    crates, served = open_s3_stores(s3_config)
    with pytest.raises(StorageError, match="could not write reg/crates/foo/foo-0.1.0.crate: the S3 credentials"):
        crates.put(crate_key("foo", "0.1.0"), b"x")
    with pytest.raises(StorageError, match="credentials were refused"):
        list(served.list())
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "NOSUCHKEY")
    with pytest.raises(StorageError, match="could not read reg/index/config.json: .*InvalidAccessKeyId"):
        open_s3_stores(s3_config)[1].get("config.json")


def test_missing_credentials_are_a_clear_storage_error(
    s3_config: StorageConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    with pytest.raises(StorageError, match="no S3 credentials .set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"):
        check_storage(s3_config)


def test_a_missing_bucket_is_a_clear_storage_error(s3_credentials: CephS3) -> None:
    config = s3_credentials.config("no-such-bucket-here")
    with pytest.raises(StorageError, match="bucket no-such-bucket-here.*the bucket does not exist"):
        check_storage(config)
    with pytest.raises(StorageError, match="the bucket does not exist"):
        open_s3_stores(config)[0].get(crate_key("foo", "0.1.0"))


def test_an_unreachable_endpoint_is_a_storage_error(s3_credentials: CephS3) -> None:
    with socket_closed_port() as port:
        config = StorageConfig(bucket="anything", endpoint=f"http://127.0.0.1:{port}", region="us-east-1")
        with pytest.raises(StorageError, match=f"could not reach the bucket anything at http://127.0.0.1:{port}"):
            check_storage(config)


def test_unreadable_says_why_a_crate_store_cannot_be_reached(
    s3_credentials: CephS3, s3_config: StorageConfig, tmp_path: Path
) -> None:
    assert LocalCrateStore(tmp_path / "crates").unreadable() is None
    assert open_s3_stores(s3_config)[0].unreadable() is None
    missing = open_s3_stores(s3_credentials.config("no-such-bucket-here"))[0].unreadable()
    assert missing is not None and "the bucket does not exist" in missing
    with socket_closed_port() as port:
        config = StorageConfig(bucket="anything", endpoint=f"http://127.0.0.1:{port}", region="us-east-1")
        refused = open_s3_stores(config)[0].unreadable()
    assert refused is not None and refused.startswith("could not reach the bucket anything: ")
