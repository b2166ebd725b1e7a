"""Drive real cargo with an isolated CARGO_HOME against a test registry."""

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

REGISTRY = "palletizer"


@dataclass
class Cargo:
    """A CARGO_HOME configured for one registry, and helpers to run cargo in it."""

    home: Path
    index_url: str
    target_dir: Path

    git_fetch_with_cli: bool = False
    token: str | None = None

    @classmethod
    def create(cls, root: Path, index_url: str, git_fetch_with_cli: bool = False, token: str | None = None) -> "Cargo":
        """A fresh, empty CARGO_HOME under `root` whose `palletizer` registry is `index_url`, with
        `token` (if any) given as cargo's token for it. The `cargo:token` credential provider is
        configured, as a registry with `auth-required` needs."""
        home = root / "cargo-home"
        home.mkdir(parents=True)
        (home / "config.toml").write_text(
            f'[registries.{REGISTRY}]\nindex = "{index_url}"\ncredential-provider = ["cargo:token"]\n\n'
            f"[net]\nretry = 0\ngit-fetch-with-cli = {str(git_fetch_with_cli).lower()}\n\n"
            '[term]\ncolor = "never"\n'
        )
        return cls(home, index_url, root / "target", git_fetch_with_cli, token)

    def fresh(self, root: Path, token: str | None = None) -> "Cargo":
        """Another CARGO_HOME with the same registry and no caches (and this token, or `token`)."""
        return Cargo.create(root, self.index_url, self.git_fetch_with_cli, token or self.token)

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CARGO_")}
        env.update(CARGO_HOME=str(self.home), CARGO_TARGET_DIR=str(self.target_dir), CARGO_HTTP_TIMEOUT="30")
        if self.token:
            env["CARGO_REGISTRIES_PALLETIZER_TOKEN"] = self.token
        return env

    def run(
        self, cwd: Path, *args: str, check: bool = True, extra_env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess:
        """Run `cargo ARGS` in `cwd` (with `extra_env` too); on failure (with `check`) raise with cargo's output."""
        result = subprocess.run(
            ["cargo", *args],
            cwd=cwd,
            env={**self.env(), **(extra_env or {})},
            capture_output=True,
            text=True,
            timeout=600,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"cargo {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
        return result

    def publish(self, crate_dir: Path) -> subprocess.CompletedProcess:
        """`cargo publish --registry palletizer` (verification build skipped to save time)."""
        return self.run(crate_dir, "publish", "--registry", REGISTRY, "--no-verify", "--allow-dirty")


def write_crate(root: Path, name: str, cargo_toml: str, files: dict[str, str]) -> Path:
    """Write a crate's sources under `root/name` and return its directory."""
    crate = root / name
    if crate.exists():
        shutil.rmtree(crate)
    for path, text in {"Cargo.toml": cargo_toml, **files}.items():
        (crate / path).parent.mkdir(parents=True, exist_ok=True)
        (crate / path).write_text(text)
    return crate
