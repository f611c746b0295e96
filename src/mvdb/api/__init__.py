"""HTTP layer: routes, request checks and the mapping of errors to problem responses."""
