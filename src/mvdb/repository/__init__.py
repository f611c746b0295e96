"""Persistence of movies. The service sees :class:`MovieRepository`; DynamoDB is one implementation."""

from mvdb.repository.base import MovieRepository, StoredMovie

__all__ = ["MovieRepository", "StoredMovie"]
