"""The demo's bundled sample (installed as `tracker_sample`): see README.md here."""
