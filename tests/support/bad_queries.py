"""Query strings every route must refuse with a 400 in Cargo's error JSON (one bad parameter each)."""

DIGITS = "9" * 5000

BAD = [
    f"/?page={DIGITS}",
    "/?page=-1",
    "/?page=0",
    "/?page=abc",
    "/?page=1.5",
    "/?page=%D9%A3",
    "/?page=1&page=2",
    f"/?q={'x' * 257}",
    "/?q=%FF",
    "/?q=a&q=b",
    "/?q=a%00b",
    f"/api/v1/crates?q=a&per_page={DIGITS}",
    "/api/v1/crates?q=a&per_page=-5",
    "/api/v1/crates?q=a&per_page=",
    "/api/v1/crates?q=a&per_page=1&per_page=2",
    "/api/v1/crates?q=%C3%28",
    f"/api/v1/crates?q={'y' * 300}",
    "/api/v1/crates?q=a&q=b",
    "/git/index/info/refs?service=git-upload-pack&service=git-upload-pack",
    "/git/index/info/refs?service=%FF",
]
