"""The gateway: the platform's HTTP surface (SCIM provisioning, a read API, health and metrics)."""
