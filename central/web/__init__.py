"""The web dashboard: fleet at a glance, a clinic's day, the daily notification, weekly counts."""
