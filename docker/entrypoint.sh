#!/bin/sh
# Make the registry on the first start with an empty data volume, then run the command (a service or the CLI).
# `init --exist-ok` does nothing if the registry exists, and is serialised by the registry lock: services
# starting together on a fresh volume make one registry.
set -eu
palletizer init --exist-ok
exec "$@"
