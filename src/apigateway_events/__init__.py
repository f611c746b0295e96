"""Amazon API Gateway events as Lambda receives them, built one way for everyone who needs one.

``rest_api.proxy_event`` builds the event of a REST API's Lambda proxy integration (payload
format 1.0). The local gateway (``mvdb_local``), the CodeDeploy pre-traffic hook and the tests
use it. Standard library only: the hook's zip carries this package and nothing else of ours
beyond ``mvdb.api.scopes``.
"""
