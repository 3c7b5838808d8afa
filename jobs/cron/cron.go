// Package cron is the policy of periodic re-reconciliation: one pass per
// Kubernetes CronJob run (RunOnce), or passes on an in-process schedule for
// `vanlink run` (Schedule). A failing CronJob run turns the Argo CD app
// Degraded, so runs fail only for real errors, as the PostSync hook does.
package cron

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	robfig "github.com/robfig/cron/v3"

	"github.com/vanlink/vanlink/jobs/exitcode"
	"github.com/vanlink/vanlink/pkg/reconcile"
)

// RunOnce runs one pass with no wait for the grant (the next run retries)
// and returns its result and exit code.
func RunOnce(ctx context.Context, e *reconcile.Engine, failOn reconcile.FailOn) (*reconcile.Result, int, error) {
	if failOn == "" {
		failOn = reconcile.FailOnError
	}
	res, err := e.Run(ctx)
	return res, exitcode.For(failOn, res, err), err
}

// ParseSchedule validates a five-field cron expression (or @hourly, @every 10m, ...).
func ParseSchedule(spec string) (robfig.Schedule, error) {
	s, err := robfig.ParseStandard(spec)
	if err != nil {
		return nil, &ScheduleError{Spec: spec, Err: err}
	}
	return s, nil
}

// ScheduleError is a cron expression that does not parse.
type ScheduleError struct {
	Spec string
	Err  error
}

func (e *ScheduleError) Error() string { return fmt.Sprintf("schedule %q: %s", e.Spec, e.Reason()) }
func (e *ScheduleError) Unwrap() error { return e.Err }

// Reason is what is wrong with the expression, without the expression.
func (e *ScheduleError) Reason() string {
	return e.Err.Error() + " (want five fields: minute hour day-of-month month day-of-week, or @hourly, @every 10m, ...)"
}

// Schedule runs pass on the schedule until ctx ends (e.g. SIGTERM), never two
// at once. A pass in flight gets ctx, so it stops with it (starting no new
// work, cleaning up and recording what it did); Schedule returns once it has.
func Schedule(ctx context.Context, spec string, log *slog.Logger, pass func(ctx context.Context)) error {
	sched, err := ParseSchedule(spec)
	if err != nil {
		return err
	}
	c := robfig.New(robfig.WithChain(robfig.SkipIfStillRunning(robfig.DiscardLogger)))
	var running sync.WaitGroup
	c.Schedule(sched, robfig.FuncJob(func() {
		running.Add(1)
		defer running.Done()
		if ctx.Err() != nil {
			return
		}
		pass(ctx)
	}))
	log.Info("running passes on a schedule", "schedule", spec, "next", sched.Next(time.Now()).Format(time.RFC3339))
	c.Start()
	<-ctx.Done()
	log.Info("stopping: a running pass stops early and records what it did")
	<-c.Stop().Done()
	running.Wait()
	return nil
}
