"""Request checks that connexion does not make the way the contract promises, in one place.

- RequestGuard (ASGI middleware, after routing): body size limit (413), a body without
  Content-Type or with a charset other than UTF-8 (415).
- StrictJSONBodyValidator: strict UTF-8, lone surrogates and malformed JSON are 400s, and a
  validation failure lists every offending field (Problem.errors).
- FieldParameterValidator: the same field list for path/query/header parameters.
"""

from __future__ import annotations

import json
import typing as t

from connexion.exceptions import BadRequestProblem, ProblemException, UnsupportedMediaTypeProblem
from connexion.json_schema import Draft4RequestValidator
from connexion.utils import is_null, is_nullable
from connexion.validators import ParameterValidator
from connexion.validators.json import JSONRequestBodyValidator
from jsonschema import Draft4Validator, ValidationError
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.problems import PROBLEM_BASE, status_title
from service.routing import routed_operation_id

FieldErrors = list[dict[str, str]]
# Compiled validators, one per schema object of the contract: connexion hands the validators the
# same schema dicts at every request, and building a jsonschema validator is most of what checking
# a small schema costs. The schema is kept with its validator, so its id cannot be reused.
_COMPILED: dict[tuple[int, type], tuple[t.Any, Draft4Validator]] = {}


def compiled(schema: t.Any, kind: type[Draft4Validator] = Draft4Validator) -> Draft4Validator:
    """The validator of `schema`, built on first use."""
    entry = _COMPILED.get((id(schema), kind))
    if entry is None or entry[0] is not schema:
        entry = (schema, kind(schema, format_checker=Draft4Validator.FORMAT_CHECKER))
        _COMPILED[(id(schema), kind)] = entry
    return entry[1]


class ValidationProblem(BadRequestProblem):  # type: ignore[misc]
    """400 with a list of field errors (the contract's Problem.errors)."""

    def __init__(self, detail: str, errors: FieldErrors) -> None:
        super().__init__(detail=detail)
        self.ext = {"errors": errors}


PRECONDITION_HEADERS = frozenset({"if-match", "if-unmodified-since"})


class PreconditionRequiredProblem(ProblemException):  # type: ignore[misc]
    def __init__(self, header: str) -> None:
        super().__init__(
            status=428,
            title="Precondition Required",
            detail=f"This change needs an {header} header with the resource's current ETag.",
            type=PROBLEM_BASE + "if-match-required",
        )


class PayloadTooLarge(ProblemException):  # type: ignore[misc]
    def __init__(self, limit: int) -> None:
        super().__init__(
            status=413, title=status_title(413), detail=f"The request body is larger than {limit} bytes."
        )


def _field(path: t.Iterable[t.Any]) -> str:
    return "/" + "/".join(str(part) for part in path) if path else ""


MESSAGES = {
    "minLength": "must be at least {} characters long",
    "maxLength": "must be at most {} characters long",
    "pattern": "must match the pattern {!r}",
    "type": "must be of type {}",
    "enum": "must be one of {}",
    "format": "must be a valid {}",
    "minimum": "must be at least {}",
    "maximum": "must be at most {}",
}


def _message(error: ValidationError) -> str:
    """Short and free of the offending value (it can be huge, or hold an email)."""
    template = MESSAGES.get(str(error.validator))
    if template is not None:
        return template.format(error.validator_value)[:200]
    return str(error.message)[:200]


def _errors_of(error: ValidationError, prefix: str) -> FieldErrors:
    """One entry per offending field: a missing or an unknown property is named in `field`."""
    path = prefix + _field(error.absolute_path)
    instance = error.instance if isinstance(error.instance, dict) else {}
    if error.validator == "required":
        missing = [
            name for name in error.validator_value if name not in instance and repr(name) in error.message
        ]
        return [{"field": f"{path}/{name}", "message": "required"} for name in missing]
    if error.validator == "additionalProperties" and instance:
        known = set(error.schema.get("properties", {}))
        return [
            {"field": f"{path}/{name}", "message": "unknown field"} for name in sorted(set(instance) - known)
        ]
    return [{"field": path, "message": _message(error)}]


