"""Webhooks as both ingest (registration, secrets) and the notifier (delivery) see them: the message format
and signing, tenants' endpoints and secrets and their compacted views, the retry policy's maths."""
