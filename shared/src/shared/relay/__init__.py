"""The outbox relay's parts, one job each; `shared.outbox.OutboxRelay` puts them together."""
