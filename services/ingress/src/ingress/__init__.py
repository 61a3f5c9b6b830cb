"""distsync ingress: CloudEvents over HTTP, flat files and EDI for systems without AMQP."""
