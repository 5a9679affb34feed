"""What crosses the wire between a station and the provincial registry."""
