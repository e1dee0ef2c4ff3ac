"""Handlers, one module per resource.

The rule is connexion's own (its default Resolver): the function that serves an operation is
`<x-openapi-router-controller>.<operationId>`, both read from the operation in openapi.yaml, e.g.
`service.handlers.users.createUser`. A new resource is a new module here and its operations in
the contract; service/app.py does not change.

A handler returns `(body, status[, headers])`; service.app sets the response's media type from the
contract (none for a response declared without content, such as 204).
"""
