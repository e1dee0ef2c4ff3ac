"""Where the `type` URIs of this API's problem documents (RFC 7807) live, and their titles."""

PROBLEM_BASE = "https://users-api.example.com/problems/"

# RFC 9110's reason phrases where Python's `http.HTTPStatus` keeps older ones (RFC 7231's "Request
# Entity Too Large", RFC 4918's "Unprocessable Entity"): the function and the gateway's own answers
# title one status alike.
_RFC_9110_PHRASES = {413: "Content Too Large", 422: "Unprocessable Content"}


def status_title(status: int) -> str:
    """The title of a problem that only its status explains (RFC 9110's reason phrase)."""
    import http

    return _RFC_9110_PHRASES.get(status) or http.HTTPStatus(status).phrase
