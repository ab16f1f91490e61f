"""The ``dbos`` command line: an edge that goes through the public API and the client only."""
