"""Movies domain: models, rules and errors. Knows nothing of HTTP or DynamoDB."""
