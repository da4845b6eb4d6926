"""Turning results into text: sizes, tables, colours, JSON. Pure: returns strings."""
