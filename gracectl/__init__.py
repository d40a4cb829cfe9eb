"""gracectl: bring a Grace deployment's infrastructure up for real, break it, check the claims."""

__version__ = "0.1.0"
