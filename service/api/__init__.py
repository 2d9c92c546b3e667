"""The HTTP layer: routes, their dependencies, request and response schemas, errors."""
