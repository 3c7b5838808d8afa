// Package layering holds the test that keeps vanlink's layers pointing down
// (run by the unit tier, make test-unit):
//
//	cmd/        the binary's thin main
//	internal/   the CLI (internal/cli) and the repository's own tooling
//	            (internal/charts: Helm SDK render/lint/apply; internal/ociimage)
//	jobs/       the job policies (postsync, cron) and the exit code they share
//	pkg/        the libraries another program could import
//
// A package imports only packages of its own layer or of a lower one. pkg/
// imports none of internal/, jobs/, cmd/ or e2e/, not even in its unit tests
// (go list -test -deps ./pkg/... names no e2e/ package); jobs/ imports
// neither internal/ nor cmd/, and its two policies do not import each other.
// e2e/ and hack/ sit on top and may import anything. Tests above pkg/, and
// tests behind a build tag (integration on the local API servers), may use
// e2e/'s test bed. The check runs go list twice: without tags, and with
// every tag. A second test keeps every non-test Go file under pkg/ and
// internal/ at 300 lines or fewer: a longer file is split by job. A third
// keeps the grant code's Reveal calls (outside tests) in pkg/skupper, the
// transports under pkg/transport/ and internal/cli/token.go.
package layering
