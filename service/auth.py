"""Who is calling: the two security schemes of openapi.yaml, named there by `x-apikeyInfoFunc` and
`x-tokenInfoFunc`. connexion calls them and decides 401/403 itself: it requires the operation's
scope from what `token_info` returns, so the scope check is connexion's, from the contract.

The API key meters (usage plans); it identifies nobody. On AWS the gateway checks keys before the
function runs, so the stage's `api_key` setting is empty and `check_api_key` accepts what the
gateway let through; a local stage sets one so that it behaves like the gateway.

The access token says who calls. One code path decides which claims a request carries (`token_info`):
- behind API Gateway (`token_issuer` empty), the Cognito authorizer has verified the token and put
  its claims in the event (`requestContext.authorizer.claims`); only the gateway can invoke the
  function, so they are taken as they are, and no key is fetched at cold start;
- on a local stage (`token_issuer` set), the function verifies the token itself against the
  issuer's JWKS (`<issuer>/.well-known/jwks.json`): RS256 only, the issuer, the expiry with
  `token_leeway_seconds`.
Either way `consumer_of` then requires an access token (`token_use`) of a declared client
(`client_ids`), and names the consumer for the logs (the access line and every line logged while
the request is handled) and metrics. Anything wrong is a 401 (None),
never an exception: connexion would turn one into a 500.
"""

from __future__ import annotations

import functools
import hmac
from collections.abc import Coroutine, Mapping
from typing import TYPE_CHECKING, Any

from service import module_logger
from service.dependencies import current
from service.settings import ServiceSettings

if TYPE_CHECKING:
    from connexion.lifecycle import ConnexionRequest
    from jwt import PyJWKClient

logger = module_logger(__name__)

ALGORITHMS = ["RS256"]  # what Cognito signs access tokens with; never "none" nor an HMAC
JWKS_PATH = "/.well-known/jwks.json"
ACCESS = "access"
REQUIRED_CLAIMS = ["iss", "exp", "iat", "token_use", "client_id", "scope"]
JWKS_TIMEOUT_SECONDS = 5.0
CONSUMER = "consumer"  # where token_info leaves the consumer's name in connexion's request context


def check_api_key(token: str, required_scopes: Any = None) -> dict[str, Any] | None:
    expected = current().settings.api_key
    if not expected or hmac.compare_digest(token.encode(), expected.encode()):
        return {"sub": "api-key"}
    return None


def token_info(
    token: str, request: ConnexionRequest
) -> dict[str, Any] | Coroutine[Any, Any, dict[str, Any] | None] | None:
    """connexion's x-tokenInfoFunc: the verified claims of `token` as token info, or None (401).

    This is the one place that decides which claims a request carries. Behind the gateway they came
    with the event and the answer is at hand. A local stage verifies the token itself, off the event
    loop, and answers with a coroutine, which connexion awaits (it awaits whatever a token info
    function returns): no coroutine is made per request where there is nothing to wait for.
    """
    settings = current().settings
    if settings.token_issuer:
        return _verified_token_info(token, request, settings)
    return _token_info(gateway_claims(request.scope), request, settings)


async def _verified_token_info(
    token: str, request: ConnexionRequest, settings: ServiceSettings
) -> dict[str, Any] | None:
    from anyio import to_thread

    # The JWKS is fetched over HTTP the first time (then cached): off the event loop, which may be
    # the one serving the issuer itself (a local stage).
    verify = functools.partial(verify_token, token, settings.token_issuer, settings.token_leeway_seconds)
    return _token_info(await to_thread.run_sync(verify), request, settings)


def _token_info(
    claims: Mapping[str, Any] | None, request: ConnexionRequest, settings: ServiceSettings
) -> dict[str, Any] | None:
    info = None if claims is None else consumer_of(claims, settings)
    if info is not None:
        # Named in the access log even when connexion then refuses the scope (403), and in every line
        # logged until the request ends. (Imported here: service.observability imports this module.)
        from service.observability import name_consumer_in_logs

        request.context[CONSUMER] = info["consumer"]
        name_consumer_in_logs(info["consumer"])
    return info


def gateway_claims(scope: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The claims API Gateway's Cognito authorizer verified, from the Lambda event (Mangum's scope)."""
    # A Lambda event is parsed JSON: objects are dicts (an isinstance check against the Mapping ABC
    # would cost each request more than the rest of this function).
    event = scope.get("aws.event")
    if not isinstance(event, dict):
        return None
    context = event.get("requestContext")
    authorizer = context.get("authorizer") if isinstance(context, dict) else None
    claims = authorizer.get("claims") if isinstance(authorizer, dict) else None
    return claims if isinstance(claims, dict) else None


def consumer_of(claims: Mapping[str, Any], settings: ServiceSettings) -> dict[str, Any] | None:
    """Token info for connexion (its `scope` is what connexion checks), or None when the token is
    not an access token of a declared client."""
    if claims.get("token_use") != ACCESS:
        logger.info("token refused: token_use %r", claims.get("token_use"))
        return None
    client_id = str(claims.get("client_id") or "")
    consumer = settings.client_ids.get(client_id)
    if consumer is None:
        logger.info("token refused: client %r is not a declared consumer", client_id)
        return None
    scope = claims.get("scope")
    if isinstance(scope, list) and all(isinstance(name, str) for name in scope):
        scope = " ".join(scope)
    elif scope is None:
        scope = ""
    elif not isinstance(scope, str):
        logger.info("token refused: its scope is neither a string nor a list of strings")
        return None
    return {"sub": client_id, "client_id": client_id, "consumer": consumer, "scope": scope}


def verify_token(token: str, issuer: str, leeway_seconds: int) -> Mapping[str, Any] | None:
    """The claims of a token signed by `issuer` (RS256, unexpired, from that issuer), else None."""
    import jwt

    try:
        key = _jwks_client(issuer).get_signing_key_from_jwt(token).key
        claims: Mapping[str, Any] = jwt.decode(
            token,
            key,
            algorithms=ALGORITHMS,
            issuer=issuer,
            leeway=leeway_seconds,
            # Cognito access tokens carry no `aud`; one that does (an ID token) is refused.
            options={"require": REQUIRED_CLAIMS},
        )
    except (jwt.PyJWKClientConnectionError, OSError) as error:
        # PyJWKClient wraps what urllib raises for a refused or timed-out request, not a connection
        # the server resets after taking the request (ConnectionResetError, an OSError).
        logger.error("token refused: the issuer's keys cannot be fetched: %s", error)
        return None
    except (jwt.PyJWTError, ValueError, TypeError) as error:
        logger.info("token refused: %s", error)
        return None
    return claims


@functools.cache
def _jwks_client(issuer: str) -> PyJWKClient:
    from jwt import PyJWKClient

    return PyJWKClient(issuer.rstrip("/") + JWKS_PATH, timeout=JWKS_TIMEOUT_SECONDS, lifespan=300)


def consumer_in(scope: Mapping[str, Any]) -> str | None:
    """The consumer whose token this request carried, once verified (None: none, or not yet)."""
    context = (scope.get("extensions") or {}).get("connexion_context") or {}
    consumer = context.get(CONSUMER)
    return str(consumer) if consumer else None
