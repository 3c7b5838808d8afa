package cli

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/spf13/cobra"

	"github.com/vanlink/vanlink/jobs/cron"
	"github.com/vanlink/vanlink/jobs/postsync"
	"github.com/vanlink/vanlink/pkg/lease"
	"github.com/vanlink/vanlink/pkg/reconcile"
)

type syncOptions struct {
	global       *globalOptions
	pass         passOptions
	policy       string
	failOn       string
	grantTimeout time.Duration
	dryRun       bool
	output       string
}

func newSyncCommand(streams IOStreams, g *globalOptions) *cobra.Command {
	c, _ := syncCommand(streams, g)
	return c
}

func syncCommand(streams IOStreams, g *globalOptions) (*cobra.Command, *syncOptions) {
	o := &syncOptions{global: g}
	c := &cobra.Command{
		Use:   "sync",
		Short: "Run one pass: push AccessTokens to the spokes that need one",
		Long: `sync runs one reconcile pass on the hub:

  1. read the AccessGrant and refuse it unless it is Ready with an https url,
     a code and a CA of PEM certificates;
  2. choose the spokes (ManagedClusters by label selector, or a Placement),
     skipping the hub itself and clusters not joined and available;
  3. observe each spoke's Site, Link and, when needed, AccessToken;
  4. plan per spoke: in-sync, pending, push, prune; check the grant's
     redemptions and expiry (rotating it with --rotate-grant);
  5. push and prune with bounded concurrency and a deadline per spoke;
  6. print one line per spoke and a summary, record Events on the grant and
     a status ConfigMap that 'vanlink status' reads.

When the grant can redeem a token for every selected spoke, steps 3 to 5 run
per spoke: each is pushed as soon as it is observed, while the next ones are
still being read. Otherwise the whole fleet is observed and planned first, so
the budget decides which spokes are served.

No token is pushed while the hub Site in the grant's namespace cannot issue
links (not Ready, or no link endpoints): the grant server would count each
redemption and then refuse it. Each spoke is then reported pending with the
reason.

--policy postsync (the Argo CD PostSync hook) first waits up to
--grant-timeout for the grant and for the hub Site to be able to issue links
(if the Site still cannot, the pass records every spoke pending and the hook
fails). A hub API server that cannot be reached or does not answer 3 reads in
a row ends the wait at once with an error naming it: only the API's answers
that the grant or Site is not there or not ready yet are waited out.
--policy cron runs at once. The exit code is 0 unless --fail-on says
otherwise: error (default; failed or blocked spokes and pass errors), pending
(also spokes not linked yet), never.

SIGTERM or Ctrl-C stops the pass: it starts no new work, deletes the hub
objects that carried the grant code, releases its lease, records what it did
and exits (128 + the signal number) within a few seconds; a second signal
exits at once. Every request to the hub API server is bounded by
--request-timeout.

The grant code is never printed or logged.`,
		Example: `  # what would a pass do?
  vanlink sync --dry-run

  # the PostSync hook of the hub chart
  vanlink sync --policy postsync --grant-timeout 5m --placement openshift-gitops/vanlink-spokes`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return o.Run(cmd, streams) },
	}
	o.pass.AddFlags(c.Flags())
	c.Flags().Var(newEnum(&o.policy, "cron", "postsync", "cron"), "policy", "job policy: postsync (wait for the grant first) or cron (one pass now)")
	c.Flags().Var(newEnum(&o.failOn, "error", "error", "pending", "never"), "fail-on", "when the exit code is non-zero: error, pending or never")
	c.Flags().DurationVar(&o.grantTimeout, "grant-timeout", 5*time.Minute, "with --policy postsync: how long to wait for a usable grant and a hub Site that can issue links")
	c.Flags().BoolVar(&o.dryRun, "dry-run", false, "observe and print the plan; write nothing: no push, removal, record, and (ACM) no view or action on the hub, so spokes without views are unknown")
	c.Flags().VarP(newEnum(&o.output, "table", outputFormats...), "output", "o", "output format: table, wide (more columns), json or yaml")
	return c, o
}

// Validate checks every flag before anything connects to the hub.
func (o *syncOptions) Validate() error {
	if err := o.global.Validate(); err != nil {
		return err
	}
	if err := o.pass.Validate(); err != nil {
		return err
	}
	if o.grantTimeout <= 0 {
		return flagError("--grant-timeout", o.grantTimeout, "must be positive")
	}
	return nil
}

func (o *syncOptions) Run(cmd *cobra.Command, streams IOStreams) error {
	defaultNamespace(cmd, o.global, &o.pass.namespace)
	if err := o.Validate(); err != nil {
		return err
	}
	c, err := connect(o.global, o.pass.Validate)
	if err != nil {
		return err
	}
	log := o.global.logger(streams.ErrOut)
	engine := o.pass.engine(c, log, o.dryRun)
	engine.Opts.ErrorsPrinted = true // printResult below prints each spoke's error
	ctx := cmd.Context()
	var (
		res  *reconcile.Result
		code int
	)
	if o.policy == "postsync" {
		res, code, err = postsync.Run(ctx, engine, postsync.Options{GrantTimeout: o.grantTimeout, FailOn: reconcile.FailOn(o.failOn), Log: log, Server: c.server})
	} else {
		res, code, err = cron.RunOnce(ctx, engine, reconcile.FailOn(o.failOn))
	}
	if res != nil && !(startedNothing(res) && err != nil && (o.output == "table" || o.output == "wide")) {
		if perr := printResult(streams.Out, o.output, res); perr != nil {
			return perr
		}
	}
	if sig := stoppedBy(ctx); sig != nil {
		// What the pass did is recorded, and the objects that carried the
		// code are removed (the engine's cleanup runs on cancellation).
		return &ExitError{Code: sig.ExitCode(), Err: errors.New("the pass stopped early; what it did is recorded and printed above")}
	}
	switch {
	case code != 0 && err != nil:
		return &ExitError{Code: code, Err: fmt.Errorf("the pass failed: %w", c.explain(err))}
	case code != 0:
		return &ExitError{Code: code, Err: fmt.Errorf("the pass failed by --fail-on=%s (see the lines above)", o.failOn)}
	case err != nil:
		logPassError(log, "the pass did nothing", c.explain(err))
	}
	return nil
}

// logPassError logs the error of a pass that exits 0 anyway, once. Another
// pass holding the lease is no trouble: that pass does the work, so it is
// logged at Info; anything else (--fail-on never) at Warn.
func logPassError(log *slog.Logger, msg string, err error) {
	var held *lease.HeldError
	if errors.As(err, &held) {
		log.Info("another pass holds the lease; this one did nothing", "lease", held.Namespace+"/"+held.Name, "holder", held.Holder, "waited", held.Waited.String())
		return
	}
	log.Warn(msg, "err", err)
}
