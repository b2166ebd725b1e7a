"""The api service: Cargo's web API."""
