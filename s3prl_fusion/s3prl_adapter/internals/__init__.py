"""The plugin's door out to s3prl's internals: its hub, task facts, patch targets (see ``s3prl_adapter``).
Imports no room of the plugin but ``errors``."""
