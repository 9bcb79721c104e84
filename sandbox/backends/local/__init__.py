"""The `local` backend: a real kube-apiserver and etcd running as child processes on loopback.

Phase 1 holds only the plumbing: building/finding the binaries (`binaries`), generating the
certificates they need (`pki`) and running them without leaking processes (`processes`).
"""
