"""phonelab server side: formats, lab PKI, endpoints, the Cluster model and the CLI."""
