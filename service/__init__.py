"""users-api: the service package (the same code runs in Lambda and on the local stage)."""
