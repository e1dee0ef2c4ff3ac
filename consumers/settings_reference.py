"""The settings reference of the guide, generated from settings.yaml: every key, its default, what each
stage sets, and the comment written beside it. The file stays the one place these are written.

    python -m consumers.settings_reference            # the Markdown, on standard output

The guide's build inserts it into docs/settings.md (docs/hooks/guide.py). Values come from the YAML
as loaded; descriptions come from its comments, read line by line as settings.yaml writes them:

    key: value                # what it is
                              # a comment-only line at the same column goes on describing `key`
    # a comment-only line at another column (or after a blank line) describes the key below it
    section:                  # a mapping's comment describes the mapping

Comments before the first key are the file's own header.
"""

from __future__ import annotations

import dataclasses
import re
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import yaml

from consumers.tools import ROOT

SETTINGS = ROOT / "settings.yaml"
KeyPath = tuple[str, ...]

_KEY_LINE = re.compile(r"^(?P<indent> *)(?P<key>[^\s#'\"{\[\-][^:#]*?|'[^']*'|\"[^\"]*\"):(?:\s|$)")


@dataclasses.dataclass(frozen=True)
class Comments:
    header: str
    by_key: Mapping[KeyPath, str]


@dataclasses.dataclass(frozen=True)
class Setting:
    """One key of a section (`key` is dotted below the section: `mix.getUser`)."""

    key: str
    default: Any
    stages: Mapping[str, Any]
    description: str
    is_mapping: bool = False


@dataclasses.dataclass(frozen=True)
class Section:
    name: str
    description: str
    settings: tuple[Setting, ...]


_MISSING = object()


def _comment_start(line: str) -> int:
    """Index of the `#` that starts the line's comment (outside quotes), or -1."""
    quote = ""
    for index, char in enumerate(line):
        if quote:
            if char == quote:
                quote = ""
        elif char in "'\"":
            quote = char
        elif char == "#" and (index == 0 or line[index - 1] in " \t"):
            return index
    return -1


def read_comments(text: str) -> Comments:
    """The file's header and the comment of each key, by its path from the document's root."""
    header: list[str] = []
    found: dict[KeyPath, list[str]] = {}
    stack: list[tuple[int, str]] = []
    leading: list[str] = []
    last: tuple[KeyPath, int] | None = None  # the key whose comment may go on, and its column
    seen_key = False
    for line in text.splitlines():
        if not line.strip():
            last, leading = None, []
            continue
        start = _comment_start(line)
        comment = line[start + 1 :].strip() if start >= 0 else ""
        if start >= 0 and not line[:start].strip():  # a comment-only line
            if not seen_key:
                header.append(comment)
            elif last is not None and start == last[1]:
                found[last[0]].append(comment)
            else:
                last, leading = None, [*leading, comment]
            continue
        match = _KEY_LINE.match(line)
        if match is None:  # a list item or a continued value: not a key of its own
            last = None
            continue
        seen_key = True
        indent, key = len(match.group("indent")), match.group("key").strip().strip("'\"")
        while stack and stack[-1][0] >= indent:
            stack.pop()
        stack.append((indent, key))
        path = tuple(name for _, name in stack)
        texts = [*leading, comment] if comment else leading
        leading = []
        if texts:
            found[path] = texts
        last = (path, start) if comment else None
    return Comments(
        header=" ".join(header).strip(),
        by_key={path: " ".join(texts) for path, texts in found.items()},
    )


def _leaves(value: Any, prefix: KeyPath = ()) -> Iterator[tuple[KeyPath, Any]]:
    """(path, value) of each key below `value`; a non-empty mapping yields itself, then its keys."""
    if isinstance(value, dict):
        for key, child in value.items():
            path = (*prefix, str(key))
            yield path, child
            if isinstance(child, dict) and child:
                yield from _leaves(child, path)


def _at(document: Any, path: KeyPath) -> Any:
    for key in path:
        if not isinstance(document, dict) or key not in document:
            return _MISSING
        document = document[key]
    return document


