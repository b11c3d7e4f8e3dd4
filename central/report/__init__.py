"""The district's reading of the stored events: the daily notification and the weekly counts."""
