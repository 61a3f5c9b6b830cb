"""distsync operator tools: DLQ operations and admin API, trace, contract generators."""
