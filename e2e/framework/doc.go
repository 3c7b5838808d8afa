// Package framework is vanlink's test bed: real Kubernetes API servers on the
// local machine, without Docker.
//
// One etcd serves a hub and any number of named spokes, each a separate
// kube-apiserver with its own --etcd-prefix, token authentication and RBAC
// authorization, listening only on 127.0.0.1. Before Start returns, every CRD
// the project touches is installed and Established on each cluster: the Skupper
// and ACM CRDs written by the project (testdata/crds), and the OCM CRDs read
// from the open-cluster-management.io/api module in the Go module cache.
//
// The binaries come from `make tools` (bin/ at the repository root) or from the
// folder named by VANLINK_TEST_BIN_DIR or KUBEBUILDER_ASSETS.
//
//	env := framework.StartT(t, framework.Options{Spokes: []string{"east", "west"}})
//	hub := env.Hub.Config     // *rest.Config with an admin token
//	east := env.Cluster("east")
//
// Everything is stopped when the test ends, also when it fails or panics, and
// the API server logs are printed for failed tests.
package framework
