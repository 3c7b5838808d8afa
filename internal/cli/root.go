// Package cli implements the vanlink command line: one binary with the
// subcommands sync, run, controller, status, token and version, each with its own flag
// set (grouped in passflags.go). cmd/vanlink's main only calls Main, which
// returns the exit code. Errors stay values until Run, which prints each one
// once; progress and logs go to stderr, data to stdout. The CLI sits on top
// of jobs/ (the job policies) and pkg/ (the libraries), and nothing below
// imports it.
package cli

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"
)

// ExitError carries a specific exit code out of a subcommand. Its message, if
// any, is printed once by Main.
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("exit code %d", e.Code)
	}
	return e.Err.Error()
}

func (e *ExitError) Unwrap() error { return e.Err }

// Main runs the command line and returns the process exit code. The first
// SIGTERM or SIGINT cancels the command's context (see notifySignals); a
// second one calls exit at once (the binary's main passes os.Exit: it is the
// only place that ends the process).
func Main(args []string, streams IOStreams, exit func(code int)) int {
	ctx, stop := notifySignals(context.Background(), streams.ErrOut, exit)
	defer stop()
	return Run(ctx, args, streams)
}

// Run runs the command line with ctx and returns the process exit code.
// Errors are printed here, once.
func Run(ctx context.Context, args []string, streams IOStreams) int {
	root := NewRootCommand(streams)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	if sig := stoppedBy(ctx); sig != nil {
		fmt.Fprintf(streams.ErrOut, "error: %s: %v\n", sig, err)
		return sig.ExitCode()
	}
	var exit *ExitError
	if errors.As(err, &exit) {
		if exit.Err != nil {
			fmt.Fprintln(streams.ErrOut, "error:", exit.Err)
		}
		return exit.Code
	}
	fmt.Fprintln(streams.ErrOut, "error:", err)
	return 1
}

// NewRootCommand builds the vanlink command tree.
func NewRootCommand(streams IOStreams) *cobra.Command {
	root := &cobra.Command{
		Use:   "vanlink",
		Short: "Link a Kubernetes fleet into one Skupper network from the hub",
		Long: `vanlink reads the hub's Skupper AccessGrant and makes every selected spoke
cluster hold a working link to the hub, by pushing an AccessToken to it in one
of three ways (--transport):

  acm           ACM's ManagedClusterAction / ManagedClusterView;
  manifestwork  an OCM ManifestWork per spoke, applied by its work agent
                (upstream Open Cluster Management, or ACM);
  direct        spoke credentials held in hub Secrets (Argo CD cluster
                Secrets or kubeconfig Secrets).

The grant code is a secret: vanlink never prints it, logs it or stores it, except
'vanlink token', which prints a token for manual use on request.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetIn(streams.In)
	root.SetOut(streams.Out)
	root.SetErr(streams.ErrOut)
	g := &globalOptions{}
	g.AddFlags(root.PersistentFlags())
	root.AddCommand(newSyncCommand(streams, g), newRunCommand(streams, g), newStatusCommand(streams, g),
		newTokenCommand(streams, g), newVersionCommand(streams))
	root.AddCommand(newControllerCommand(streams, g))
	// An unknown or malformed flag points at the command's help, as kubectl does.
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return fmt.Errorf("%w\nSee '%s --help' for the flags of this command", err, c.CommandPath())
	})
	registerCompletions(root, g)
	return root
}
