//go:build tools

// Package tools records the Open Cluster Management work agent command as a
// dependency so that `go build open-cluster-management.io/ocm/cmd/work`
// resolves from this module.
package tools

import _ "open-cluster-management.io/ocm/cmd/work"
