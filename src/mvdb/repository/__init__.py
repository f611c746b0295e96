"""Adapters that store movies: each implements the domain's port, :class:`mvdb.domain.ports.MovieRepository`.

``dynamodb`` is the one adapter the service runs with.
"""
