"""Performance measures of people, teams, projects and customers: their definitions (once, pure),
the hourly rollups they are read from, how the rollups are kept, and the scoped reads of them.

See docs/measures.md for every measure's formula, unit and direction.
"""
