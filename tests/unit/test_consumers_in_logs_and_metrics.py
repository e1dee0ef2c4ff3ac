"""Which consumer called: the token info the function builds from verified claims, the access log
line and the per-consumer EMF metrics (pure logic: no engine, no HTTP)."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest

from service.auth import consumer_in, consumer_of, gateway_claims
from service.observability import count_for_consumer
from service.settings import load_settings

SETTINGS = dataclasses.replace(load_settings("local", environ={}).service, client_ids={"id-123": "billing"})


def test_token_info_names_the_consumer_and_keeps_the_scope() -> None:
    info = consumer_of({"token_use": "access", "client_id": "id-123", "scope": "a/b c/d"}, SETTINGS)
    assert info == {"sub": "id-123", "client_id": "id-123", "consumer": "billing", "scope": "a/b c/d"}


@pytest.mark.parametrize(
    "claims",
    [
        {"token_use": "id", "client_id": "id-123", "scope": "a/b"},
        {"client_id": "id-123", "scope": "a/b"},
        {"token_use": "access", "client_id": "someone-else", "scope": "a/b"},
        {"token_use": "access", "scope": "a/b"},
    ],
    ids=["id token", "no token_use", "undeclared client", "no client"],
)
def test_claims_that_are_not_an_access_token_of_a_declared_client_are_refused(claims: dict[str, Any]) -> None:
    assert consumer_of(claims, SETTINGS) is None


def test_claims_come_only_from_the_authorizer_part_of_the_event() -> None:
    claims = {"client_id": "id-123"}
    assert gateway_claims({"aws.event": {"requestContext": {"authorizer": {"claims": claims}}}}) == claims
    assert gateway_claims({"aws.event": {"requestContext": {}}}) is None
    assert gateway_claims({"aws.event": {"headers": {"claims": "x"}}}) is None
    assert gateway_claims({}) is None


def test_the_consumer_is_read_from_connexions_request_context() -> None:
    assert consumer_in({"extensions": {"connexion_context": {"consumer": "billing"}}}) == "billing"
    assert consumer_in({"extensions": {}}) is None
    assert consumer_in({}) is None


def test_each_request_of_a_consumer_is_counted_with_the_consumer_as_a_dimension(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")
    monkeypatch.delenv("POWERTOOLS_DEV", raising=False)
    count_for_consumer("billing", 200)
    count_for_consumer("billing", 403)
    count_for_consumer("signup", 201)
    blobs = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    # One EMF document per request, holding that request's metrics and no other's.
    names = [[metric["Name"] for metric in blob["_aws"]["CloudWatchMetrics"][0]["Metrics"]] for blob in blobs]
    assert names == [["ConsumerRequests"], ["ConsumerRequests", "ConsumerClientErrors"], ["ConsumerRequests"]]
    assert [blob["consumer"] for blob in blobs] == ["billing", "billing", "signup"]
    for blob, blob_names in zip(blobs, names, strict=True):
        assert blob["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["service", "consumer"]]
        assert blob["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "UsersApi"
        assert blob["service"] == "users-api"
        assert all(blob[name] == [1.0] for name in blob_names)


def test_nothing_is_emitted_when_metrics_are_off(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    count_for_consumer("billing", 200)
    assert capsys.readouterr().out == ""
