"""The cockpit's panes, one widget per file; each is a view over state its parent sets."""
