"""Concurrent writers on the real local engine: the app's thread pool runs the requests at once.

After every round the table's invariants hold (local.invariants): every user has one email guard,
every guard points at a live user holding its email, no idempotency record outlives its user.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable
from typing import Any

import httpx
import pytest

from local.invariants import violations
from service.app import create_asgi_app
from service.contract import get_contract
from service.settings import Settings
from service.users import WRITE_ATTEMPTS

pytestmark = pytest.mark.integration

CONTRACT = get_contract()
USERS = CONTRACT.operation("createUser").path
MERGE_PATCH = "application/merge-patch+json"
RACERS = 20


def user_url(user_id: str) -> str:
    return CONTRACT.operation("getUser").url(userId=user_id)


def new_email(tag: str) -> str:
    return f"{tag}-{uuid.uuid4().hex[:12]}@example.com"


Call = tuple[str, str, dict[str, Any]]  # method, URL, httpx keyword arguments


class Racer:
    """Sends several requests at once to one app (built once: building one costs ~0.1 s)."""

    def __init__(self, settings: Settings, headers: dict[str, str]) -> None:
        self.app = create_asgi_app(settings)
        self.headers = headers

    def __call__(self, *calls: Call) -> list[httpx.Response]:
        """The answers, in the order of the calls."""

        async def run() -> list[httpx.Response]:
            transport = httpx.ASGITransport(app=self.app)
            async with httpx.AsyncClient(
                transport=transport, base_url="http://test", headers=self.headers
            ) as http:
                pending: list[Awaitable[httpx.Response]] = [
                    http.request(method, url, **kwargs) for method, url, kwargs in calls
                ]
                return list(await asyncio.gather(*pending))

        return asyncio.run(run())


def patch(user_id: str, etag: str, body: dict[str, Any]) -> Call:
    return (
        "PATCH",
        user_url(user_id),
        {"json": body, "headers": {"If-Match": etag, "Content-Type": MERGE_PATCH}},
    )


def post(body: dict[str, Any], **headers: str) -> Call:
    return ("POST", USERS, {"json": body, "headers": headers})


def get(url: str, **params: str) -> Call:
    return ("GET", url, {"params": params})


@pytest.fixture
def race(local_settings: Settings, api_headers: dict[str, str]) -> Racer:
    return Racer(local_settings, api_headers)


@pytest.fixture
def consistent(dynamodb: Any, local_settings: Settings) -> Any:
    def check() -> None:
        assert violations(dynamodb, local_settings.service.table_name) == []

    return check


def test_concurrent_patches_with_one_if_match_let_exactly_one_through(race: Racer, consistent: Any) -> None:
    (created,) = race(post({"name": "A", "email": new_email("p")}))
    user_id, etag = created.json()["userId"], created.headers["etag"]
    answers = race(*(patch(user_id, etag, {"name": f"racer {i}"}) for i in range(RACERS)))
    statuses = sorted(answer.status_code for answer in answers)
    assert statuses == [200] + [412] * (RACERS - 1)
    winner = next(answer for answer in answers if answer.status_code == 200).json()
    (now,) = race(get(user_url(user_id)))
    assert now.json() == winner
    consistent()


def test_concurrent_patches_under_if_match_any_all_apply(race: Racer, consistent: Any) -> None:
    """`If-Match: *` holds for any current version (RFC 9110 13.1.1): another write winning first
    is no reason for a 412; each patch is applied to the user as it is then."""
    (created,) = race(post({"name": "A", "email": new_email("any")}))
    user_id = created.json()["userId"]
    racers = WRITE_ATTEMPTS  # N writers at once all succeed within N attempts
    answers = race(*(patch(user_id, "*", {"name": f"racer {i}"}) for i in range(racers)))
    assert [answer.status_code for answer in answers] == [200] * racers, [a.text for a in answers]
    assert sorted(answer.headers["etag"] for answer in answers) == [f'"v{n}"' for n in range(2, racers + 2)]
    (now,) = race(get(user_url(user_id)))
    last = next(answer for answer in answers if answer.headers["etag"] == now.headers["etag"])
    assert now.json() == last.json()
    consistent()


def test_a_delete_under_if_match_any_is_not_refused_by_a_concurrent_patch(
    race: Racer, consistent: Any
) -> None:
    (created,) = race(post({"name": "A", "email": new_email("any-d")}))
    user_id = created.json()["userId"]
    patches = [patch(user_id, "*", {"name": f"racer {i}"}) for i in range(WRITE_ATTEMPTS - 1)]
    *patched, deleted = race(*patches, ("DELETE", user_url(user_id), {"headers": {"If-Match": "*"}}))
    assert deleted.status_code == 204, deleted.text
    assert {answer.status_code for answer in patched} <= {200, 404}
    (after,) = race(get(user_url(user_id)))
    assert after.status_code == 404
    consistent()


def test_concurrent_creates_with_one_idempotency_key_make_one_user(race: Racer, consistent: Any) -> None:
    key = str(uuid.uuid4())
    body = {"name": "A", "email": new_email("k")}
    answers = race(*(post(body, **{"Idempotency-Key": key}) for _ in range(RACERS)))
    assert all(answer.status_code in (201, 409) for answer in answers), [a.status_code for a in answers]
    created = [answer for answer in answers if answer.status_code == 201]
    assert created, "no create went through"
    assert len({answer.json()["userId"] for answer in created}) == 1
    (page,) = race(get(USERS, email=body["email"]))
    assert [user["userId"] for user in page.json()["items"]] == [created[0].json()["userId"]]
    consistent()


def test_two_users_swapping_emails_keep_the_table_consistent(race: Racer, consistent: Any) -> None:
    created = race(
        post({"name": "A", "email": new_email("swap-a")}), post({"name": "B", "email": new_email("swap-b")})
    )
    ids = [answer.json()["userId"] for answer in created]
    for _ in range(8):
        first, second = race(get(user_url(ids[0])), get(user_url(ids[1])))
        answers = race(
            patch(ids[0], first.headers["etag"], {"email": second.json()["email"]}),
            patch(ids[1], second.headers["etag"], {"email": first.json()["email"]}),
        )
        assert {answer.status_code for answer in answers} <= {200, 409}
        consistent()
        # Give the first user a fresh email, so that the next round can move something again.
        (now,) = race(get(user_url(ids[0])))
        race(patch(ids[0], now.headers["etag"], {"email": new_email("swap-a")}))
        consistent()


def test_delete_racing_update_never_resurrects_or_orphans(race: Racer, consistent: Any) -> None:
    for round_number in range(10):
        (created,) = race(post({"name": "A", "email": new_email("d")}))
        user_id, etag = created.json()["userId"], created.headers["etag"]
        moved = new_email("moved")
        deleted, updated = race(
            ("DELETE", user_url(user_id), {}),
            patch(user_id, etag, {"email": moved, "name": f"round {round_number}"}),
        )
        assert deleted.status_code == 204, deleted.text
        assert updated.status_code in (200, 404, 412), updated.text
        (after,) = race(get(user_url(user_id)))
        assert after.status_code == 404, "a deleted user came back"
        (search,) = race(get(USERS, email=moved))
        assert search.json()["items"] == []
        consistent()
