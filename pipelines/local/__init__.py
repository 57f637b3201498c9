"""Local services for development and tests: a single-node Kafka broker (KRaft) and the
supervisor of the streaming stack's processes (``pulse up`` / ``pulse down``). Production
deployments use a Kafka cluster and Kubernetes instead (docs/deploy.md)."""
