"""couchctl: administer Apache CouchDB 3.x from the command line."""

__version__ = "0.1.0"
