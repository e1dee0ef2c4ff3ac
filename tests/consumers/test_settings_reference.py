"""The settings reference of the guide: every key of settings.yaml, its default, each stage's value and
the comment beside it, read from the file itself."""

from __future__ import annotations

import textwrap

import pytest
import yaml

from consumers.settings_reference import SETTINGS, read_comments, render, sections

pytestmark = pytest.mark.consumers

SAMPLE = textwrap.dedent(
    """\
    # The header of the file,
    # on two lines.
    defaults:
      service:
        table_name: users-{stage}   # {stage} is replaced
        api_key: ""                 # empty: the gateway checks keys; a "#" in a comment
        timeout_seconds: 2.0        # how long a call may take;
                                    # one more line of it
        retries: 3
      load:                         # what the load test reads
        mix:                        # a weight per operation:
                                    # every operation needs one
          getUser: 10
          createUser: 3
        # the next key's own comment, above it
        think_time: 0.5
      tags:
        owner: 'team # a'           # quoted values keep their hash
    stages:
      local:
        service:
          api_key: local-key        # the local stage checks keys itself
      prod:
        service:
          retries: 5
    """
)


def _rows(text: str) -> dict[str, tuple[object, dict[str, object], str]]:
    _, found = sections(text)
    return {
        f"{section.name}.{setting.key}": (setting.default, dict(setting.stages), setting.description)
        for section in found
        for setting in section.settings
    }


def test_comments_describe_their_key_and_go_on_at_the_same_column() -> None:
    comments = read_comments(SAMPLE)

    assert comments.header == "The header of the file, on two lines."
    assert comments.by_key[("defaults", "service", "table_name")] == "{stage} is replaced"
    assert comments.by_key[("defaults", "service", "timeout_seconds")] == (
        "how long a call may take; one more line of it"
    )
    assert comments.by_key[("defaults", "load", "mix")] == "a weight per operation: every operation needs one"
    assert comments.by_key[("defaults", "load", "think_time")] == "the next key's own comment, above it"
    assert ("defaults", "service", "retries") not in comments.by_key


def test_a_hash_inside_a_value_or_a_comment_is_not_a_new_comment() -> None:
    rows = _rows(SAMPLE)

    assert rows["tags.owner"][0] == "team # a"
    assert rows["tags.owner"][2] == "quoted values keep their hash"
    assert rows["service.api_key"][2].startswith('empty: the gateway checks keys; a "#" in a comment')


def test_every_key_has_its_default_and_each_stage_what_it_sets() -> None:
    rows = _rows(SAMPLE)

    assert rows["service.retries"] == (3, {"prod": 5}, "")
    assert rows["service.api_key"][:2] == ("", {"local": "local-key"})
    assert rows["service.api_key"][2].endswith("(local: the local stage checks keys itself)")
    assert rows["load.mix.getUser"] == (10, {}, "")
    assert rows["load.mix"][2] == "a weight per operation: every operation needs one"


def test_the_markdown_has_one_table_per_section_and_shows_names_in_angle_brackets() -> None:
    text = SAMPLE.replace("{stage} is replaced", "<stage> is replaced | in the name")

    markdown = render(text)

    assert markdown.count("| key | default | local | prod | what it is |") == 3
    assert (
        "| `service.table_name` | `users-{stage}` |  |  | &lt;stage&gt; is replaced \\| in the name |"
        in markdown
    )
    assert '| `service.api_key` | `""` | `local-key` |  |' in markdown
    assert "| `service.retries` | `3` |  | `5` |  |" in markdown


def test_the_real_file_every_key_and_every_stage_value_is_in_the_reference() -> None:
    text = SETTINGS.read_text(encoding="utf-8")
    document = yaml.safe_load(text)
    markdown = render(text)

    def leaves(value: object, prefix: str) -> list[str]:
        if isinstance(value, dict) and value:
            return [leaf for key, child in value.items() for leaf in leaves(child, f"{prefix}.{key}")]
        return [prefix]

    for section, values in document["defaults"].items():
        for key in leaves(values, section):
            assert f"| `{key}` |" in markdown, key
    rows = _rows(text)
    for stage, sections_of_stage in document["stages"].items():
        for section, values in sections_of_stage.items():
            for key in leaves(values, section):
                assert stage in rows[key][1], (stage, key)
