"""compose.yaml as docker compose and podman-compose 1.0 both read it (the stack itself runs in
`make test-compose`), and compose.cluster.yaml's structure (its images cannot be pulled here)."""

import re
import shlex
import subprocess
from pathlib import Path

import yaml

from palletizer_lib.settings.config import validate_database
from palletizer_lib.settings.storage import parse_bucket_url, parse_http_url
from tests.compose.readme_commands import readme_compose_commands
from tests.support.cli import run_cli
from tests.support.compose_file import interpolate
from tests.support.server import ROOT


def test_healthchecks_are_shell_strings() -> None:
    """podman-compose 1.0 removes the first item of a list-form `test` when it makes a container, so a list
    shared through the YAML anchor breaks the next container it makes (`run --rm api ...`: "unknown
    healthcheck test type"). A string is CMD-SHELL for both."""
    for file in ("compose.yaml", "compose.front.yaml"):
        services = yaml.safe_load((ROOT / file).read_text())["services"]
        assert services
        for name, service in services.items():
            if file == "compose.front.yaml" and name != "front":
                continue
            test = service["healthcheck"]["test"]
            assert isinstance(test, str) and "/health" in test, (file, name, test)


def test_the_front_is_a_file_of_its_own() -> None:
    """podman-compose 1.0 ignores `profiles`: the front is added with `-f compose.front.yaml`."""
    stack = yaml.safe_load((ROOT / "compose.yaml").read_text())["services"]
    front = yaml.safe_load((ROOT / "compose.front.yaml").read_text())["services"]
    assert set(stack) == {"index", "api", "files"} and set(front) == {"front", *stack}
    assert not any("profiles" in service for service in (*stack.values(), *front.values()))


def test_with_the_front_the_services_urls_are_the_front_s_from_one_setting() -> None:
    """compose.front.yaml sets the three URLs of each service from PALLETIZER_FRONT_URL alone, so the
    front's command sets nothing in the shell (podman-compose 1.0 lets .env win over the shell)."""
    front = yaml.safe_load((ROOT / "compose.front.yaml").read_text())["services"]
    for name in ("index", "api", "files"):
        assert set(front[name]) == {"environment"}, name
        for variable in ("PALLETIZER_PUBLIC_URL", "PALLETIZER_API_URL", "PALLETIZER_FILES_URL"):
            value = front[name]["environment"][variable]
            assert interpolate(value, {}) == "http://localhost:8080"
            assert interpolate(value, {"PALLETIZER_FRONT_URL": "https://crates.test"}) == "https://crates.test"
    assert not any("PALLETIZER_" in command.split("docker compose", 1)[0] for command in readme_compose_commands())


def test_the_readme_s_compose_commands_name_what_exists_and_need_no_terminal() -> None:
    """Every `docker compose` command of the README (all run as written by `make test-compose`) names compose
    files and services that exist, and `exec`/`run` ask for no terminal (`-T`), so that they work in scripts
    and with input on standard input."""
    commands = readme_compose_commands()
    services = {
        *yaml.safe_load((ROOT / "compose.yaml").read_text())["services"],
        *yaml.safe_load((ROOT / "compose.front.yaml").read_text())["services"],
    }
    verbs = []
    for command in commands:
        words = shlex.split(command.split("docker compose", 1)[1])
        while words[0] == "-f":
            assert (ROOT / words[1]).is_file(), command
            words = words[2:]
        verbs.append(words[0])
        if words[0] in ("exec", "run"):
            assert "-T" in words, command
            assert next(word for word in words[1:] if not word.startswith("-")) in services, command
    assert {"up", "ps", "exec", "run", "down"} <= set(verbs), commands


CLUSTER_SERVICES = {"postgres", "minio", "bucket", "init", "node1", "node2"}
NODES = ("node1", "node2")
CREDENTIALS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "PGPASSWORD")


def cluster_services() -> dict[str, dict]:
    return yaml.safe_load((ROOT / "compose.cluster.yaml").read_text())["services"]


def with_defaults(value: str) -> str:
    """`value` as compose would make it with no variable set but the credentials (set to `set-VAR`)."""
    return interpolate(value, {name: f"set-{name}" for name in CREDENTIALS})


def test_the_cluster_file_runs_two_nodes_over_postgres_and_minio() -> None:
    services = cluster_services()
    assert set(services) == CLUSTER_SERVICES
    assert services["postgres"]["image"] == "postgres:15" and services["minio"]["image"] == "minio/minio"
    assert services["bucket"]["image"] == "minio/mc"
    assert {services[name]["image"] for name in ("init", *NODES)} == {"localhost/palletizer:latest"}
    assert not any("profiles" in service for service in services.values())


def test_the_cluster_healthchecks_are_exec_form_lists_of_their_own() -> None:
    """Exec form (no shell needed in the image), and no list shared by two services: podman-compose 1.0
    removes a list's first item when it makes a container."""
    services = cluster_services()
    checked = {name: service["healthcheck"]["test"] for name, service in services.items() if "healthcheck" in service}
    assert set(checked) == {"postgres", "minio", *NODES}
    for name, test in checked.items():
        assert isinstance(test, list) and test[0] == "CMD" and len(test) > 1, (name, test)
    assert len({id(test) for test in checked.values()}) == len(checked)
    assert all("/health" in " ".join(checked[name]) for name in NODES)
    assert checked["postgres"][1] == "pg_isready" and checked["minio"][1:] == ["mc", "ready", "local"]


