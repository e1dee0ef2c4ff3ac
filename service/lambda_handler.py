"""The Lambda entry point: API Gateway (REST, v1 proxy events) -> Mangum -> the connexion app.

Init (a cold start, or once per published version with SnapStart) builds the function from the
settings; the SnapStart hooks (service/snapstart.py) drop its connections before the snapshot, and
after a restore reseed `random`, drop them again and read the settings again, rebuilding the
function if one changed (or keeping the snapshot's when they cannot be read).
"""

from __future__ import annotations

import gc
from collections.abc import Callable
from typing import Any

Entry = Callable[[dict[str, Any], Any], dict[str, Any]]

# Start-up creates a few hundred thousand objects that live as long as the process: with the
# collector on, each of its passes walks them all again, for nothing (see docs/performance.md).
gc.disable()
try:
    from service import snapstart
    from service.app import create_asgi_app
    from service.lambda_adapter import adapter_for
    from service.observability import logger, make_tracer, record_cold_start
    from service.repository import DynamoUserRepository, make_client
    from service.settings import Settings, get_settings, reload_settings, ssm_provider
    from service.time_limits import deadline

    class Function:
        """What an execution environment builds once from its settings: the app behind Mangum,
        traced when the stage traces, and the DynamoDB client it holds."""

        def __init__(self, settings: Settings) -> None:
            self.settings = settings
            if settings.service.tracing:
                # botocore patched: each DynamoDB and SSM call is a subsegment of the function's
                # segment, which Lambda records (with its Initialization or Restore subsegment).
                # No subsegment of our own around the whole invocation: it repeated Lambda's
                # Invocation subsegment and cost every request more than the rest of the tracing
                # (docs/performance.md).
                make_tracer()
            self.client = make_client(settings.service)
            repository = DynamoUserRepository(self.client, settings.service.table_name)
            # One event at a time: the handlers run inline, with no worker thread.
            self.entry: Entry = adapter_for(
                create_asgi_app(settings, repository=repository, inline_handlers=True)
            )

        def clients(self) -> list[Any]:
            """The botocore clients that may hold pooled connections."""
            found: list[Any] = [self.client]
            if self.settings_from_ssm():
                found.append(ssm_provider().client)
            return found

        def settings_from_ssm(self) -> bool:
            return ssm_provider.cache_info().currsize > 0

    _function = Function(get_settings())
    _first_invocation = True

    def _invoke(event: dict[str, Any], context: Any) -> dict[str, Any]:
        global _first_invocation
        if _first_invocation:  # this environment's first event, after an on-demand init or a restore
            _first_invocation = False
            record_cold_start(context)
        # The repository sends no DynamoDB attempt this invocation's timeout could cut short.
        with deadline(context.get_remaining_time_in_millis() / 1000):
            return _function.entry(event, context)

    handler = logger.inject_lambda_context(_invoke, clear_state=True)

    @snapstart.register_before_snapshot
    def before_snapshot() -> None:
        """No connection goes into the snapshot."""
        snapstart.close_connections(_function.clients())

    @snapstart.register_after_restore
    def after_restore() -> None:
        """A restored environment: its own random state, no inherited connection, fresh settings.

        Settings that cannot be read again (SSM unreachable or slow, a value invalid) leave the
        function serving with the snapshot's: a failed hook would fail the restore, and every
        request that needed one."""
        global _function
        snapstart.reseed()
        snapstart.close_connections(_function.clients())
        try:
            settings = reload_settings()
        except Exception as error:  # whatever it is, the snapshot's settings still serve
            # The error's kind and text name the setting or the endpoint; no setting holds a secret
            # an error would repeat (the API key is free text: no check of it fails).
            logger.warning(
                "settings not read again after a restore: serving with the snapshot's",
                extra={"error": f"{type(error).__name__}: {error}"},
            )
            return
        if settings != _function.settings:
            _function = Function(settings)
finally:
    # What start-up built moves to the permanent generation: later collections skip it.
    gc.freeze()
    gc.enable()
