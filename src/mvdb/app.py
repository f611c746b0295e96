"""The Lambda entry point: ``mvdb.app.lambda_handler`` (API Gateway REST API, payload v1).

Settings are read once, at init (failing fast when ``TABLE_NAME`` is missing), and the API is
built once from them (``mvdb.api.http_api.create_app``); every request of the container reuses it.
"""

from __future__ import annotations

from mvdb.api.http_api import create_app, lambda_handler_of
from mvdb.config import get_settings
from mvdb.observability import logger, metrics
from mvdb.snapstart import register_hooks as register_snapstart_hooks

__all__ = ["app", "lambda_handler"]


settings = get_settings()
logger.setLevel(settings.log_level)
metrics.set_default_dimensions(environment=settings.environment)
app = create_app(settings)
lambda_handler = lambda_handler_of(app)


register_snapstart_hooks()
