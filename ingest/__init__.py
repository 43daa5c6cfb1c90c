"""HTTP ingest: the Starlette API clients talk to."""
