"""One module per infrastructure kind, each behind the `Component` interface in `base`."""
