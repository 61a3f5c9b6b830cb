"""distsync development harness: simulator, `distsync up`, embedded database, test servers."""
