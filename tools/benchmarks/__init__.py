"""One module per benchmark area; see tools/bench.py."""
