"""The benchmarks run only with `make bench`; `make test` checks at least that each of their modules imports
(that what they import from the library, the services and the tests' support still exists)."""

import importlib
import pkgutil

import pytest

import bench


@pytest.mark.parametrize("name", sorted(module.name for module in pkgutil.iter_modules(bench.__path__)))
def test_each_benchmark_module_imports(name: str) -> None:
    importlib.import_module(f"bench.{name}")
