"""mvdb: a movies REST API on API Gateway, Lambda and DynamoDB."""

__version__ = "1.0.0"

__all__ = ["__version__"]