def field_errors(validator: Draft4Validator, instance: t.Any, prefix: str = "") -> FieldErrors:
    errors = sorted(validator.iter_errors(instance), key=lambda e: list(map(str, e.absolute_path)))
    return [entry for error in errors for entry in _errors_of(error, prefix)]


def _lone_surrogate_path(value: t.Any, path: tuple[t.Any, ...] = ()) -> tuple[t.Any, ...] | None:
    """The path of the first string holding a lone surrogate (not encodable as UTF-8), if any."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return path
        return None
    items: t.Iterable[tuple[t.Any, t.Any]] = ()
    if isinstance(value, dict):
        items = [(key, key) for key in value] + list(value.items())
    elif isinstance(value, list):
        items = enumerate(value)
    for key, item in items:
        found = _lone_surrogate_path(item, (*path, key))
        if found is not None:
            return found
    return None


class StrictJSONBodyValidator(JSONRequestBodyValidator):  # type: ignore[misc]
    async def _parse(self, stream: t.AsyncGenerator[bytes, None], scope: Scope) -> t.Any:
        raw = b"".join([chunk async for chunk in stream])
        if not raw:
            return None
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as error:
            raise ValidationProblem(
                "The request body is not valid UTF-8.",
                [{"field": "", "message": f"invalid UTF-8 at byte {error.start}"}],
            ) from None
        try:
            body = json.loads(text)
            surrogate = _lone_surrogate_path(body)
        except json.JSONDecodeError as error:
            raise ValidationProblem(
                "The request body is not valid JSON.",
                [{"field": "", "message": f"{error.msg} at line {error.lineno} column {error.colno}"}],
            ) from None
        except ValueError as error:  # an integer longer than Python converts (4,300 digits)
            raise ValidationProblem(
                "The request body holds a number too long to read.", [{"field": "", "message": str(error)}]
            ) from None
        except RecursionError:
            raise ValidationProblem(
                "The request body is nested too deeply.", [{"field": "", "message": "nested too deeply"}]
            ) from None
        if surrogate is not None:
            raise ValidationProblem(
                "The request body holds a lone UTF-16 surrogate, which is not valid Unicode text.",
                [{"field": _field(surrogate), "message": "lone surrogate in string"}],
            )
        return body

    def _validate(self, body: t.Any) -> dict[str, t.Any] | None:
        if body is None:
            raise ValidationProblem(
                "The request body must not be empty.", [{"field": "", "message": "required"}]
            )
        validator = compiled(self._schema, Draft4RequestValidator)
        errors = field_errors(validator, body)
        if errors:
            raise ValidationProblem("The request body does not match the contract.", errors)
        return None


class FieldParameterValidator(ParameterValidator):  # type: ignore[misc]
    """Like connexion's, but reports every bad parameter as a field error, with short messages."""

    LOCATIONS = ("path", "query", "header", "cookie")

    @staticmethod
    def validate_parameter(
        parameter_type: str, value: t.Any, param: dict[str, t.Any], param_name: str | None = None
    ) -> str | None:
        """connexion's check, with the parameter's validator compiled once (connexion deep-copies
        the parameter and builds a new validator for every parameter of every request)."""
        if is_nullable(param) and is_null(value):
            return None
        if value is not None:
            error = next(compiled(param.get("schema", param)).iter_errors(value), None)
            return None if error is None else str(error.message)
        if param.get("required"):
            return f"Missing {parameter_type} parameter '{param['name']}'"
        return None

    def validate_request(self, request: t.Any) -> None:
        if self.strict_validation:
            extra = self.validate_query_parameter_list(request, security_params=self.security_query_params)
            if extra:
                raise ValidationProblem(
                    "The request has query parameters the contract does not define.",
                    [{"field": f"query.{name}", "message": "unknown parameter"} for name in sorted(extra)],
                )
        errors: FieldErrors = []
        missing_preconditions = [
            param["name"]
            for param in self.parameters.get("header", [])
            if param.get("required")
            and param["name"].lower() in PRECONDITION_HEADERS
            and request.headers.get(param["name"]) is None
        ]
        if missing_preconditions:
            # RFC 6585: a missing precondition is 428, not a malformed request (API Gateway lets
            # it through for the same reason: infra.gateway.required_at_gateway).
            raise PreconditionRequiredProblem(missing_preconditions[0])
        for location in self.LOCATIONS:
            for param in self.parameters.get(location, []):
                getter = getattr(self, f"validate_{location}_parameter")
                if getter(param, request):  # connexion's own check, then our message
                    errors.extend(self._describe(location, param, request))
        if errors:
            raise ValidationProblem("The request parameters do not match the contract.", errors)

    def _describe(self, location: str, param: dict[str, t.Any], request: t.Any) -> FieldErrors:
        name = param["name"]
        value = {
            "path": lambda: request.path_params.get(name.replace("-", "_")),
            "query": lambda: request.query_params.get(name),
            "header": lambda: request.headers.get(name),
            "cookie": lambda: request.cookies.get(name),
        }[location]()
        if value is None:
            return [{"field": f"{location}.{name}", "message": "required"}]
        validator = compiled(param.get("schema", {}))
        return field_errors(validator, value, prefix=f"{location}.{name}") or [
            {"field": f"{location}.{name}", "message": "invalid value"}
        ]


