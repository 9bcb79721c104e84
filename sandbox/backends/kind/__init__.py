"""The kind backend: a real kind cluster whose apiservers use the bundled KMS plugin.

Modules, bottom up: `images` (supported node images, kubeadm API per image), `render`
(templates in kind-config/ → kind config, kubeadm patch, EncryptionConfiguration, plugin pod),
`commands` (asyncio subprocesses), `prereqs` (docker/podman, kind), `wiring` (is the running
apiserver really configured?), `nodes` (docker exec: crictl, etcdctl, files), `plugins` and
`plugin_daemon` (host plugins), `lifecycle` (create/reuse/verify/delete), `tunnel` (control API
of in-node plugins), `backend` (`KindBackend`).
"""
