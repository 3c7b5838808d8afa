// Package jobs holds the two job policies that run vanlink's reconcile pass:
// postsync (after each Argo CD sync or helm install/upgrade) and cron (one
// pass per CronJob run, or passes on an in-process schedule).
package jobs
