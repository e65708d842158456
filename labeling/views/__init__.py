"""Portal pages of the labeling engine for customers and labeling staff (managers, admins), one
module per resource: projects, imports, exports, tasks. What they share (the access guard, the
project lookup) is `labeling.portal`; the project's quality page is quality's.
"""