class RequestGuard:
    """Body-size and media-type checks that must run before the body is read or parsed."""

    def __init__(self, app: ASGIApp, max_body_bytes: int, operations_with_body: frozenset[str]) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.operations_with_body = operations_with_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or routed_operation_id(scope) not in self.operations_with_body:
            # An operation without a requestBody ignores any body it is sent.
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        limit = self.max_body_bytes
        if headers.get("content-length") is None:
            # connexion decides "no body" from Content-Length alone. A chunked request (uvicorn)
            # has none, nor may a Lambda event (`sam local generate-event` omits it; API Gateway
            # passes a chunked client request without it): read the body here, and say how long
            # it is, as a request of that length would have.
            scope, receive = await _with_content_length(scope, receive, limit)
            headers = Headers(scope=scope)
        length = headers.get("content-length")
        size = 0
        if length is not None:
            # ASCII digits only: "²".isdigit() is true, and int() refuses it.
            if not (length.isascii() and length.isdigit()):
                raise BadRequestProblem(detail="Content-Length is not a number.")
            # More digits than the limit has is over it (int() refuses more than 4,300 digits).
            digits = length.lstrip("0") or "0"
            if len(digits) > len(str(limit)) or int(digits) > limit:
                raise PayloadTooLarge(limit)
            size = int(digits)
        has_body = size > 0
        content_type = headers.get("content-type")
        if has_body and content_type is None:
            raise UnsupportedMediaTypeProblem(detail="A request with a body needs a Content-Type header.")
        if content_type is not None and "charset" in content_type.lower():
            charset = content_type.lower().split("charset=", 1)[-1].split(";")[0].strip().strip('"')
            if charset not in ("utf-8", "utf8"):
                raise UnsupportedMediaTypeProblem(detail="Only UTF-8 request bodies are accepted.")
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > limit:
                raise PayloadTooLarge(limit)
            return message

        await self.app(scope, limited_receive, send)


async def _with_content_length(scope: Scope, receive: Receive, limit: int) -> tuple[Scope, Receive]:
    """Read the whole body (up to `limit`), then replay it under a scope with Content-Length."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        size += len(chunks[-1])
        if size > limit:
            raise PayloadTooLarge(limit)
        if not message.get("more_body", False):
            break
    body = b"".join(chunks)
    replayed = False

    async def replay() -> Message:
        nonlocal replayed
        if not replayed:
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    kept = [(name, value) for name, value in scope.get("headers", []) if name.lower() != b"transfer-encoding"]
    return {**scope, "headers": [*kept, (b"content-length", str(len(body)).encode())]}, replay
