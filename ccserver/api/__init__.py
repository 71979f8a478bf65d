"""The HTTP API: one plugin per domain (``plugins/``), each declaring its routes with
pydantic models (``routes.Route``); one error translation (``errors``); the
OpenAPI document built from the same declarations (``openapi``)."""

from .app import PLUGINS, build_app
from .deps import Deps

__all__ = ["PLUGINS", "Deps", "build_app"]
