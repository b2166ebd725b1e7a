"""The administrator's tools: the command line, import, export and migration."""
