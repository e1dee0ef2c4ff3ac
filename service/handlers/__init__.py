"""One function per operationId of openapi.yaml (see service.app.OperationResolver)."""
