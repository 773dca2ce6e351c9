"""s3prl's door into the plugin: what the plugin changes in s3prl when s3prl imports (see ``s3prl_adapter``)."""
