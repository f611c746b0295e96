"""Deploy tools: the parameters an environment deploys with (``deploy_parameters``), the teardown
behind ``make destroy`` (``stack_teardown``), and the offline stand-ins that prove the deploy path."""
