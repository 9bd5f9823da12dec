"""The transport between stages: the protocol, the embedded store-backed queue, RabbitMQ, topology, priorities."""
