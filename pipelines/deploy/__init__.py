"""Deploy artefacts: offline checks of the Kubernetes manifests, container build files,
alert rules and dashboard in ``infra/`` (``python -m pipelines.deploy.check infra/k8s``)."""
