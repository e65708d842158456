"""quality's portal pages (namespace "quality"): the rules, their actions and the appeals, and
each project's Quality page (`reports`). The paths are those the pages had when they were
labeling's (people keep bookmarks)."""
