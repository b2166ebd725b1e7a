"""`make bench`: the benchmarks, each printing a table and writing a JSON file.

    python -m bench [--out DIR] [--repetitions N] [--seconds S] [--sizes N,N,...] [NAME ...]

NAME is any of index, downloads, cargo, publish, memory, idle, readme, mirror, scale, cluster (default: all, in
that order; cluster starts a throwaway Ceph cluster and PostgreSQL 15, as `make test-cluster` does).
"""

import argparse
import shutil
import tempfile
from pathlib import Path

from bench import (
    cargo_resolution,
    cluster,
    downloads,
    fresh_memory,
    index_serving,
    memory,
    mirror,
    publish_growth,
    readme_pages,
    scale,
)
from bench.common import Context

BENCHMARKS = {
    "index": index_serving,
    "downloads": downloads,
    "cargo": cargo_resolution,
    "publish": publish_growth,
    "memory": memory,
    "idle": fresh_memory,
    "readme": readme_pages,
    "mirror": mirror,
    "scale": scale,
    "cluster": cluster,
}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument(
        "names",
        nargs="*",
        choices=[*BENCHMARKS, []],
        metavar="NAME",
        help=f"benchmarks to run: {', '.join(BENCHMARKS)} (default: all)",
    )
    parser.add_argument("--out", type=Path, default=Path("bench-results"), help="where the JSON files go")
    parser.add_argument("--repetitions", type=int, default=5, help="repetitions of each measurement (default 5)")
    parser.add_argument("--seconds", type=float, default=4, help="length of each load run (default 4 s)")
    parser.add_argument(
        "--sizes",
        type=scale.parse_sizes,
        metavar="N,N,...",
        help="registry sizes of the scale benchmark (default: $BENCH_SCALE_SIZES, else 100,20000,100000)",
    )
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="palletizer-bench-"))
    try:
        ctx = Context(work, args.out, args.repetitions, args.seconds, args.sizes)
        for name in args.names or BENCHMARKS:
            BENCHMARKS[name].run(ctx)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
