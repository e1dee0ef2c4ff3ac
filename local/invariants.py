"""The table's invariants, checked by reading every item (tests, and by hand after a run):

- every user has exactly one email guard, and it points back at the user;
- every email guard points at a live user that holds that email;
- an idempotency record with its fingerprint points at a live user; one whose fingerprint was
  removed (its user's delete) points at a user that does not exist.

    python -m local.invariants --endpoint http://127.0.0.1:PORT --table users-local
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from typing import Any

from service.repository import FINGERPRINT
from service.users import normalise_email


def violations(client: Any, table_name: str) -> list[str]:
    """Every broken invariant, one line each (empty: the table is consistent)."""
    users: dict[str, str] = {}  # userId -> normalised email
    guards: dict[str, str] = {}  # normalised email -> userId
    records: dict[str, tuple[str, bool]] = {}  # record pk -> (userId, has a fingerprint)
    for page in client.get_paginator("scan").paginate(TableName=table_name, ConsistentRead=True):
        for item in page["Items"]:
            pk = item["pk"]["S"]
            if pk.startswith("USER#"):
                users[item["userId"]["S"]] = normalise_email(item["email"]["S"])
            elif pk.startswith("EMAIL#"):
                guards[pk.removeprefix("EMAIL#")] = item["userId"]["S"]
            elif pk.startswith("IDEMPOTENCY#"):
                records[pk] = (item["userId"]["S"], FINGERPRINT in item)
    found: list[str] = []
    per_email = Counter(users.values())
    for email, count in per_email.items():
        if count > 1:
            found.append(f"{count} users share the email guard of {email!r}")
    for user_id, email in users.items():
        if guards.get(email) != user_id:
            found.append(f"user {user_id} has no email guard pointing at it")
    for email, user_id in guards.items():
        if users.get(user_id) != email:
            found.append(f"the email guard of {email!r} points at {user_id}, which does not hold it")
    for pk, (user_id, whole) in records.items():
        if whole and user_id not in users:
            found.append(f"idempotency record {pk} points at deleted user {user_id}")
        if not whole and user_id in users:
            found.append(f"idempotency record {pk} lost its fingerprint but its user {user_id} lives")
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--table", required=True)
    parser.add_argument("--region", default="us-east-1")
    args = parser.parse_args(argv)
    from botocore.session import get_session

    client = get_session().create_client("dynamodb", region_name=args.region, endpoint_url=args.endpoint)
    found = violations(client, args.table)
    for line in found:
        print(line)
    print(f"{len(found)} invariant violations in {args.table}")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
