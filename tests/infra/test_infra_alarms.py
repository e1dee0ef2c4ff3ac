"""The stage alarms reach people: CloudWatch may publish to the encrypted topic (for this stage's alarms
only), and the topic mails the addresses of `alarms.notify`."""

from __future__ import annotations

import copy
import fnmatch
from typing import Any

import pytest

from infra.config import load_stage
from infra.settings import load_infra_settings
from service.contract import get_contract
from service.settings import SettingsError, read_file
from tests.infra.conftest import Synth

pytestmark = pytest.mark.infra

CLOUDWATCH = {"Service": "cloudwatch.amazonaws.com"}
ACCOUNT = {"Ref": "AWS::AccountId"}


def _topic_statements(synth: Synth) -> list[dict[str, Any]]:
    topic_id, _ = synth.one("AWS::SNS::Topic")
    _, policy = synth.one("AWS::SNS::TopicPolicy")
    assert policy["Properties"]["Topics"] == [{"Ref": topic_id}]
    statements: list[dict[str, Any]] = policy["Properties"]["PolicyDocument"]["Statement"]
    return statements


def _source_arn_pattern(statement: dict[str, Any]) -> str:
    """The alarm ARN pattern of an ArnLike aws:SourceArn condition, with the account left as "*"."""
    value = statement["Condition"]["ArnLike"]["aws:SourceArn"]
    parts = value["Fn::Join"][1] if isinstance(value, dict) else [value]
    return "".join(part if isinstance(part, str) else "*" for part in parts)


# ---- CloudWatch may publish --------------------------------------------------------------------------


def test_cloudwatch_may_publish_to_the_topic_for_this_stages_alarms_in_this_account(each: Synth) -> None:
    topic_id, _ = each.one("AWS::SNS::Topic")
    allows = [s for s in _topic_statements(each) if s["Effect"] == "Allow"]
    assert len(allows) == 1, allows
    [allow] = allows
    assert allow["Principal"] == CLOUDWATCH
    assert allow["Action"] == "sns:Publish"
    assert allow["Resource"] == {"Ref": topic_id}
    assert allow["Condition"]["StringEquals"] == {"aws:SourceAccount": ACCOUNT}
    region = load_stage(each.stage).region
    assert _source_arn_pattern(allow) == f"arn:aws:cloudwatch:{region}:*:alarm:users-api-*-{each.stage}"


def test_the_topic_still_refuses_publishing_without_tls(each: Synth) -> None:
    denies = [s for s in _topic_statements(each) if s["Effect"] == "Deny"]
    assert [(d["Action"], d["Principal"], d["Condition"]) for d in denies] == [
        ("sns:Publish", "*", {"Bool": {"aws:SecureTransport": "false"}})
    ]


def test_every_alarm_that_notifies_is_one_cloudwatch_may_publish_for(each: Synth) -> None:
    [allow] = [s for s in _topic_statements(each) if s["Effect"] == "Allow"]
    names = _source_arn_pattern(allow).rsplit(":alarm:", 1)[1]
    notifying = [
        alarm["Properties"]["AlarmName"]
        for alarm in each.resources("AWS::CloudWatch::Alarm").values()
        if alarm["Properties"].get("AlarmActions")
    ]
    assert notifying
    assert [name for name in notifying if not fnmatch.fnmatchcase(name, names)] == []


def test_cloudwatch_may_use_the_topic_key_on_behalf_of_this_account_only(each: Synth) -> None:
    _, key = each.one("AWS::KMS::Key")
    [statement] = [s for s in key["Properties"]["KeyPolicy"]["Statement"] if s.get("Principal") == CLOUDWATCH]
    assert statement["Effect"] == "Allow"
    assert sorted(statement["Action"]) == ["kms:Decrypt", "kms:GenerateDataKey*"]
    assert statement["Condition"] == {"StringEquals": {"aws:SourceAccount": ACCOUNT}}


# ---- who gets the mail -------------------------------------------------------------------------------


def test_the_topic_mails_the_addresses_of_the_stages_settings(each: Synth) -> None:
    topic_id, _ = each.one("AWS::SNS::Topic")
    subscriptions = [s["Properties"] for s in each.resources("AWS::SNS::Subscription").values()]
    assert all(s["TopicArn"] == {"Ref": topic_id} and s["Protocol"] == "email" for s in subscriptions)
    notify = load_stage(each.stage).settings.alarms.notify
    assert sorted(s["Endpoint"] for s in subscriptions) == sorted(notify)


def test_prod_pages_the_contracts_contact_and_dev_pages_nobody(dev: Synth, prod: Synth) -> None:
    contact = get_contract().document["info"]["contact"]["email"]
    assert load_stage("prod").settings.alarms.notify == (contact,)
    assert load_stage("dev").settings.alarms.notify == ()


@pytest.mark.parametrize(
    "notify",
    [["platform-team"], ["platform team@example.com"], ["a@example.com", "a@example.com"], "a@example.com"],
)
def test_notify_takes_distinct_email_addresses_only(notify: Any) -> None:
    document = copy.deepcopy(read_file())
    document["stages"]["dev"].setdefault("alarms", {})["notify"] = notify
    with pytest.raises(SettingsError, match=r"alarms\.notify"):
        load_infra_settings("dev", document=document)
