"""Reading the YAML files settings come from (`config.yaml`, a server config): safe, strict and bounded.

A key given twice in one mapping is an error (plain YAML keeps the last silently), and so is nesting deeper
than `MAX_DEPTH`, refused while the document is read, before it costs a deep recursion.
"""

import yaml
from yaml.composer import ComposerError
from yaml.constructor import ConstructorError
from yaml.error import MarkedYAMLError
from yaml.nodes import MappingNode, Node

MAX_DEPTH = 64


class _StrictLoader(yaml.SafeLoader):
    """PyYAML's safe loader, refusing duplicate keys and nesting deeper than `MAX_DEPTH`."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: Node | None, index: int) -> Node | None:
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                mark = self.peek_event().start_mark  # type: ignore[no-untyped-call]  # PyYAML's parser is untyped
                raise ComposerError(None, None, f"nested deeper than {MAX_DEPTH} levels", mark)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[object, object]:
        if isinstance(node, MappingNode):
            seen: dict[object, int] = {}
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue
                key = self.construct_object(key_node, deep=True)
                line = key_node.start_mark.line + 1
                try:
                    first = seen.get(key)
                except TypeError:
                    continue  # an unhashable key: the safe loader itself refuses it
                if first is not None:
                    raise ConstructorError(None, None, f"the key `{key}` is given twice, on lines {first} and {line}")
                seen[key] = line
        return super().construct_mapping(node, deep=deep)


def load(text: str) -> object:
    """The document in `text`; `yaml.YAMLError` if it is not valid YAML, gives a key twice in one mapping,
    or nests deeper than `MAX_DEPTH`."""
    loader = _StrictLoader(text)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


def one_line(error: yaml.YAMLError) -> str:
    """What is wrong and where, on one line."""
    if isinstance(error, MarkedYAMLError) and error.problem:
        mark = error.problem_mark
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        context = f"{error.context}: " if error.context else ""
        return " ".join(f"{context}{error.problem}{where}".split())
    return " ".join(str(error).split())
