"""End-to-end tests: the station and the registry as separate processes on loopback ports."""
