"""YAML bulk files and Markdown front matter, read with YAML 1.2's rules and the line of every field.

Imported only when such a file is read (PyYAML takes a while to import), so a command served from the
on-disk index never loads it.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from .model import Location, Problem, RawEntry

# YAML that keeps dates as text and knows the line of every key


_BaseLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when installed


class _Loader(_BaseLoader):  # type: ignore[valid-type,misc]
    """Safe loading (libyaml's parser when available; it keeps line marks), without timestamp conversion."""


# YAML 1.2 core rules instead of PyYAML's YAML 1.1 ones, so that what editors write means what it says:
# dates stay text (no timestamp conversion), only true/false are booleans ("No" stays a word), and integers
# are decimal (an unquoted -0043 is 44 BC, not an octal number).
_REPLACED = {"tag:yaml.org,2002:timestamp", "tag:yaml.org,2002:bool", "tag:yaml.org,2002:int"}
_Loader.yaml_implicit_resolvers = {
    key: [(tag, regexp) for tag, regexp in resolvers if tag not in _REPLACED]
    for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
_Loader.add_implicit_resolver("tag:yaml.org,2002:int", re.compile(r"^[-+]?[0-9]+$"), list("-+0123456789"))


MAX_DIGITS = 100
"""The longest number a field may hold (longer ones are refused with their line, before Python's own limit)."""


class _NumberTooLong(yaml.constructor.ConstructorError):
    """A number too long to be any field's value."""


def _decimal_int(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> int:
    text = str(loader.construct_scalar(node))
    digits = len(text.lstrip("+-"))
    if digits > MAX_DIGITS:
        raise _NumberTooLong(
            None, None, f"a number of {digits} digits is too long; write text in quotes", node.start_mark
        )
    return int(text, 10)


def _float(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> float:
    text = str(loader.construct_scalar(node))
    if len(text) > MAX_DIGITS:
        raise _NumberTooLong(
            None,
            None,
            f"a number of {len(text)} characters is too long; write text in quotes",
            node.start_mark,
        )
    return float(loader.construct_yaml_float(node))


_Loader.add_constructor("tag:yaml.org,2002:int", _decimal_int)
_Loader.add_constructor("tag:yaml.org,2002:float", _float)


def _yaml_problem(exc: yaml.YAMLError, text: str, path: str, line_offset: int) -> Problem:
    """A YAML error as a path:line problem: the line of the problem (or of the unclosed bracket)."""
    if isinstance(exc, yaml.reader.ReaderError):
        line = text[: exc.position].count("\n") + 1 + line_offset
        code = exc.character if isinstance(exc.character, int) else ord(exc.character)
        return Problem(
            Location(path, line),
            f"the control character U+{code:04X} is not allowed in an entry file; delete it"
            " (it is invisible in most editors: retype the text around it)",
        )
    if isinstance(exc, _NumberTooLong):
        mark = exc.problem_mark
        return Problem(Location(path, (mark.line + 1 if mark else 1) + line_offset), str(exc.problem))
    if not isinstance(exc, yaml.MarkedYAMLError):
        return Problem(Location(path, 1 + line_offset), f"YAML error: {exc}")
    mark = exc.problem_mark or exc.context_mark
    at_end = exc.problem_mark is None or exc.problem_mark.index >= len(text.rstrip())
    if exc.context_mark is not None and at_end:
        mark = exc.context_mark  # an unclosed bracket or quote: point at where it opened
    line = (mark.line + 1 if mark else 1) + line_offset
    what = exc.problem or "syntax error"
    if exc.context and mark is exc.context_mark:
        what = f"{exc.context} that is never closed ({what})"
    return Problem(
        Location(path, line),
        f"YAML syntax error: {what}; check the indentation and put text containing ': ' or '#' in quotes",
    )


def _yaml_items(text: str, path: str, line_offset: int = 0) -> tuple[Any, list[Problem]]:
    """Compose a YAML document; return ((loader, node), problems)."""
    try:
        loader = _Loader(text)
        try:
            node = loader.get_single_node()
        finally:
            loader.dispose()
    except yaml.YAMLError as exc:
        return None, [_yaml_problem(exc, text, path, line_offset)]
    return (loader, node), []


def _raw_from_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode, line_offset: int) -> RawEntry:
    fields: dict[str, Any] = {}
    lines: dict[str, int] = {}
    for key_node, value_node in node.value:
        key = str(key_node.value)
        lines[key] = key_node.start_mark.line + 1 + line_offset
        fields[key] = loader.construct_object(value_node, deep=True)
    return RawEntry(fields, lines, node.start_mark.line + 1 + line_offset)


def read_markdown(text: str, rel: str) -> tuple[list[RawEntry], list[Problem]]:
    lines = text.split("\n")
    if not lines or lines[0].strip() != "---":
        return [], [
            Problem(
                Location(rel, 1),
                "a Markdown entry starts with a '---' line, then YAML front matter, then '---'",
            )
        ]
    try:
        end = next(i for i in range(1, len(lines)) if lines[i].strip() in ("---", "..."))
    except StopIteration:
        return [], [Problem(Location(rel, 1), "front matter is not closed: add a '---' line after it")]
    parsed, problems = _yaml_items("\n".join(lines[1:end]), rel, line_offset=1)
    if problems:
        return [], problems
    loader, node = parsed
    if not isinstance(node, yaml.MappingNode):
        return [], [
            Problem(Location(rel, 2), "front matter must be 'field: value' lines (title:, date:, ...)")
        ]
    raw = _raw_from_mapping(loader, node, line_offset=1)
    if "body" in raw.fields:
        return [], [
            Problem(
                Location(rel, raw.lines["body"]),
                "a Markdown entry's body is the text after the front matter, not a body: field",
            )
        ]
    rest = "\n".join(lines[end + 1 :])
    body = rest.strip("\n")
    raw.fields["body"] = body
    raw.lines["body"] = end + 2 + len(rest) - len(rest.lstrip("\n"))  # the body's first line
    return [RawEntry(raw.fields, raw.lines, 1, end + 2)], []


def read_yaml_list(text: str, rel: str) -> tuple[list[RawEntry], list[Problem]]:
    parsed, problems = _yaml_items(text, rel)
    if problems:
        return [], problems
    loader, node = parsed
    if node is None:
        return [], []
    if not isinstance(node, yaml.SequenceNode):
        line = node.start_mark.line + 1
        return [], [
            Problem(
                Location(rel, line),
                "a bulk file must be a list of entries: start each entry with '- title: ...'",
            )
        ]
    raws: list[RawEntry] = []
    problems = []
    for item in node.value:
        if isinstance(item, yaml.MappingNode):
            raws.append(_raw_from_mapping(loader, item, 0))
        else:
            problems.append(
                Problem(
                    Location(rel, item.start_mark.line + 1),
                    "each list item must be an entry ('title: ...', 'date: ...')",
                )
            )
    return raws, problems


def read(text: str, rel: str, *, markdown: bool) -> tuple[list[RawEntry], list[Problem]]:
    """The raw entries of a YAML bulk file or a Markdown file, and the problems that stop the rest."""
    try:
        return read_markdown(text, rel) if markdown else read_yaml_list(text, rel)
    except yaml.YAMLError as exc:  # raised while constructing values (e.g. a list used as a key)
        return [], [_yaml_problem(exc, text, rel, 1 if markdown else 0)]
    except RecursionError:
        return [], [Problem(Location(rel, 1), "the file nests too deeply to read; simplify its structure")]
    except ValueError as exc:  # a value the constructors refuse (e.g. a malformed number)
        return [], [Problem(Location(rel, 1), f"a value cannot be read: {exc}")]
