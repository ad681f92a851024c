"""The domain: pure, synchronous, no I/O. Imports nothing from market/ai/store/runtime/tui."""
