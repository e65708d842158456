"""Work: customers, projects, tasks, queues, annotations (see DESIGN.md, "The life of a task")."""
