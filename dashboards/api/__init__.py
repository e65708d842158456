"""The dashboards API (wired into config/urls.py's api_v1 list): read-only figures."""
