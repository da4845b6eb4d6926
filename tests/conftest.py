"""pytest's own: the shared helpers live in tests/helpers.py (fixtures, layout, FakeTarget)."""
