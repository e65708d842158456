"""Pure functions every app may import: no Django, no database, plain data in and out."""
