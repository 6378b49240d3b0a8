"""The support app's REST API (mounted at /api/v1/ by cxplatform.urls)."""
