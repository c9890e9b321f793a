"""Multi-region: the topology file, MirrorMaker 2 flows between clusters, replication lag, and the
failover / failback runbooks. The data-sovereignty rule (PHI only into allowed jurisdictions) is
checked before anything starts and kept by every generated MirrorMaker configuration."""
