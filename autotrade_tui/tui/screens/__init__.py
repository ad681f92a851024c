"""Screens of the cockpit: the main layout, the confirmation dialog and the help screen."""
