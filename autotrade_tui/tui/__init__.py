"""The Textual cockpit (SPEC §11): `run_tui(settings)` in `app.py`; nothing heavy imported here."""
