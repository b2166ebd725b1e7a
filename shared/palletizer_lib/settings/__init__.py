"""What a registry and its servers are configured with: config.yaml, storage and listener settings,
trusted proxies, file permissions."""
