"""ccserver: an open-source contact-center server beside Asterisk."""

__version__ = "0.1.0"
