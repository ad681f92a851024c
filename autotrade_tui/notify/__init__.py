"""Alerts out of the terminal through Apprise (SPEC §14): `service.attach(runtime)` in a
front end that runs the engine; `urls` (light) is what config.py uses to check the URLs.
Nothing heavy is imported here."""
