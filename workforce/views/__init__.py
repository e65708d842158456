"""workforce's portal pages: one module per topic, each with its own `urlpatterns`."""
