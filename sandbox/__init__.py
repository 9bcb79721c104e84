"""kms-sandbox: learn, teach and debug Kubernetes KMS v2 encryption at rest."""

__version__ = "0.1.0"
