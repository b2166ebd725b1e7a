"""`palletizer-front`'s nginx config: files from the data directory unless reads need a token."""

import shutil
import subprocess
from pathlib import Path

import pytest

from palletizer_services.front import FrontLimits, front_server, nginx_conf

UPSTREAMS = {"index_url": "http://index:8000", "api_url": "http://api:8000", "files_url": "http://files:8000"}


def test_files_are_served_from_the_data_directory(tmp_path: Path) -> None:
    server = front_server("0.0.0.0:8000", tmp_path / "data", max_body=1234, **UPSTREAMS)
    assert f"location /index/ {{ root {tmp_path / 'data'}; try_files $uri @index; }}" in server
    assert f"alias {tmp_path / 'data' / 'crates'}/;" in server
    assert "location ~ /\\. { return 404; }" in server  # index/.head, temporary files
    assert "proxy_pass http://index:8000; }" in server and "location / {" in server
    assert "client_max_body_size 1234;" in server
    assert "http://files:8000" not in server


def test_with_auth_required_nothing_is_served_from_disk(tmp_path: Path) -> None:
    server = front_server("0.0.0.0:8000", tmp_path / "data", max_body=1234, static=False, **UPSTREAMS)
    assert "root " not in server and "alias " not in server
    assert "location /files/ {" in server and "proxy_pass http://files:8000;" in server


def test_each_client_is_limited_and_its_address_passed_on_not_what_it_sent(tmp_path: Path) -> None:
    limits = FrontLimits(connections=7, rate=11, burst=13)
    server = front_server("0.0.0.0:8000", tmp_path / "data", max_body=1234, limits=limits, **UPSTREAMS)
    conf = nginx_conf(tmp_path, server, limits=limits)
    assert "limit_conn per_client 7;" in server
    assert server.count("limit_req zone=per_client_rate burst=13 nodelay;") == 3  # @index, /git/, /
    assert "zone=per_client_rate:10m rate=11r/s;" in conf
    assert "limit_conn_status 429;" in conf and "limit_req_status 429;" in conf
    assert "proxy_request_buffering on;" in server and "proxy_request_buffering off" not in server
    assert "proxy_set_header X-Forwarded-For $remote_addr;" in server
    assert "$proxy_add_x_forwarded_for" not in server


@pytest.mark.skipif(
    shutil.which("nginx") is None and not Path("/usr/sbin/nginx").exists(), reason="nginx is not installed"
)
@pytest.mark.parametrize("static", [True, False])
def test_nginx_accepts_the_config(tmp_path: Path, static: bool) -> None:
    server = front_server(
        "127.0.0.1:8000",
        tmp_path / "data",
        max_body=1234,
        static=static,
        index_url="http://127.0.0.1:1",
        api_url="http://127.0.0.1:2",
        files_url="http://127.0.0.1:3",
    )
    conf = tmp_path / "nginx.conf"
    conf.write_text(nginx_conf(tmp_path, server))
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    checked = subprocess.run(
        [nginx, "-t", "-e", "stderr", "-p", str(tmp_path), "-c", str(conf)], capture_output=True, text=True, timeout=30
    )
    assert checked.returncode == 0, checked.stderr
