// Package jobs holds the two job policies that run vanlink's reconcile pass:
// postsync (after each Argo CD sync or helm install/upgrade) and cron (one
// pass per CronJob run, or passes on an in-process schedule). Both map a
// pass to an exit code with exitcode, the policy they share; neither imports
// the other. The jobs sit between the CLI (internal/cli), which calls them,
// and the libraries in pkg/, which they call.
package jobs