def sections(text: str) -> tuple[str, list[Section]]:
    """(the file's header, one section per key under `defaults`, in the file's order)."""
    document = yaml.safe_load(text)
    comments = read_comments(text).by_key
    defaults: dict[str, Any] = document.get("defaults") or {}
    stages: dict[str, Any] = document.get("stages") or {}
    found: list[Section] = []
    names = list(defaults) + [name for stage in stages.values() for name in stage if name not in defaults]
    for name in dict.fromkeys(names):
        paths = dict.fromkeys(path for path, _ in _leaves(defaults.get(name) or {}))
        for stage in stages.values():
            paths.update(dict.fromkeys(path for path, _ in _leaves(stage.get(name) or {})))
        settings = []
        for path in paths:
            default = _at(defaults, (name, *path))
            overrides = {
                stage: value
                for stage, values in stages.items()
                if (value := _at(values, (name, *path))) is not _MISSING
            }
            value = default if default is not _MISSING else next(iter(overrides.values()))
            description = _with_stage_comments(
                comments.get(("defaults", name, *path), ""),
                {stage: comments.get(("stages", stage, name, *path), "") for stage in overrides},
            )
            if isinstance(value, dict) and value and not description:
                continue  # a mapping that says nothing: its keys follow
            settings.append(
                Setting(
                    key=".".join(path),
                    default=default,
                    stages={
                        stage: override
                        for stage, override in overrides.items()
                        if not (isinstance(override, dict) and override)
                    },
                    description=description,
                    is_mapping=isinstance(value, dict) and bool(value),
                )
            )
        section_comment = _with_stage_comments(
            comments.get(("defaults", name), ""),
            {stage: comments.get(("stages", stage, name), "") for stage in stages},
        )
        found.append(Section(name=name, description=section_comment, settings=tuple(settings)))
    return read_comments(text).header, found


def _with_stage_comments(description: str, by_stage: Mapping[str, str]) -> str:
    """The defaults' comment, then what a stage's own comment adds (`prod: ...`)."""
    extra = "; ".join(f"{stage}: {text}" for stage, text in by_stage.items() if text)
    if not extra:
        return description
    return f"{description} ({extra})" if description else extra


def _inline(value: Any) -> str:
    if value is _MISSING:
        return ""
    if value == "":
        return '`""`'
    dumped = yaml.safe_dump(value, default_flow_style=True, width=10_000, allow_unicode=True)
    dumped = dumped.strip().removesuffix("...").strip()
    return "`" + dumped.replace("|", "\\|") + "`"


def _cell(text: str) -> str:
    """Prose for a table cell: one line, pipes escaped, `<name>` shown rather than read as HTML."""
    parts = " ".join(text.split()).split("`")
    for index in range(0, len(parts), 2):  # outside `code spans`, which show text as it is
        parts[index] = parts[index].replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return "`".join(parts).replace("|", "\\|")


def render(text: str) -> str:
    """The reference as Markdown: one table per section, one row per key."""
    header, found = sections(text)
    document = yaml.safe_load(text)
    stage_names = list(document.get("stages") or {})
    lines = [f"> {_cell(header)}", ""] if header else []
    for section in found:
        lines += [f"### `{section.name}`", ""]
        if section.description:
            lines += [_cell(section.description), ""]
        lines.append("| key | default | " + " | ".join(stage_names) + " | what it is |")
        lines.append("|---|---|" + "---|" * len(stage_names) + "---|")
        for setting in section.settings:
            default = "(mapping)" if setting.is_mapping else _inline(setting.default)
            stages = [_inline(setting.stages.get(stage, _MISSING)) for stage in stage_names]
            lines.append(
                f"| `{section.name}.{setting.key}` | {default} | "
                + " | ".join(stages)
                + f" | {_cell(setting.description)} |"
            )
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    path = Path(argv[0]) if argv else SETTINGS
    sys.stdout.write(render(path.read_text(encoding="utf-8")))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
