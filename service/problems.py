"""Where the `type` URIs of this API's problem documents (RFC 7807) live."""

PROBLEM_BASE = "https://users-api.example.com/problems/"
