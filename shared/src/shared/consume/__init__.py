"""The consumer's parts, one job each; `shared.consumer.Consumer` puts them together."""
