"""Lookups, selections, totals: pure functions over lists of Regions."""
