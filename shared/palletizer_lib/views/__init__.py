"""What the pages and the crates.io-style documents show, built from the registry."""
