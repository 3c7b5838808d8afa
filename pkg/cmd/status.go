package cmd

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/vanlink/vanlink/pkg/report"
)

// Exit codes of `vanlink status`.
const (
	statusLinked    = 0
	statusError     = 1
	statusNotLinked = 2
)

type statusOptions struct {
	global *globalOptions
	pass   passOptions
	live   bool
	output string
}

func newStatusCommand(streams IOStreams, g *globalOptions) *cobra.Command {
	o := &statusOptions{global: g}
	c := &cobra.Command{
		Use:   "status",
		Short: "Show what the last pass recorded: each spoke's state, last push, last error, the grant's budget",
		Long: `status reads the status ConfigMap the last pass wrote on the hub: per spoke its
state, last push and last error, and the grant's redemptions left and expiry.
--live observes the spokes now instead (a dry-run pass).

Exit code: 0 when every spoke is linked, 2 when some are not, 1 on error.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return o.Run(cmd, streams) },
	}
	o.pass.AddFlags(c.Flags())
	c.Flags().BoolVar(&o.live, "live", false, "observe the spokes now (a dry-run pass) instead of reading the last record")
	c.Flags().VarP(newEnum(&o.output, "table", "table", "json"), "output", "o", "output format: table or json")
	return c
}

func (o *statusOptions) Run(cmd *cobra.Command, streams IOStreams) error {
	c, err := connect(o.global, &o.pass)
	if err != nil {
		return err
	}
	if o.live {
		res, err := o.pass.engine(c, o.global.logger(streams.ErrOut), true).Run(cmd.Context())
		if res != nil {
			if perr := printResult(streams.Out, o.output, res); perr != nil {
				return perr
			}
		}
		if err != nil {
			return &ExitError{Code: statusError, Err: err}
		}
		if !res.AllLinked() {
			return &ExitError{Code: statusNotLinked}
		}
		return nil
	}
	store := report.StatusStore{ConfigMaps: c.kube.CoreV1().ConfigMaps(o.pass.namespace), Name: o.pass.statusConfigMap}
	rec, err := store.Read(cmd.Context())
	if err != nil {
		return &ExitError{Code: statusError, Err: err}
	}
	if rec == nil {
		return &ExitError{Code: statusError, Err: fmt.Errorf("no status record: ConfigMap %s/%s does not exist yet (has a pass run? try --live)", o.pass.namespace, o.pass.statusConfigMap)}
	}
	if err := printRecord(streams.Out, o.output, rec); err != nil {
		return err
	}
	if !rec.Linked() {
		return &ExitError{Code: statusNotLinked}
	}
	return nil
}
