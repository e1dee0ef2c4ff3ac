"""moto's DynamoDB answers, serialized without walking every member of every attribute value.

moto 5.2 serializes each response through the operation's botocore output shape. An item's
attribute value is a structure of ten members (S, N, B, SS, NS, BS, M, L, NULL, BOOL), and the
generic serializer looks each of them up in the value, through its attribute-name aliases, to
find the one that is there: a page of 20 users of 9 attributes is ≈2,000 such look-ups, and 60 %
of the engine's time for the page (≈20 ms of ≈36). `DynamoDBJSONSerializer` writes an attribute
value that holds one scalar (S, N, BOOL, NULL, SS, NS: what the service stores) as it is, which
is what the generic code produces for it; every other value (B, BS, M, L, or anything unusual)
and every other shape still goes through the generic code. `EngineDynamoHandler` is moto's
DynamoDB handler with that serializer; `urls` routes the engine's backend to it.

Proposed upstream as docs/upstream/moto/0003-dynamodb-serialize-attribute-values.patch (its issue
text: ISSUE-0003-serialize-attribute-values.md); tests/engine compares the engine's answers with
stock moto's. Development tooling only: delete this module once moto serializes attribute values
directly (until then it steps aside by itself if moto registers a DynamoDB serializer).
"""

from __future__ import annotations

import types
from typing import Any

from botocore.model import OperationNotFoundError
from moto.core.model import OperationModel
from moto.core.responses import ActionContext
from moto.core.serialize import JSONSerializer, get_serializer_class
from moto.core.utils import get_service_model
from moto.dynamodb.responses import DynamoHandler
from moto.dynamodb.urls import url_bases

STRING_MEMBERS = frozenset({"S", "N"})
BOOLEAN_MEMBERS = frozenset({"BOOL", "NULL"})
STRING_SET_MEMBERS = frozenset({"SS", "NS"})


def _scalar(member: str, value: Any) -> bool:
    """Whether the generic serializer would write this member's value unchanged."""
    if member in STRING_MEMBERS:
        return type(value) is str
    if member in BOOLEAN_MEMBERS:
        return type(value) is bool
    if member in STRING_SET_MEMBERS:
        return type(value) is list and all(type(element) is str for element in value)
    return False


class DynamoDBJSONSerializer(JSONSerializer):
    """moto's JSON serializer; a one-scalar attribute value is written as it is."""

    def _serialize_type_structure(self, serialized: Any, value: Any, shape: Any, key: str) -> None:
        if key and shape.name == "AttributeValue" and type(value) is dict and len(value) == 1:
            ((member, member_value),) = value.items()
            if _scalar(member, member_value):
                serialized[self.get_serialized_name(shape, key)] = {member: member_value}
                return
        super()._serialize_type_structure(serialized, value, shape, key)


class EngineDynamoHandler(DynamoHandler):
    """moto's DynamoDB handler, answering through DynamoDBJSONSerializer."""

    def serialized(self, action_result: Any) -> Any:
        service_model = get_service_model(self.boto3_service_name)
        if self.determine_response_protocol(service_model) != "json":
            return super().serialized(action_result)
        serializer = get_serializer_class(service_model.service_name, "json")
        if serializer is not JSONSerializer:  # moto has a serializer of its own for DynamoDB now
            return super().serialized(action_result)
        return _with_serializer(self, action_result, DynamoDBJSONSerializer)


def _with_serializer(handler: DynamoHandler, action_result: Any, serializer: type[JSONSerializer]) -> Any:
    """Upstream's BaseResponse.serialized, with the serializer class given."""
    service_model = get_service_model(handler.boto3_service_name)
    try:
        operation_model = service_model.operation_model(handler._get_action())
    except OperationNotFoundError:
        assert isinstance(action_result.result, Exception)
        operation_model = OperationModel({}, service_model)
    context = ActionContext(service_model, operation_model, serializer, handler)
    status_code, headers, body = action_result.execute_result(context)
    headers.update(handler.response_headers)
    return status_code, headers, body


urls = types.SimpleNamespace(url_bases=url_bases, url_paths={"{0}/": EngineDynamoHandler.dispatch})
