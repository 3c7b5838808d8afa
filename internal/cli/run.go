package cli

import (
	"context"
	"errors"

	"github.com/spf13/cobra"

	"github.com/vanlink/vanlink/jobs/cron"
	"github.com/vanlink/vanlink/pkg/lease"
	"github.com/vanlink/vanlink/pkg/reconcile"
)

type runOptions struct {
	global   *globalOptions
	pass     passOptions
	schedule string
	failOn   string
}

func newRunCommand(streams IOStreams, g *globalOptions) *cobra.Command {
	o := &runOptions{global: g}
	c := &cobra.Command{
		Use:   "run",
		Short: "Run passes on a cron schedule until stopped (SIGTERM or Ctrl-C)",
		Long: `run keeps running and starts a pass (as 'vanlink sync --policy cron') on the
given schedule, never two at once. SIGTERM or Ctrl-C stops it: a pass in flight
starts no new work, removes the hub objects that carry the grant code, releases
its lease and records what it did, within a few seconds; a second signal exits
at once. Each pass's result is logged; the status record holds the latest.`,
		Example: `  vanlink run --schedule "*/30 * * * *"
  vanlink run --schedule "@every 10m" --placement openshift-gitops/vanlink-spokes`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			defaultNamespace(cmd, o.global, &o.pass.namespace)
			return o.Run(cmd.Context(), streams)
		},
	}
	o.pass.AddFlags(c.Flags())
	c.Flags().StringVar(&o.schedule, "schedule", "*/30 * * * *", "cron schedule: five fields (minute hour day-of-month month day-of-week), or @hourly, @every 10m, ...")
	c.Flags().Var(newEnum(&o.failOn, "error", "error", "pending", "never"), "fail-on", "which passes are logged as failed: error, pending or never")
	return c
}

// Validate checks the flags of run but the pass's, which connect checks.
func (o *runOptions) Validate() error {
	if err := o.global.Validate(); err != nil {
		return err
	}
	_, err := cron.ParseSchedule(o.schedule)
	if se := (*cron.ScheduleError)(nil); errors.As(err, &se) {
		return flagError("--schedule", o.schedule, "%s", se.Reason())
	}
	return err
}

func (o *runOptions) Run(ctx context.Context, streams IOStreams) error {
	if err := o.Validate(); err != nil {
		return err
	}
	c, err := connect(o.global, o.pass.Validate)
	if err != nil {
		return err
	}
	log := o.global.logger(streams.ErrOut)
	// ctx ends on SIGTERM or SIGINT (see Main): a pass in flight stops.
	return cron.Schedule(ctx, o.schedule, log, func(ctx context.Context) {
		e := o.pass.engine(c, log, false)
		res, code, err := cron.RunOnce(ctx, e, reconcile.FailOn(o.failOn))
		switch {
		case lease.IsHeld(err):
			logPassError(log, "", err)
		case err != nil:
			log.Error("pass failed", "err", c.explain(err))
		case code != 0:
			log.Warn("pass finished with failures", "summary", counts(res.Counts()))
		default:
			log.Info("pass finished", "summary", counts(res.Counts()), "duration", res.Duration.String())
		}
	})
}
