"""Every answer of a load run checked against its operation's declared response in the contract.

`make load` runs the local stage with `validate_responses` off (docs/capacity.md): this check is
what still holds the service to its contract under load. For one answer of one operation,
`AnswerCheck.problem` says what breaks the contract (None: nothing):

- **status**: declared by the operation, exactly, by its range (`4XX`) or as `default`;
- **media type**: the Content-Type (without parameters, compared case-insensitively) is one the
  contract declares for that status; a status that declares no content answers no body;
- **body**: a JSON body is valid against the declared schema (`$ref`s resolved by
  `service.contract`), with connexion's response validator (`nullable`, `writeOnly`) and
  jsonschema's draft-4 format checker, as the app's own response validation does. The problem
  names the JSON path that broke (`$.items[0].email`) and the keyword, never the value (an email);
- **headers**: every header the contract marks `required: true` for that status is present
  (`Location` and `ETag` on a create, `ETag` on a read, `Allow` on a 405, `Retry-After` on a 503,
  `WWW-Authenticate` on a 401): the load test's links read some of them, clients rely on all.

Validators are built once per (operationId, status, media type), on first use, and shared by every
simulated client of the process. jsonschema-rs decides whether a body is valid; only an invalid one
goes through jsonschema, to say where.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from typing import Any

from service.contract import Operation, Response, is_json

NO_ANSWER = 0  # Locust's status when the request got no HTTP answer (connection error, timeout)
_MAX_VALUE_TEXT = 60  # a keyword's value (a pattern, an enum) is cut to this in a problem


class Reply:
    """One response, as the load test reads it."""

    def __init__(self, status: int, headers: Mapping[str, str], content: bytes) -> None:
        self.status = status
        self.headers = headers
        self.content = content

    @functools.cached_property
    def document(self) -> Any:
        """The JSON body (ValueError when it is not JSON)."""
        return json.loads(self.content)

    @functools.cached_property
    def header_names(self) -> frozenset[str]:
        """The names of its headers, in lower case."""
        return frozenset(str(name).lower() for name in self.headers)

    @functools.cached_property
    def media_type(self) -> str | None:
        """The Content-Type without its parameters, in lower case (None: no Content-Type)."""
        for name, value in self.headers.items():
            if str(name).lower() == "content-type":
                return str(value).partition(";")[0].strip().lower()
        return None


class AnswerCheck:
    """The contract's declared responses, as checks of answers; see the module's docstring."""

    def __init__(self) -> None:
        self._validators: dict[tuple[str, str, str], Any] = {}
        self._fast: dict[tuple[str, str, str], Any] = {}
        self._headers: dict[tuple[str, str], tuple[str, ...]] = {}

    def problem(self, operation: Operation, reply: Reply) -> str | None:
        """What in `reply` breaks `operation`'s declared response, as "<operationId>: <status> ...",
        or None when it conforms."""
        found = self._problem(operation, reply)
        return None if found is None else f"{operation.operation_id}: {found}"

    def _problem(self, operation: Operation, reply: Reply) -> str | None:
        if reply.status == NO_ANSWER:
            return "no HTTP answer (connection failed or timed out)"
        response = operation.response(reply.status)
        if response is None:
            declared = ", ".join(operation.responses)
            return f"{reply.status} is not a status the contract declares (it declares {declared})"
        media = reply.media_type
        if not response.media_types:
            if reply.content:
                return f"{reply.status} has a body ({media or 'no Content-Type'}), the contract declares none"
        elif media is None:
            return (
                f"{reply.status} has no Content-Type, the contract declares {', '.join(response.media_types)}"
            )
        else:
            declared_media = next((m for m in response.media_types if m.lower() == media), None)
            if declared_media is None:
                return (
                    f"{reply.status} answered {media}, the contract declares "
                    f"{', '.join(response.media_types)}"
                )
            if is_json(media):
                body = self._body_problem(operation, response, declared_media, reply)
                if body is not None:
                    return f"{reply.status} {media} body {body}"
        missing = [
            name for name in self._required_headers(operation, response) if name not in reply.header_names
        ]
        if missing:
            return f"{reply.status} lacks the header{'s' * (len(missing) > 1)} {', '.join(missing)}"
        return None

    def _body_problem(self, operation: Operation, response: Response, media: str, reply: Reply) -> str | None:
        if not reply.content:
            return "is empty"
        try:
            document = reply.document
        except ValueError:
            return "is not JSON"
        if self._fast_validator(operation, response, media).is_valid(document):
            return None
        # Invalid: the app's own validator says where, without the value.
        from jsonschema.exceptions import best_match

        error = best_match(self.validator(operation, response, media).iter_errors(document))
        if error is None:  # the two validators disagree: still a failure, said as such
            return "breaks the schema (jsonschema-rs refuses what jsonschema accepts)"
        return describe(error)

    def validator(self, operation: Operation, response: Response, media: str) -> Any:
        """The schema's validator for one declared answer, as the app's (connexion's draft-4 response
        validator with jsonschema's format checker), built on first use."""
        key = (operation.operation_id, response.status, media)
        validator = self._validators.get(key)
        if validator is None:
            from connexion.json_schema import Draft4ResponseValidator
            from jsonschema import Draft4Validator

            schema = dict(response.schemas.get(media) or {})
            validator = Draft4ResponseValidator(schema, format_checker=Draft4Validator.FORMAT_CHECKER)
            self._validators[key] = validator
        return validator

    def _fast_validator(self, operation: Operation, response: Response, media: str) -> Any:
        """The same schema compiled by jsonschema-rs, which decides valid or not about a hundred
        times faster (a page of 20 users: ≈0.01 ms against ≈1.5 ms): the load generator shares the
        machine with the stage it measures. The contract uses no OpenAPI-only keyword
        (`nullable`, `readOnly`, `writeOnly`) a plain draft-4 validator would read otherwise
        (tests/load/test_answers.py checks both agree)."""
        key = (operation.operation_id, response.status, media)
        validator = self._fast.get(key)
        if validator is None:
            import jsonschema_rs

            schema = dict(response.schemas.get(media) or {})
            validator = jsonschema_rs.Draft4Validator(schema, validate_formats=True)
            self._fast[key] = validator
        return validator

    def _required_headers(self, operation: Operation, response: Response) -> tuple[str, ...]:
        key = (operation.operation_id, response.status)
        names = self._headers.get(key)
        if names is None:
            names = tuple(name.lower() for name in response.required_headers)
            self._headers[key] = names
        return names


def describe(error: Any) -> str:
    """A jsonschema error as "at <JSON path>: ...", without the value that broke it (personal data)."""
    where = error.json_path
    if error.validator in ("required", "additionalProperties"):
        return f"at {where}: {error.message}"  # names properties, not values
    value = repr(error.validator_value)
    if len(value) > _MAX_VALUE_TEXT:
        value = value[: _MAX_VALUE_TEXT - 3] + "..."
    return f"at {where}: breaks {error.validator} {value}"