def test_the_nodes_start_after_healthy_servers_and_a_finished_init() -> None:
    services = cluster_services()
    for name in NODES:
        assert services[name]["depends_on"] == {
            "postgres": {"condition": "service_healthy"},
            "minio": {"condition": "service_healthy"},
            "init": {"condition": "service_completed_successfully"},
        }
    assert services["init"]["depends_on"] == {
        "postgres": {"condition": "service_healthy"},
        "bucket": {"condition": "service_completed_successfully"},
    }
    assert services["bucket"]["depends_on"] == {"minio": {"condition": "service_healthy"}}
    assert all(services[name]["restart"] == "no" for name in ("bucket", "init"))


def test_the_credentials_come_from_the_environment() -> None:
    """The names the S3 client and libpq read, given to every Palletizer process; MinIO's root user and the
    database's password are the same variables, and no value is written in the file."""
    services = cluster_services()
    for name in ("init", *NODES):
        environment = services[name]["environment"]
        for variable in CREDENTIALS:
            assert environment[variable] == f"${{{variable}:?set {variable}}}", (name, variable)
    assert services["minio"]["environment"] == {
        "MINIO_ROOT_USER": "${AWS_ACCESS_KEY_ID:?set AWS_ACCESS_KEY_ID}",
        "MINIO_ROOT_PASSWORD": "${AWS_SECRET_ACCESS_KEY:?set AWS_SECRET_ACCESS_KEY}",
    }
    assert services["postgres"]["environment"]["POSTGRES_PASSWORD"] == "${PGPASSWORD:?set PGPASSWORD}"
    mc_host = with_defaults(services["bucket"]["environment"]["MC_HOST_minio"])
    assert mc_host == "http://set-AWS_ACCESS_KEY_ID:set-AWS_SECRET_ACCESS_KEY@minio:9000"


def test_init_names_the_bucket_and_database_once_into_the_config_volume(tmp_path: Path) -> None:
    """The init service's command takes only options `palletizer init --help` lists, with values init accepts,
    for the bucket `bucket` makes and the database `postgres` holds; its volume is the nodes' read-only one."""
    services = cluster_services()
    init = services["init"]
    assert init["entrypoint"] == ["palletizer"]
    words = [with_defaults(word) for word in init["command"]]
    assert words[:3] == ["--data", "/data", "init"] and "--exist-ok" in words
    listed = run_cli(tmp_path, "init", "--help").out
    assert {word for word in words[3:] if word.startswith("--")} <= set(re.findall(r"--[a-z][a-z0-9-]*", listed))
    options = dict(zip(words[3:], words[4:], strict=False))
    assert parse_bucket_url(options["--storage"]) == with_defaults(services["bucket"]["command"][-1]).split("/")[1]
    assert parse_http_url(options["--s3-endpoint"]) == "http://minio:9000"
    assert validate_database(options["--database"]).endswith("@postgres:5432/palletizer")
    assert services["postgres"]["environment"]["POSTGRES_DB"] == "palletizer"
    assert init["volumes"] == ["config:/data"]
    assert all("config:/config:ro" in services[name]["volumes"] for name in NODES)


def test_a_node_copies_the_template_once_and_its_config_at_every_start(tmp_path: Path) -> None:
    """The nodes' start command, run by sh over directories standing for the volumes: the first start copies
    the config-only data directory, a later one keeps what the node wrote and refreshes config.yaml."""
    script = cluster_services()["node1"]["entrypoint"]
    assert script[:2] == ["sh", "-c"] and script[2].endswith("exec palletizer-all")
    template, data, bin_dir = tmp_path / "config", tmp_path / "data", tmp_path / "bin"
    for directory in (template / "index.git", data, bin_dir):
        directory.mkdir(parents=True)
    (template / "config.yaml").write_text("first\n")
    (template / "index.git" / "HEAD").write_text("template\n")
    (bin_dir / "palletizer-all").write_text("#!/bin/sh\necho serving\n")
    (bin_dir / "palletizer-all").chmod(0o755)
    command = re.sub(r"(?<![\w.])/data", str(data), re.sub(r"(?<![\w.])/config", str(template), script[2]))
    environment = {"PATH": f"{bin_dir}:/usr/bin:/bin"}

    def start() -> str:
        return subprocess.run(["sh", "-c", command], capture_output=True, text=True, check=True, env=environment).stdout

    assert start() == "serving\n"
    assert (data / "index.git" / "HEAD").read_text() == "template\n"
    (data / "index.git" / "HEAD").write_text("replica\n")
    (template / "config.yaml").write_text("second\n")
    assert start() == "serving\n"
    assert (data / "index.git" / "HEAD").read_text() == "replica\n"
    assert (data / "config.yaml").read_text() == "second\n"
