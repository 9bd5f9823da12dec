"""Operating the hub: its metrics (Prometheus), its log lines (text or JSON), and its backup and restore."""
