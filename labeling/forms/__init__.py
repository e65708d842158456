"""Forms of the labeling portal pages, one module per resource: they check the shape of the
input; the services judge it."""
