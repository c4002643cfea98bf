"""`dsc review serve`: a local review workbench (see app.py)."""
