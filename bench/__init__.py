"""The performance benchmark of a large study: ``python -m bench`` (``make bench``)."""
