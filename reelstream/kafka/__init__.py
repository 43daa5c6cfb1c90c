"""Adapters to Kafka and the schema registry; third-party errors become reelstream errors here."""
