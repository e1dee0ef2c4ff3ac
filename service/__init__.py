"""users-api: the service package (the same code runs in Lambda and on the local stage)."""

import logging

# The service's name: Powertools' logger, metrics and tracer carry it.
SERVICE_NAME = "users-api"


def module_logger(module: str) -> logging.Logger:
    """A module's logger: a child of the service's Powertools logger (named SERVICE_NAME), so its
    lines go out through the same JSON handler, at the level the settings give that logger, with
    the request's keys. (Powertools' own `Logger(child=True)` would keep a level of its own.)"""
    return logging.getLogger(f"{SERVICE_NAME}.{module}")
