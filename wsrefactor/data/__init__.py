"""Data tables the rules read (catalogues kept out of rule code)."""
