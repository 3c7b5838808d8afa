package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// shutdownGrace bounds what a command still does after the first signal (the
// pass's cleanup of code-carrying hub objects, the lease release, the status
// record). Past it the process exits at once, as on a second signal; the next
// pass removes what is left. It stays below Kubernetes' default
// terminationGracePeriodSeconds (30 s).
const shutdownGrace = 25 * time.Second

// SignalError is the cause of a command's context when SIGTERM or SIGINT
// stopped it.
type SignalError struct{ Signal os.Signal }

func (e *SignalError) Error() string { return fmt.Sprintf("stopped by %s", signalName(e.Signal)) }

// ExitCode follows the shell convention for a process ended by a signal.
func (e *SignalError) ExitCode() int {
	if s, ok := e.Signal.(syscall.Signal); ok {
		return 128 + int(s)
	}
	return 1
}

func signalName(s os.Signal) string {
	switch s {
	case syscall.SIGTERM:
		return "SIGTERM"
	case syscall.SIGINT:
		return "SIGINT"
	}
	return s.String()
}

// notifySignals returns a context cancelled, with a *SignalError cause, on the
// first SIGTERM or SIGINT: a pass then starts no new work, cleans up, releases
// its lease and records what it did. A second signal, or cleanup that outlasts
// shutdownGrace, calls exit at once. stop unregisters the handler.
func notifySignals(parent context.Context, errOut io.Writer, exit func(code int)) (ctx context.Context, stop func()) {
	ctx, cancel := context.WithCancelCause(parent)
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	done := make(chan struct{})
	go func() {
		var first *SignalError
		var grace <-chan time.Time
		for {
			select {
			case <-done:
				return
			case s := <-sigs:
				if first == nil {
					first = &SignalError{Signal: s}
					fmt.Fprintf(errOut, "%s received: stopping; the pass in flight removes the hub objects that carry the grant code, releases its lease and records what it did (a second signal exits at once)\n", signalName(s))
					cancel(first)
					grace = time.After(shutdownGrace)
					continue
				}
				fmt.Fprintf(errOut, "%s received again: exiting at once; the next pass removes what this one left on the hub\n", signalName(s))
				exit(first.ExitCode())
				return
			case <-grace:
				fmt.Fprintf(errOut, "cleanup did not finish within %s of %s: exiting; the next pass removes what this one left on the hub\n", shutdownGrace, signalName(first.Signal))
				exit(first.ExitCode())
				return
			}
		}
	}()
	return ctx, func() {
		signal.Stop(sigs)
		close(done)
		cancel(nil)
	}
}

// stoppedBy returns the signal that stopped ctx, if any.
func stoppedBy(ctx context.Context) *SignalError {
	var s *SignalError
	if errors.As(context.Cause(ctx), &s) {
		return s
	}
	return nil
}
