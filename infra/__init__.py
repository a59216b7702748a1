"""Kafka infrastructure: connection settings, topic declarations and the embedded broker."""
