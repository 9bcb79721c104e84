"""The bundled KMS plugin (gRPC server over a Unix socket), its control API and Python clients."""
