"""The Lambda entry point: ``mvdb.app.lambda_handler`` (API Gateway REST API, payload v1).

Settings are read once, at init (failing fast when ``TABLE_NAME`` is missing), and the API is
built once from them (``mvdb.api.http_api.create_app``); every request of the container reuses it.
"""

from __future__ import annotations

import gc

# Init creates a few hundred thousand objects that live as long as the process (modules, routes,
# models, the client) and frees none: collecting while they are created only costs time. The
# collector is paused for init and resumed at the end of this module, with init's objects frozen
# out of every later collection (docs/performance.md measures both).
gc.disable()

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

gc.freeze()  # what init built moves to the permanent generation: no collection scans it again
gc.enable()
