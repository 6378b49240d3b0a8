"""The REST API's foundation (authentication, scopes, errors, pagination, rate limits,
idempotency keys, ETags, the OpenAPI schema) and the accounts-level resources.

Every app's `api/` package builds on these modules; accounts is the bottom layer, so all
of them may import it.
"""
