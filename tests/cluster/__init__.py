"""Failover tests on a real three-node RabbitMQ cluster started by the tests."""
