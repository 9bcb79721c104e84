"""The embedded simulator of the kube-apiserver envelope-encryption layer."""
