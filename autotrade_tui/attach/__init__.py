"""`autotrade-tui attach`: the cockpit on an engine in another process (SPEC §13)."""
