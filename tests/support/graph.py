"""A small graph of crates exercising what index entries must carry.

`middle` depends on the others through a plain, a renamed, an optional (behind a
`dep:` feature), a target-specific, a build- and a dev-dependency; `base_util` has
a feature and `links`. `app` (never published) uses `middle` and prints a number
only the right mix of versions and features produces.
"""

from pathlib import Path

from tests.support.cargo import REGISTRY, Cargo, write_crate


def _lib(
    name: str,
    version: str,
    body: str,
    extra_toml: str = "",
    files: dict[str, str] | None = None,
    root: Path | None = None,
) -> tuple[str, str, dict[str, str]]:
    toml = (
        f'[package]\nname = "{name}"\nversion = "{version}"\nedition = "2021"\n'
        f'description = "{name}: a test crate"\nlicense = "MIT"\n{extra_toml}'
    )
    return name, toml, {"src/lib.rs": body, **(files or {})}


def reg(name: str, req: str, extra: str = "") -> str:
    """A dependency line on a crate of the test registry."""
    return f'{name} = {{ version = "{req}", registry = "{REGISTRY}"{extra} }}\n'


MIDDLE_TOML_DEPS = (
    "[dependencies]\n"
    + reg("base_util", "0.1")
    + reg("renamed_ab", "0.1", ', package = "ab"')
    + reg("x", "0.1", ", optional = true")
    + "\n[target.'cfg(unix)'.dependencies]\n"
    + reg("abc", "0.1")
    + "\n[build-dependencies]\n"
    + reg("build-helper", "0.1")
    + "\n[dev-dependencies]\n"
    + reg("abc", "0.1")
    + '\n[features]\ndefault = []\nfancy = ["dep:x", "base_util/extra"]\n'
)

LIBRARIES = [
    _lib("x", "0.1.0", "pub fn x() -> u32 { 1 }\n"),
    _lib("ab", "0.1.0", "pub fn ab() -> u32 { 10 }\n"),
    _lib("ab", "0.1.1", "pub fn ab() -> u32 { 11 }\n"),
    _lib("abc", "0.1.0", "pub fn abc() -> u32 { 100 }\n"),
    _lib(
        "base_util",
        "0.1.0",
        'pub fn base() -> u32 { 2 }\n#[cfg(feature = "extra")]\npub fn extra() -> u32 { 1000 }\n',
        'links = "baseutil"\n\n[features]\nextra = []\n',
        {"build.rs": "fn main() {}\n"},
    ),
    _lib("build-helper", "0.1.0", 'pub fn message() -> &\'static str { "from-build-helper" }\n'),
    _lib(
        "middle",
        "0.1.0",
        "pub fn total() -> u32 {\n"
        "    let mut t = base_util::base() + renamed_ab::ab();\n"
        "    #[cfg(unix)] { t += abc::abc(); }\n"
        '    #[cfg(feature = "fancy")] { t += x::x() + base_util::extra(); }\n'
        "    t\n}\n"
        'pub const BUILD_MSG: &str = env!("MIDDLE_BUILD_MSG");\n',
        'rust-version = "1.60"\n\n' + MIDDLE_TOML_DEPS,
        {"build.rs": 'fn main() { println!("cargo:rustc-env=MIDDLE_BUILD_MSG={}", build_helper::message()); }\n'},
    ),
]

# base 2 + ab 0.1.1 (11) + abc 100 + x 1 + extra 1000
EXPECTED_OUTPUT = "total=1114 msg=from-build-helper"


def publish_graph(cargo: Cargo, root: Path) -> dict[str, Path]:
    """Publish every library of the graph with `cargo publish`; return their source dirs."""
    dirs = {}
    for name, toml, files in LIBRARIES:
        crate = write_crate(root, f"{name}-src", toml, files)
        cargo.publish(crate)
        dirs[name] = crate
    return dirs


def write_app(root: Path, name: str = "app", extra_deps: str = "") -> Path:
    """A binary crate that uses `middle` with the `fancy` feature."""
    toml = (
        f'[package]\nname = "{name}"\nversion = "0.1.0"\nedition = "2021"\npublish = false\n\n'
        "[dependencies]\n" + reg("middle", "0.1", ', features = ["fancy"]') + extra_deps
    )
    main = 'fn main() { println!("total={} msg={}", middle::total(), middle::BUILD_MSG); }\n'
    return write_crate(root, name, toml, {"src/main.rs": main})
