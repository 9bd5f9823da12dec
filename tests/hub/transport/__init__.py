"""Tests of hub/transport: RabbitMQ, broker faults, the dashboard's broker depths."""
