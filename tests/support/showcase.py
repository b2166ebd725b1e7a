"""A small registry's worth of crates for the web page tests (HTTP and browser): READMEs, dependencies,
features, links, a yanked version, and a crate whose README tries to run script."""

from tests.support.cratekit import dep
from tests.support.handle import Handle

CRATES_IO = "https://github.com/rust-lang/crates.io-index"
CORE = "pallet-core"
MACROS = "pallet_macros"
EVIL = "evil-readme"
FORKLIFT = "forklift"
YANKED = "0.2.1"
CORE_VERSIONS = ("0.1.0", "0.2.0", YANKED, "0.3.0")

CORE_README = """# pallet-core

Stack, wrap and ship **anything**: the core types of the *pallet* toolkit.

```rust
use pallet_core::Pallet;

let pallet = Pallet::new().stack(4).wrap();
```

| feature | what it adds |
| --- | --- |
| `std` | `std::io` adapters |
| `async` | tokio-based loaders |

- works on `no_std`
- ~~unsafe~~ no unsafe code

See the [guide](https://example.org/pallet/guide) for more.
"""

# Every way a README could try to run script in a visitor's browser: none of it may survive.
EVIL_README = """# Totally harmless

<script>document.title = "pwned"; window.pwned = true;</script>

<img src="x" onerror="document.title = 'pwned-img'; window.pwned = true">

<a href="javascript:window.pwned = true">a script link</a> <a href="JaVaScRiPt:window.pwned = true">mixed case</a>
<a href="&#106;avascript:window.pwned = true">encoded</a> <img src=x onerror=window.pwned=true>

[a markdown javascript: link](javascript:window.pwned=true)

<div onmouseover="window.pwned = true" style="position:fixed;inset:0">hover me</div>

<iframe src="javascript:parent.pwned = true"></iframe>

<svg onload="window.pwned = true"><circle r="4"/></svg>

<form action="javascript:window.pwned = true"><button>go</button></form>

Only this text should remain.
"""


def publish_showcase(live: Handle) -> None:
    """Publish the showcase crates (in this order: `forklift` is the most recent), and download
    `pallet-core` 0.3.0 twice."""
    live.publish(
        MACROS,
        "0.1.0",
        description="Derive macros for pallet-core",
        readme="# pallet_macros\n\n`#[derive(Stackable)]` for your own types.\n",
        repository="https://example.org/pallet/macros",
    )
    for version in CORE_VERSIONS:
        live.publish(
            CORE,
            version,
            description="Stack, wrap and ship anything: the core pallet types",
            readme=CORE_README.replace("# pallet-core", f"# pallet-core {version}")
            if version != "0.3.0"
            else CORE_README,
            deps=[
                dep(MACROS, "^0.1"),
                dep("serde", "^1.0", registry=CRATES_IO),
                dep("tokio", "^1", optional=True, registry=CRATES_IO),
                dep("tempfile", "^3", kind="dev", registry=CRATES_IO),
            ],
            features={"default": ["std"], "std": [], "async": ["dep:tokio"]},
            repository="https://example.org/pallet/core",
            homepage="https://example.org/pallet",
            documentation="https://docs.example.org/pallet-core",
            keywords=["pallet", "logistics"],
            categories=["data-structures", "no-std"],
            license="MIT OR Apache-2.0",
            rust_version="1.70",
        )
    assert live.yank(CORE, YANKED).status_code == 200
    live.publish(
        EVIL,
        "0.1.0",
        description="A README that tries to run script",
        readme=EVIL_README,
        homepage="javascript:window.pwned=true",
        repository="https://example.org/evil",
    )
    live.publish(
        FORKLIFT,
        "1.2.0",
        description="Moves pallets between warehouses (with pallet-core)",
        deps=[dep(CORE, "^0.3")],
        readme="# forklift\n\nLifts pallets.\n",
        keywords=["Logistics"],
    )
    for _ in range(2):
        download = live.get(f"/files/{CORE}/{CORE}-0.3.0.crate", headers=live.auth())
        assert download.status_code == 200, download.text
