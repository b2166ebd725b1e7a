"""Values of a compose file as compose makes them: `${VAR}`, `${VAR:-default}` and `${VAR:?message}`."""

import re
from collections.abc import Mapping

_VARIABLE = re.compile(r"\$\{(\w+)(?::-([^}]*)|:\?([^}]*))?\}")


def interpolate(value: str, environment: Mapping[str, str]) -> str:
    """`value` with its variables replaced from `environment`; KeyError (with the message) for a required one
    that is not set."""

    def replace(match: re.Match[str]) -> str:
        name, default, required = match.groups()
        if environment.get(name):
            return environment[name]
        if required is not None:
            raise KeyError(required)
        return default or ""

    return _VARIABLE.sub(replace, value)
