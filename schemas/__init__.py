"""The contracts: Avro schemas (avro/*.avsc, the source of truth), the dataclasses that mirror them,
typed topic declarations and the registry-backed serde. No Kafka or HTTP client is imported here."""
